-- name: trend_product
-- public: no
-- description: The sums of exposure_product (Σv, Σv², concern Σv) of two years
--   side by side per (importer, product), in ONE pass over both years' flows: a
--   product missing in a year has NULL sums there. Residual areas (tier 9) count in
--   v only and are no importer rows. The same definitions as
--   exposure_product (tests hold the two routes equal); what trend needs without
--   computing two full exposure tables and joining a million rows of each. Rows come
--   ordered by importer, hs6 (as text sorts). Rows come through the store's one
--   row filter, selected_flows (see friendshore.store.layout).
-- inputs: flows, country_ids
-- params: all_loads BOOLEAN, keys BIGINT[], year_from SMALLINT, year_to SMALLINT,
--   year_min SMALLINT, year_max SMALLINT, importer VARCHAR, all_hs BOOLEAN, hs VARCHAR[],
--   tier_codes TINYINT[], n_ids INTEGER
-- grain: importer, hs6
-- returns: importer VARCHAR, hs6 VARCHAR, v_from DOUBLE, v2_from DOUBLE,
--   concern_v_from DOUBLE, v_to DOUBLE, v2_to DOUBLE, concern_v_to DOUBLE
WITH sums AS (
    SELECT
        f.importer_id,
        f.hs,
        sum(f.value_usd) FILTER (WHERE f.year = $year_from) AS v_from,
        sum(if(t = 9, 0.0, f.value_usd * f.value_usd)) FILTER (WHERE f.year = $year_from)
            AS v2_from,  -- Σv², named suppliers only (residual tier 9 out)
        sum(if(t = 1, f.value_usd, 0.0)) FILTER (WHERE f.year = $year_from)
            AS concern_v_from,
        sum(f.value_usd) FILTER (WHERE f.year = $year_to) AS v_to,
        sum(if(t = 9, 0.0, f.value_usd * f.value_usd)) FILTER (WHERE f.year = $year_to)
            AS v2_to,
        sum(if(t = 1, f.value_usd, 0.0)) FILTER (WHERE f.year = $year_to)
            AS concern_v_to
    FROM (
        SELECT *,
            $tier_codes[(year - $year_min) * $n_ids + exporter_id] AS t
        FROM selected_flows($all_loads, $keys, $year_min, $year_max, $all_hs, $hs)
    ) AS f
    WHERE (f.year = $year_from OR f.year = $year_to)
        AND ($importer IS NULL
             OR f.importer_id = (SELECT id FROM country_ids WHERE iso3 = $importer))
    GROUP BY f.importer_id, f.hs
)
SELECT
    i.iso3 AS importer,
    hs_text(s.hs) AS hs6,
    s.* EXCLUDE (importer_id, hs)
FROM sums AS s
JOIN country_ids AS i ON i.id = s.importer_id
WHERE $tier_codes[s.importer_id] <> 9  -- a residual area is no importer
ORDER BY importer,
    hs_order(s.hs), s.hs
