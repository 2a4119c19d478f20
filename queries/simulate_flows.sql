-- name: simulate_flows
-- public: no
-- description: Every bilateral flow of the selected products in the selected loads of one
--   year: the world markets the scenario engine clears (issue 15). One row per product,
--   exporter and importer (loads summed), with the value and tonnes of the rows that
--   report a quantity, so unit values never mix rows with and without one. Self-trade is
--   not supply. Reads the coded flows table (see friendshore.store).
--   Rows come through the store's one row filter, selected_flows (see
--   friendshore.store.layout).
-- inputs: flows, country_ids
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   all_hs BOOLEAN, hs VARCHAR[]
-- grain: hs6, exporter, importer
-- returns: hs6 VARCHAR, exporter VARCHAR, importer VARCHAR, value_usd DOUBLE,
--   value_q_usd DOUBLE, quantity_t DOUBLE
WITH sums AS (
    SELECT
        f.hs,
        f.exporter_id,
        f.importer_id,
        sum(f.value_usd) AS value_usd,
        sum(f.value_usd) FILTER (WHERE f.quantity_t > 0) AS value_q_usd,
        sum(f.quantity_t) FILTER (WHERE f.quantity_t > 0) AS quantity_t
    FROM selected_flows($all_loads, $keys, $year_min, $year_max, $all_hs, $hs) AS f
    WHERE f.exporter_id <> f.importer_id
    GROUP BY f.hs, f.exporter_id, f.importer_id
)
SELECT
    hs_text(s.hs) AS hs6,
    e.iso3 AS exporter,
    i.iso3 AS importer,
    s.value_usd,
    s.value_q_usd,
    s.quantity_t
FROM sums AS s
JOIN country_ids AS e ON e.id = s.exporter_id
JOIN country_ids AS i ON i.id = s.importer_id
