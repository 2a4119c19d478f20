-- name: simulate_world
-- description: World exports per product and exporter from the selected loads: the
--   scenario's capacity base and allocation weights, with the unit value of the rows that
--   report a quantity (a missing quantity must not inflate it). Reads the coded flows
--   table (see friendshore.store); keeps the coded keys (hs, exporter_id) beside the
--   names so simulate_baseline can join on integers.
-- inputs: flows, country_ids
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   all_hs BOOLEAN, hs VARCHAR[]
-- grain: year, hs6, exporter
-- returns: year SMALLINT, hs6 VARCHAR, exporter VARCHAR, value_usd DOUBLE,
--   unit_value DOUBLE, hs INTEGER, exporter_id SMALLINT
WITH sums AS (
    SELECT
        f.year,
        f.hs,
        f.exporter_id,
        sum(f.value_usd) AS value_usd,
        sum(f.value_usd) FILTER (WHERE f.quantity_t > 0)
            / sum(f.quantity_t) FILTER (WHERE f.quantity_t > 0) AS unit_value  -- USD per tonne
    FROM flows AS f
    WHERE f.year BETWEEN $year_min AND $year_max
        AND ($all_loads OR list_contains($keys, f.year::BIGINT * 1000000 + f.load_id))
        AND f.value_usd > 0
        AND CASE WHEN $all_hs THEN f.hs >= 6000000  -- six-digit codes only
                 ELSE f.hs IN (SELECT hs_code(unnest($hs))) END
    GROUP BY f.year, f.hs, f.exporter_id
)
SELECT
    s.year,
    hs_text(s.hs) AS hs6,
    c.iso3 AS exporter,
    s.value_usd,
    s.unit_value,
    s.hs,
    s.exporter_id
FROM sums AS s
JOIN country_ids AS c ON c.id = s.exporter_id
