-- name: simulate_bloc_baseline
-- description: simulate_baseline for a bloc importer: its members' imports summed under the
--   bloc's name, intra-bloc trade excluded (DESIGN.md). Supplier values are summed over the
--   members first, so Σv² and the tonnes are those of each supplier's total.
-- inputs: trade_flows, _simulate_roles, _simulate_world
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   members VARCHAR[], bloc VARCHAR, all_hs BOOLEAN, hs VARCHAR[]
-- grain: year, importer, hs6
-- returns: year SMALLINT, importer VARCHAR, hs6 VARCHAR, v DOUBLE, v2 DOUBLE,
--   concern_v DOUBLE, concern_v2 DOUBLE, concern_vq DOUBLE, concern_q DOUBLE,
--   ally_v DOUBLE, vw DOUBLE, override_vw STRUCT(cls VARCHAR, vw DOUBLE)[]
WITH supplier AS (
    SELECT
        f.year,
        f.hs6,
        f.exporter,
        sum(f.value_usd) AS v,
        -- a partial sum would understate the tonnes behind the value: NULL unless complete
        CASE WHEN count(f.quantity_t) = count(*) THEN sum(f.quantity_t) END AS q
    FROM trade_flows AS f
    WHERE f.year BETWEEN $year_min AND $year_max
        AND ($all_loads OR list_contains($keys, f.year::BIGINT * 1000000 + f.load_id))
        AND f.value_usd > 0
        AND list_contains($members, f.importer)
        AND NOT list_contains($members, f.exporter)
        AND CASE WHEN $all_hs THEN length(f.hs6) = 6 ELSE list_contains($hs, f.hs6) END
    GROUP BY f.year, f.hs6, f.exporter
)
SELECT
    s.year,
    $bloc AS importer,
    s.hs6,
    sum(s.v) AS v,
    sum(s.v * s.v) AS v2,
    sum(s.v) FILTER (WHERE r.grp = 'C') AS concern_v,
    sum(s.v * s.v) FILTER (WHERE r.grp = 'C') AS concern_v2,
    sum(s.v) FILTER (WHERE r.grp = 'C' AND s.q > 0) AS concern_vq,
    sum(s.q) FILTER (WHERE r.grp = 'C' AND s.q > 0) AS concern_q,
    sum(s.v) FILTER (WHERE r.ally) AS ally_v,
    sum(s.v * w.value_usd) FILTER (WHERE r.grp = '') AS vw,
    list({'cls': r.grp, 'vw': s.v * w.value_usd})
        FILTER (WHERE r.grp NOT IN ('', 'C')) AS override_vw
FROM supplier AS s
LEFT JOIN _simulate_roles AS r
    ON r.iso3 = s.exporter
LEFT JOIN _simulate_world AS w
    ON w.hs6 = s.hs6 AND w.exporter = s.exporter
GROUP BY s.year, s.hs6
ORDER BY s.hs6  -- the output order; the engine keeps it
