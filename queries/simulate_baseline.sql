-- name: simulate_baseline
-- description: The scenario baseline in ONE pass over the selected loads of one year: per
--   importer and product, the sums the scenario engine needs — Σv, Σv², the concern
--   group's value, Σv² and value/tonnes where a quantity is reported, the ally value, and
--   Σ v × world exports (the post-scenario HHI's cross term) for the eligible suppliers
--   without an override, with one (cls, vw) entry per supplier that has one. Reads the
--   coded flows table (see friendshore.store). Roles are looked up by exporter id:
--   role_codes[id] is 1 concern, 2 eligible without override, 3 eligible with one
--   (its class is its ISO3, names[id]), 0 any other supplier; ally_codes[id] marks
--   allies; name_rank[id] ranks the names. World exports come from _simulate_world
--   (that year, coded keys).
--   Self-trade is not supply.
-- inputs: flows, country_ids, _simulate_world
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   all_importers BOOLEAN, importers VARCHAR[], all_hs BOOLEAN, hs VARCHAR[],
--   role_codes TINYINT[], ally_codes BOOLEAN[], names VARCHAR[],
--   name_rank INTEGER[]
-- grain: year, importer, hs6
-- returns: year SMALLINT, importer VARCHAR, hs6 VARCHAR, v DOUBLE, v2 DOUBLE,
--   concern_v DOUBLE, concern_v2 DOUBLE, concern_vq DOUBLE, concern_q DOUBLE,
--   ally_v DOUBLE, vw DOUBLE, override_vw STRUCT(cls VARCHAR, vw DOUBLE)[],
--   sort_key BIGINT
WITH sums AS (
    SELECT
        f.year,
        f.importer_id,
        f.hs,
        sum(f.value_usd) AS v,
        sum(f.value_usd * f.value_usd) AS v2,  -- Σv², for the HHI
        sum(f.value_usd) FILTER (WHERE f.r = 1) AS concern_v,
        sum(f.value_usd * f.value_usd) FILTER (WHERE f.r = 1) AS concern_v2,
        sum(f.value_usd) FILTER (WHERE f.r = 1 AND f.quantity_t > 0) AS concern_vq,
        sum(f.quantity_t) FILTER (WHERE f.r = 1 AND f.quantity_t > 0) AS concern_q,  -- tonnes
        sum(f.value_usd) FILTER (WHERE f.ally) AS ally_v,
        sum(f.value_usd * w.value_usd) FILTER (WHERE f.r = 2) AS vw,  -- Σ v_i w_i
        list({'cls': f.exporter_id, 'vw': f.value_usd * w.value_usd})
            FILTER (WHERE f.r = 3) AS override_vw
    FROM (
        SELECT *,
            $role_codes[exporter_id] AS r,
            $ally_codes[exporter_id] AS ally
        FROM flows
    ) AS f
    LEFT JOIN _simulate_world AS w
        ON w.hs = f.hs AND w.exporter_id = f.exporter_id
    WHERE f.year BETWEEN $year_min AND $year_max
        AND ($all_loads OR list_contains($keys, f.year::BIGINT * 1000000 + f.load_id))  -- the selected loads
        AND f.value_usd > 0
        AND f.exporter_id <> f.importer_id
        AND ($all_importers OR f.importer_id IN (
                SELECT id FROM country_ids WHERE list_contains($importers, iso3)))
        AND CASE WHEN $all_hs THEN f.hs >= 6000000  -- six-digit codes only
                 ELSE f.hs IN (SELECT hs_code(unnest($hs))) END
    GROUP BY f.year, f.importer_id, f.hs
)
SELECT
    s.year,
    c.iso3 AS importer,
    hs_text(s.hs) AS hs6,
    s.v, s.v2, s.concern_v, s.concern_v2, s.concern_vq, s.concern_q, s.ally_v, s.vw,
    CASE WHEN s.override_vw IS NOT NULL THEN
        list_transform(s.override_vw, lambda o: {'cls': $names[o.cls], 'vw': o.vw})
    END AS override_vw,
    -- The engine keeps its input order: by year, importer name, then product. One
    -- integer to sort on in Polars is far cheaper than an ORDER BY carrying the rows.
    (s.year::BIGINT * 65536 + $name_rank[s.importer_id]) * 10000000 + s.hs
        AS sort_key
FROM sums AS s
JOIN country_ids AS c ON c.id = s.importer_id
