-- name: exposure_exports
-- description: Exports per (year, exporter, product), for the GeoDep imports/exports
--   ratio: one exporter's (exporter), or every exporter's (NULL). With a bloc: its
--   members' exports (as of each year) summed, exports to members excluded unless
--   include_intra.
-- inputs: trade_flows, _exposure_members
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   exporter VARCHAR, bloc VARCHAR, include_intra BOOLEAN, all_hs BOOLEAN,
--   hs VARCHAR[]
-- grain: year, exporter, hs6
-- returns: year SMALLINT, exporter VARCHAR, hs6 VARCHAR, exports_usd DOUBLE
SELECT
    f.year,
    CASE WHEN $bloc IS NULL THEN f.exporter ELSE $bloc END AS exporter,
    f.hs6,
    sum(f.value_usd) AS exports_usd
FROM trade_flows AS f
LEFT JOIN _exposure_members AS me
    ON me.year = f.year AND me.iso3 = f.exporter
LEFT JOIN _exposure_members AS mi
    ON mi.year = f.year AND mi.iso3 = f.importer
WHERE f.year BETWEEN $year_min AND $year_max
    AND ($all_loads OR list_contains($keys, f.year::BIGINT * 1000000 + f.load_id))
    AND f.value_usd > 0
    AND ($exporter IS NULL OR f.exporter = $exporter)
    AND ($bloc IS NULL OR (me.iso3 IS NOT NULL AND ($include_intra OR mi.iso3 IS NULL)))
    AND CASE WHEN $all_hs THEN length(f.hs6) = 6 ELSE list_contains($hs, f.hs6) END
GROUP BY ALL
