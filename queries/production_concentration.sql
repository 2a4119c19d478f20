-- name: production_concentration
-- public: no
-- description: Production concentration per USGS edition, commodity, stage and
--   year. Shares are over the listed countries' sum, "Other countries" (XOT)
--   included; XOT is a residual (DESIGN.md): it counts in that total and nowhere
--   else — not in q2 (spread thin), the producer count or the top country;
--   other_q is its quantity. The published rounded world total (never a producer)
--   is kept beside it. concern_q sums the producers listed in
--   _production_concern (year, iso3): the concern group as of each year. Withheld (W) or unavailable (NA) figures are not counted and
--   are reported in n_withheld. Where USGS publishes several world totals for one
--   stage (platinum and palladium; ilmenite and rutile) each series is its own row,
--   matched on the Type text without "World (total)" and "(rounded)".
-- inputs: production, _production_concern
-- params: (none)
-- grain: edition, commodity, stage, year, series
-- returns: edition VARCHAR, commodity VARCHAR, stage VARCHAR, year SMALLINT,
--   series VARCHAR, unit VARCHAR, listed_total DOUBLE, q2 DOUBLE, other_q DOUBLE,
--   concern_q DOUBLE, top_country VARCHAR, top_quantity DOUBLE, n_producers BIGINT,
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
        END AS series_key,
        c.iso3 IS NOT NULL AS is_concern
    FROM production AS p
    LEFT JOIN totals_per_stage AS t USING (edition, commodity, stage, year)
    LEFT JOIN _production_concern AS c ON c.year = p.year AND c.iso3 = p.country
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
    sum(quantity * quantity) FILTER (WHERE kind = 'country') AS q2,  -- Σq², named
    coalesce(sum(quantity) FILTER (WHERE kind = 'other'), 0) AS other_q,
    coalesce(sum(quantity) FILTER (WHERE is_concern AND kind = 'country'), 0)
        AS concern_q,
    arg_max(country, quantity) FILTER (WHERE kind = 'country') AS top_country,
    max(quantity) FILTER (WHERE kind = 'country') AS top_quantity,
    count(*) FILTER (WHERE kind = 'country' AND quantity > 0) AS n_producers,
    count(*) FILTER (WHERE kind <> 'world_total' AND quantity IS NULL) AS n_withheld,
    max(quantity) FILTER (WHERE kind = 'world_total') AS world_total
FROM rows
GROUP BY edition, commodity, stage, year, series_key
ORDER BY edition, commodity, stage, year, series
