-- name: simulate_markets
-- public: no
-- description: Every bilateral flow row of the selected products in the selected loads of
--   one year, coded (hs key and country ids in one int64), for the scenario engine's world markets
--   (issue 15). No GROUP BY and no ORDER BY: the store keeps each load's rows sorted by
--   year, hs, importer_id, exporter_id, and the engine checks that order (one pass) and
--   sums the keys that several loads share itself — a hash aggregate over 10 M rows cost
--   2 s, the plain scan 0.25 s. Labels: hs_labels.sql and the store's country ids.
--   Self-trade is not supply. Rows come through the store's one row filter,
--   selected_flows (see friendshore.store.layout).
-- inputs: flows
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   all_hs BOOLEAN, hs VARCHAR[]
-- grain: key, load (a key repeats when several loads hold it)
-- returns: key BIGINT, value_usd DOUBLE, quantity_t DOUBLE
-- key = hs × 2^32 + importer_id × 2^16 + exporter_id (ids are SMALLINT ≥ 1), one
--   int64 the engine sorts by; quantity_t is 0 where no tonnes are reported.
SELECT
    (CAST(f.hs AS BIGINT) << 32) | (CAST(f.importer_id AS BIGINT) << 16)
        | CAST(f.exporter_id AS BIGINT) AS key,
    f.value_usd,
    CASE WHEN f.quantity_t > 0 THEN f.quantity_t ELSE 0.0 END AS quantity_t
FROM selected_flows($all_loads, $keys, $year_min, $year_max, $all_hs, $hs) AS f
WHERE f.exporter_id <> f.importer_id
