-- name: exposure_product
-- description: Supplier concentration of every (year, importer, product) in ONE pass:
--   the sums the exposure metrics are ratios of (Σv, Σv², supplier count, largest
--   supplier, value per registry tier). HHI = Σv² / (Σv)² needs no second pass.
--   Relies on the trade_flows contract of one row per (source, year, exporter,
--   importer, hs6) within the selected loads. Tier codes: 1 concern, 2 ally,
--   3 partner, absent = other. Unspecified areas (X-codes) are suppliers too.
-- inputs: trade_flows, _exposure_tiers
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   importer VARCHAR, all_hs BOOLEAN, hs VARCHAR[]
-- grain: year, importer, hs6
-- returns: year SMALLINT, importer VARCHAR, hs6 VARCHAR, v DOUBLE, v2 DOUBLE,
--   n BIGINT, top_supplier VARCHAR, top_v DOUBLE, concern_v DOUBLE, ally_v DOUBLE,
--   partner_v DOUBLE
SELECT
    f.year,
    f.importer,
    f.hs6,
    sum(f.value_usd) AS v,
    sum(f.value_usd * f.value_usd) AS v2,  -- Σv², for the HHI
    count(*) AS n,
    arg_max(f.exporter, f.value_usd) AS top_supplier,
    max(f.value_usd) AS top_v,
    sum(if(t.tier_code = 1, f.value_usd, 0.0)) AS concern_v,
    sum(if(t.tier_code = 2, f.value_usd, 0.0)) AS ally_v,
    sum(if(t.tier_code = 3, f.value_usd, 0.0)) AS partner_v
FROM trade_flows AS f
LEFT JOIN _exposure_tiers AS t
    ON t.year = f.year AND t.iso3 = f.exporter
WHERE f.year BETWEEN $year_min AND $year_max
    AND ($all_loads OR list_contains($keys, f.year::BIGINT * 1000000 + f.load_id))  -- the selected loads
    AND f.value_usd > 0
    AND ($importer IS NULL OR f.importer = $importer)
    AND CASE WHEN $all_hs THEN length(f.hs6) = 6 ELSE list_contains($hs, f.hs6) END
GROUP BY f.year, f.importer, f.hs6
