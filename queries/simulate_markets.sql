-- name: simulate_markets
-- public: no
-- description: Every bilateral flow row of the selected products in the selected loads
--   of one year, coded as one int64 key = hs × 2^32 + importer_id × 2^16 + exporter_id
--   (ids are SMALLINT ≥ 1), for the scenario engine's world markets (issue 15). No
--   GROUP BY, no ORDER BY and no strings: the engine sorts the key in memory and sums a
--   key that several loads hold (a GROUP BY over 10 M rows cost 2 s, this scan 0.25 s);
--   labels come from hs_labels.sql and the store's country ids. quantity_t is 0 where no
--   tonnes are reported. Self-trade is not supply. Rows come through the store's one
--   row filter, selected_flows (see friendshore.store.layout).
-- inputs: flows
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   all_hs BOOLEAN, hs VARCHAR[]
-- grain: key, load (a key repeats when several loads hold it)
-- returns: key BIGINT, value_usd DOUBLE, quantity_t DOUBLE
SELECT
    (CAST(f.hs AS BIGINT) << 32) | (CAST(f.importer_id AS BIGINT) << 16)
        | CAST(f.exporter_id AS BIGINT) AS key,
    f.value_usd,
    CASE WHEN f.quantity_t > 0 THEN f.quantity_t ELSE 0.0 END AS quantity_t
FROM selected_flows($all_loads, $keys, $year_min, $year_max, $all_hs, $hs) AS f
WHERE f.exporter_id <> f.importer_id
