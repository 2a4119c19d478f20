-- name: simulate_world
-- description: World exports per product and exporter from the selected loads: the
--   scenario's capacity base and allocation weights, with the unit value of the rows that
--   report a quantity (a missing quantity must not inflate it).
-- inputs: trade_flows
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   all_hs BOOLEAN, hs VARCHAR[]
-- grain: year, hs6, exporter
-- returns: year SMALLINT, hs6 VARCHAR, exporter VARCHAR, value_usd DOUBLE, unit_value DOUBLE
SELECT
    f.year,
    f.hs6,
    f.exporter,
    sum(f.value_usd) AS value_usd,
    sum(f.value_usd) FILTER (WHERE f.quantity_t > 0)
        / sum(f.quantity_t) FILTER (WHERE f.quantity_t > 0) AS unit_value  -- USD per tonne
FROM trade_flows AS f
WHERE f.year BETWEEN $year_min AND $year_max
    AND ($all_loads OR list_contains($keys, f.year::BIGINT * 1000000 + f.load_id))
    AND f.value_usd > 0
    AND CASE WHEN $all_hs THEN length(f.hs6) = 6 ELSE list_contains($hs, f.hs6) END
GROUP BY f.year, f.hs6, f.exporter
