-- name: exposure_suppliers
-- description: Import value per (year, importer, product, supplier) for a list of
--   products: the supplier shares the look-through exposure weights by.
-- inputs: trade_flows
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   hs VARCHAR[]
-- grain: year, importer, hs6, exporter
-- returns: year SMALLINT, importer VARCHAR, hs6 VARCHAR, exporter VARCHAR,
--   value_usd DOUBLE
SELECT
    f.year,
    f.importer,
    f.hs6,
    f.exporter,
    sum(f.value_usd) AS value_usd
FROM trade_flows AS f
WHERE f.year BETWEEN $year_min AND $year_max
    AND ($all_loads OR list_contains($keys, f.year::BIGINT * 1000000 + f.load_id))
    AND f.value_usd > 0
    AND list_contains($hs, f.hs6)
GROUP BY f.year, f.importer, f.hs6, f.exporter
