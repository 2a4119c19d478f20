-- name: exposure_suppliers
-- public: no
-- description: Import value per (year, importer, product, supplier) for a list of
--   products: the supplier shares the look-through exposure weights by. Reads the
--   coded flows table (see friendshore.store).
--   Rows come through the store's one row filter, selected_flows (see
--   friendshore.store.layout).
-- inputs: flows, country_ids
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   hs VARCHAR[]
-- grain: year, importer, hs6, exporter
-- returns: year SMALLINT, importer VARCHAR, hs6 VARCHAR, exporter VARCHAR,
--   value_usd DOUBLE
WITH sums AS (
    SELECT
        f.year,
        f.importer_id,
        f.hs,
        f.exporter_id,
        sum(f.value_usd) AS value_usd
    FROM selected_flows($all_loads, $keys, $year_min, $year_max, false, $hs) AS f
    GROUP BY f.year, f.importer_id, f.hs, f.exporter_id
)
SELECT
    s.year,
    i.iso3 AS importer,
    hs_text(s.hs) AS hs6,
    e.iso3 AS exporter,
    s.value_usd
FROM sums AS s
JOIN country_ids AS i ON i.id = s.importer_id
JOIN country_ids AS e ON e.id = s.exporter_id
