-- name: coalition_markets
-- description: Every bilateral flow of the selected loads and products, summed per
--   (product, exporter, importer): the world markets the coalition scenarios clear
--   (every exporter and importer of the product, residual areas included, so that
--   capacity is shared by all buyers). Read once per command; many coalitions are
--   solved against it. Reads the coded flows table (see friendshore.store).
-- inputs: flows, country_ids
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   hs VARCHAR[]
-- grain: hs6, exporter, importer
-- returns: hs6 VARCHAR, exporter VARCHAR, importer VARCHAR, value_usd DOUBLE
WITH sums AS (
    SELECT
        f.hs,
        f.exporter_id,
        f.importer_id,
        sum(f.value_usd) AS value_usd
    FROM flows AS f
    WHERE f.year BETWEEN $year_min AND $year_max
        AND ($all_loads OR list_contains($keys, f.year::BIGINT * 1000000 + f.load_id))
        AND f.value_usd > 0
        AND f.exporter_id <> f.importer_id
        AND f.hs IN (SELECT hs_code(unnest($hs)))
    GROUP BY f.hs, f.exporter_id, f.importer_id
)
SELECT
    hs_text(s.hs) AS hs6,
    e.iso3 AS exporter,
    i.iso3 AS importer,
    s.value_usd
FROM sums AS s
JOIN country_ids AS e ON e.id = s.exporter_id
JOIN country_ids AS i ON i.id = s.importer_id
ORDER BY hs6, exporter, importer
