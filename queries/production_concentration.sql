-- name: production_concentration
-- description: Production concentration per USGS edition, commodity, stage and
--   year. Shares are over the listed countries' sum with "Other countries" (XOT)
--   one unspecified producer; the published rounded world total (never a producer)
--   is kept beside it. Withheld (W) or unavailable (NA) figures are not counted and
--   are reported in n_withheld. Where USGS publishes several world totals for one
--   stage (platinum and palladium; ilmenite and rutile) each series is its own row,
--   matched on the Type text without "World (total)" and "(rounded)".
-- inputs: production
-- params: (none)
-- grain: edition, commodity, stage, year, series
-- returns: edition VARCHAR, commodity VARCHAR, stage VARCHAR, year SMALLINT,
--   series VARCHAR, unit VARCHAR, listed_total DOUBLE, q2 DOUBLE, china DOUBLE,
--   top_country VARCHAR, top_quantity DOUBLE, n_producers BIGINT,
--   n_withheld BIGINT, world_total DOUBLE
WITH totals_per_stage AS (
    SELECT edition, commodity, stage, year, count(*) AS n_totals
    FROM production
    WHERE kind = 'world_total'
    GROUP BY ALL
),
rows AS (
    SELECT
        p.*,
        CASE
            WHEN coalesce(t.n_totals, 0) > 1 THEN trim(regexp_replace(
                regexp_replace(lower(coalesce(p.type, '')), '^world (total )?', ''),
                '\s*\(rounded\)', '', 'g'))
            ELSE ''
        END AS series_key
    FROM production AS p
    LEFT JOIN totals_per_stage AS t USING (edition, commodity, stage, year)
)
SELECT
    edition,
    commodity,
    stage,
    year,
    CASE WHEN series_key = '' THEN NULL
        ELSE any_value(type) FILTER (WHERE kind <> 'world_total') END AS series,
    any_value(unit) AS unit,
    sum(quantity) FILTER (WHERE kind <> 'world_total') AS listed_total,
    sum(quantity * quantity) FILTER (WHERE kind <> 'world_total') AS q2,  -- Σq², for the HHI
    coalesce(sum(quantity) FILTER (WHERE country = 'CHN'), 0) AS china,
    arg_max(country, quantity) FILTER (WHERE kind <> 'world_total') AS top_country,
    max(quantity) FILTER (WHERE kind <> 'world_total') AS top_quantity,
    count(*) FILTER (WHERE kind <> 'world_total' AND quantity > 0) AS n_producers,
    count(*) FILTER (WHERE kind <> 'world_total' AND quantity IS NULL) AS n_withheld,
    max(quantity) FILTER (WHERE kind = 'world_total') AS world_total
FROM rows
GROUP BY edition, commodity, stage, year, series_key
ORDER BY edition, commodity, stage, year, series
