-- name: world_concentration
-- public: no
-- description: World supply concentration per (year, product): every exporter's
--   share of world exports (all destinations summed), HHI, the leading exporter and
--   the concern group's share. Residual and unspecified areas (tier 9: XRW, X +
--   code) count in world exports and nowhere else: not in v2, the exporter count or
--   the top exporter; residual_v is their value. Reads the coded flows table (see
--   friendshore.store); the tier of exporter id e in year y is
--   tier_codes[(y - year_min) * n_ids + e] (1 concern, 9 residual, as in
--   exposure_product).
--   Rows come through the store's one row filter, selected_flows (see
--   friendshore.store.layout).
-- inputs: flows, country_ids
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   all_hs BOOLEAN, hs VARCHAR[], tier_codes TINYINT[], n_ids INTEGER
-- grain: year, hs6
-- returns: year SMALLINT, hs6 VARCHAR, world_exports_usd DOUBLE, v2 DOUBLE,
--   n_exporters BIGINT, top_exporter VARCHAR, top_v DOUBLE, concern_v DOUBLE,
--   residual_v DOUBLE
WITH by_exporter AS (
    SELECT
        f.year,
        f.hs,
        f.exporter_id,
        sum(f.value_usd) AS v
    FROM selected_flows($all_loads, $keys, $year_min, $year_max, $all_hs, $hs) AS f
        GROUP BY f.year, f.hs, f.exporter_id
),
by_product AS (
    SELECT
        e.year,
        e.hs,
        sum(e.v) AS world_exports_usd,
        sum(if(e.t = 9, 0.0, e.v * e.v)) AS v2,
        count(*) FILTER (WHERE e.t <> 9) AS n_exporters,
        arg_max(e.exporter_id, e.v) FILTER (WHERE e.t <> 9) AS top_id,
        max(e.v) FILTER (WHERE e.t <> 9) AS top_v,
        sum(if(e.t = 1, e.v, 0.0)) AS concern_v,
        sum(if(e.t = 9, e.v, 0.0)) AS residual_v
    FROM (
        SELECT *, $tier_codes[(year - $year_min) * $n_ids + exporter_id] AS t
        FROM by_exporter
    ) AS e
    GROUP BY e.year, e.hs
)
SELECT
    p.year,
    hs_text(p.hs) AS hs6,
    p.world_exports_usd, p.v2, p.n_exporters,
    c.iso3 AS top_exporter,
    p.top_v, p.concern_v, p.residual_v
FROM by_product AS p
LEFT JOIN country_ids AS c ON c.id = p.top_id
