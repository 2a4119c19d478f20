-- name: simulate_bloc_baseline
-- description: simulate_baseline for a bloc importer: its members' imports summed under the
--   bloc's name, intra-bloc trade excluded (DESIGN.md). Supplier values are summed over the
--   members first, so Σv² and the tonnes are those of each supplier's total. Reads the coded
--   flows table (see friendshore.store).
-- inputs: flows, country_ids, _simulate_roles, _simulate_world
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   members VARCHAR[], bloc VARCHAR, all_hs BOOLEAN, hs VARCHAR[]
-- grain: year, importer, hs6
-- returns: year SMALLINT, importer VARCHAR, hs6 VARCHAR, v DOUBLE, v2 DOUBLE,
--   concern_v DOUBLE, concern_v2 DOUBLE, concern_vq DOUBLE, concern_q DOUBLE,
--   ally_v DOUBLE, vw DOUBLE, override_vw STRUCT(cls VARCHAR, vw DOUBLE)[]
WITH ids AS (
    SELECT id FROM country_ids WHERE list_contains($members, iso3)
),
supplier AS (
    SELECT
        f.year,
        f.hs,
        f.exporter_id,
        sum(f.value_usd) AS v,
        -- a partial sum would understate the tonnes behind the value: NULL unless complete
        CASE WHEN count(f.quantity_t) = count(*) THEN sum(f.quantity_t) END AS q
    FROM flows AS f
    WHERE f.year BETWEEN $year_min AND $year_max
        AND ($all_loads OR list_contains($keys, f.year::BIGINT * 1000000 + f.load_id))
        AND f.value_usd > 0
        AND f.importer_id IN (SELECT id FROM ids)
        AND f.exporter_id NOT IN (SELECT id FROM ids)
        AND CASE WHEN $all_hs THEN f.hs >= 6000000  -- six-digit codes only
                 ELSE f.hs IN (SELECT hs_code(unnest($hs))) END
    GROUP BY f.year, f.hs, f.exporter_id
)
SELECT
    s.year,
    $bloc AS importer,
    hs_text(s.hs) AS hs6,
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
JOIN country_ids AS c
    ON c.id = s.exporter_id
LEFT JOIN _simulate_roles AS r
    ON r.iso3 = c.iso3
LEFT JOIN _simulate_world AS w
    ON w.hs = s.hs AND w.exporter_id = s.exporter_id
GROUP BY s.year, s.hs
ORDER BY s.hs  -- the output order; the engine keeps it
