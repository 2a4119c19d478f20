-- name: exposure_bloc
-- public: no
-- description: The sums of exposure_product for a bloc: its members' imports (as of
--   each year) summed per supplier first, so a supplier selling to several members
--   counts once; flows from members excluded unless include_intra. Residual areas
--   (tier_code 9) count in v only, as in exposure_product. Reads the coded flows
--   table (see friendshore.store). Rows come ordered by year, hs6 (as text sorts).
--   Rows come through the store's one row filter, selected_flows (see
--   friendshore.store.layout).
-- inputs: flows, country_ids, _exposure_tiers, _exposure_members
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   bloc VARCHAR, include_intra BOOLEAN, all_hs BOOLEAN, hs VARCHAR[]
-- grain: year, hs6
-- returns: year SMALLINT, importer VARCHAR, hs6 VARCHAR, v DOUBLE, v2 DOUBLE,
--   n BIGINT, top_supplier VARCHAR, top_v DOUBLE, concern_v DOUBLE, ally_v DOUBLE,
--   partner_v DOUBLE, residual_v DOUBLE
WITH members AS (
    SELECT m.year, c.id
    FROM _exposure_members AS m
    JOIN country_ids AS c ON c.iso3 = m.iso3
),
by_supplier AS (
    SELECT
        f.year,
        f.hs,
        f.exporter_id,
        sum(f.value_usd) AS v
    FROM selected_flows($all_loads, $keys, $year_min, $year_max, $all_hs, $hs) AS f
    SEMI JOIN members AS m
        ON m.year = f.year AND m.id = f.importer_id
    LEFT JOIN members AS x
        ON x.year = f.year AND x.id = f.exporter_id
    WHERE ($include_intra OR x.id IS NULL)  -- intra-bloc flows
    GROUP BY f.year, f.hs, f.exporter_id
)
SELECT
    s.year,
    $bloc AS importer,
    hs_text(s.hs) AS hs6,
    sum(s.v) AS v,
    sum(if(t.tier_code = 9, 0.0, s.v * s.v)) AS v2,
    count(*) FILTER (WHERE t.tier_code IS DISTINCT FROM 9) AS n,
    arg_max(c.iso3, s.v) FILTER (WHERE t.tier_code IS DISTINCT FROM 9) AS top_supplier,
    max(s.v) FILTER (WHERE t.tier_code IS DISTINCT FROM 9) AS top_v,
    sum(if(t.tier_code = 1, s.v, 0.0)) AS concern_v,
    sum(if(t.tier_code = 2, s.v, 0.0)) AS ally_v,
    sum(if(t.tier_code = 3, s.v, 0.0)) AS partner_v,
    sum(if(t.tier_code = 9, s.v, 0.0)) AS residual_v
FROM by_supplier AS s
JOIN country_ids AS c ON c.id = s.exporter_id
LEFT JOIN _exposure_tiers AS t
    ON t.year = s.year AND t.iso3 = c.iso3
GROUP BY s.year, s.hs
ORDER BY s.year, hs_order(s.hs), s.hs
