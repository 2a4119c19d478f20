-- name: world_concentration
-- description: World supply concentration per (year, product): every exporter's
--   share of world exports (all destinations summed), HHI, the leading exporter and
--   the concern group's share. Unspecified areas (X-codes) count as exporters.
-- inputs: trade_flows, _exposure_tiers
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   all_hs BOOLEAN, hs VARCHAR[]
-- grain: year, hs6
-- returns: year SMALLINT, hs6 VARCHAR, world_exports_usd DOUBLE, v2 DOUBLE,
--   n_exporters BIGINT, top_exporter VARCHAR, top_v DOUBLE, concern_v DOUBLE
WITH by_exporter AS (
    SELECT
        f.year,
        f.hs6,
        f.exporter,
        sum(f.value_usd) AS v
    FROM trade_flows AS f
    WHERE f.year BETWEEN $year_min AND $year_max
        AND ($all_loads OR list_contains($keys, f.year::BIGINT * 1000000 + f.load_id))
        AND f.value_usd > 0
        AND CASE WHEN $all_hs THEN length(f.hs6) = 6 ELSE list_contains($hs, f.hs6) END
    GROUP BY f.year, f.hs6, f.exporter
)
SELECT
    e.year,
    e.hs6,
    sum(e.v) AS world_exports_usd,
    sum(e.v * e.v) AS v2,
    count(*) AS n_exporters,
    arg_max(e.exporter, e.v) AS top_exporter,
    max(e.v) AS top_v,
    sum(if(t.tier_code = 1, e.v, 0.0)) AS concern_v
FROM by_exporter AS e
LEFT JOIN _exposure_tiers AS t
    ON t.year = e.year AND t.iso3 = e.exporter
GROUP BY e.year, e.hs6
