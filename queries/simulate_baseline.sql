-- name: simulate_baseline
-- description: The scenario baseline in ONE pass over the selected loads of one year: per
--   importer and product, the sums the scenario engine needs — Σv, Σv², the concern
--   group's value, Σv² and value/tonnes where a quantity is reported, the ally value, and
--   Σ v × world exports (the post-scenario HHI's cross term) for the eligible suppliers
--   without an override, with one (cls, vw) entry per supplier that has one. Roles come
--   from _simulate_roles (grp 'C' concern, '' eligible without override, an ISO3 for an
--   override, NULL any other supplier), world exports from _simulate_world (that year).
--   Self-trade is not supply.
-- inputs: trade_flows, _simulate_roles, _simulate_world
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   all_importers BOOLEAN, importers VARCHAR[], all_hs BOOLEAN, hs VARCHAR[]
-- grain: year, importer, hs6
-- returns: year SMALLINT, importer VARCHAR, hs6 VARCHAR, v DOUBLE, v2 DOUBLE,
--   concern_v DOUBLE, concern_v2 DOUBLE, concern_vq DOUBLE, concern_q DOUBLE,
--   ally_v DOUBLE, vw DOUBLE, override_vw STRUCT(cls VARCHAR, vw DOUBLE)[]
SELECT
    f.year,
    f.importer,
    f.hs6,
    sum(f.value_usd) AS v,
    sum(f.value_usd * f.value_usd) AS v2,  -- Σv², for the HHI
    sum(f.value_usd) FILTER (WHERE r.grp = 'C') AS concern_v,
    sum(f.value_usd * f.value_usd) FILTER (WHERE r.grp = 'C') AS concern_v2,
    sum(f.value_usd) FILTER (WHERE r.grp = 'C' AND f.quantity_t > 0) AS concern_vq,
    sum(f.quantity_t) FILTER (WHERE r.grp = 'C' AND f.quantity_t > 0) AS concern_q,  -- tonnes
    sum(f.value_usd) FILTER (WHERE r.ally) AS ally_v,
    sum(f.value_usd * w.value_usd) FILTER (WHERE r.grp = '') AS vw,  -- Σ v_i w_i
    list({'cls': r.grp, 'vw': f.value_usd * w.value_usd})
        FILTER (WHERE r.grp NOT IN ('', 'C')) AS override_vw
FROM trade_flows AS f
LEFT JOIN _simulate_roles AS r
    ON r.iso3 = f.exporter
LEFT JOIN _simulate_world AS w
    ON w.hs6 = f.hs6 AND w.exporter = f.exporter
WHERE f.year BETWEEN $year_min AND $year_max
    AND ($all_loads OR list_contains($keys, f.year::BIGINT * 1000000 + f.load_id))  -- the selected loads
    AND f.value_usd > 0
    AND f.exporter <> f.importer
    AND ($all_importers OR list_contains($importers, f.importer))
    AND CASE WHEN $all_hs THEN length(f.hs6) = 6 ELSE list_contains($hs, f.hs6) END
GROUP BY f.year, f.importer, f.hs6
ORDER BY f.year, f.importer, f.hs6  -- the output order; the engine keeps it
