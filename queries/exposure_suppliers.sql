-- name: exposure_suppliers
-- public: no
-- description: Import value per (year, importer, product, supplier) for a list of
--   products: the supplier shares the look-through exposure weights by. Reads the
--   coded flows table (see friendshore.store).
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
    FROM flows AS f
    WHERE f.year BETWEEN $year_min AND $year_max
        AND ($all_loads OR list_contains($keys, f.year::BIGINT * 1000000 + f.load_id))
        AND f.value_usd > 0
        AND f.hs IN (SELECT hs_code(unnest($hs)))
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
