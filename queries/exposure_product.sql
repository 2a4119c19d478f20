-- name: exposure_product
-- public: no
-- description: Supplier concentration of every (year, importer, product) in ONE pass:
--   the sums the exposure metrics are ratios of (Σv, Σv², supplier count, largest
--   supplier, value per registry tier). HHI = Σv² / (Σv)² needs no second pass.
--   Relies on the trade_flows contract of one row per (source, year, exporter,
--   importer, hs6) within the selected loads. Reads the coded flows table (see
--   friendshore.store) and names countries and products only in the result. The tier
--   of exporter id e in year y is tier_codes[(y - year_min) * n_ids + e] (1 concern,
--   2 ally, 3 partner, 9 residual, 0 other): a list lookup, not a join, per flow.
--   Residual and unspecified areas (tier 9: XRW, X + code) count in v and nowhere
--   else (DESIGN.md): not in v2 (spread thin over many small suppliers), n, the top
--   supplier or any tier; residual_v is their value (coverage = 1 − residual_v / v).
--   They are never an importer row.
--   Rows come ordered by year, importer, hs6 (as text sorts), sorted here on the
--   coded product key: ~10x cheaper than sorting the named million-row result.
--   Rows come through the store's one row filter, selected_flows (see
--   friendshore.store.layout).
-- inputs: flows, country_ids
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   importer VARCHAR, all_hs BOOLEAN, hs VARCHAR[], tier_codes TINYINT[],
--   n_ids INTEGER
-- grain: year, importer, hs6
-- returns: year SMALLINT, importer VARCHAR, hs6 VARCHAR, v DOUBLE, v2 DOUBLE,
--   n BIGINT, top_supplier VARCHAR, top_v DOUBLE, concern_v DOUBLE, ally_v DOUBLE,
--   partner_v DOUBLE, residual_v DOUBLE
WITH sums AS (
    SELECT
        f.year,
        f.importer_id,
        f.hs,
        sum(f.value_usd) AS v,
        sum(if(t = 9, 0.0, f.value_usd * f.value_usd)) AS v2,  -- Σv², named only
        count(*) FILTER (WHERE t <> 9) AS n,
        arg_max(f.exporter_id, f.value_usd) FILTER (WHERE t <> 9) AS top_id,
        max(f.value_usd) FILTER (WHERE t <> 9) AS top_v,
        sum(if(t = 1, f.value_usd, 0.0)) AS concern_v,
        sum(if(t = 2, f.value_usd, 0.0)) AS ally_v,
        sum(if(t = 3, f.value_usd, 0.0)) AS partner_v,
        sum(if(t = 9, f.value_usd, 0.0)) AS residual_v
    FROM (
        SELECT *,
            $tier_codes[(year - $year_min) * $n_ids + exporter_id] AS t
        FROM selected_flows($all_loads, $keys, $year_min, $year_max, $all_hs, $hs)
    ) AS f
    WHERE ($importer IS NULL
             OR f.importer_id = (SELECT id FROM country_ids WHERE iso3 = $importer))
    GROUP BY f.year, f.importer_id, f.hs
)
SELECT
    s.year,
    i.iso3 AS importer,
    hs_text(s.hs) AS hs6,
    s.v, s.v2, s.n,
    e.iso3 AS top_supplier,
    s.top_v, s.concern_v, s.ally_v, s.partner_v, s.residual_v
FROM sums AS s
JOIN country_ids AS i ON i.id = s.importer_id
LEFT JOIN country_ids AS e ON e.id = s.top_id
WHERE $tier_codes[s.importer_id] <> 9  -- a residual area is no importer
ORDER BY s.year, importer,
    -- hs6 in text order from the coded key: the code padded to six digits, then
    -- the shorter code first
    hs_order(s.hs), s.hs
