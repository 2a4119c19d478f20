-- name: production_china_share
-- description: China's share of production per USGS edition, commodity and stage, for
--   the latest year each edition reports. The share is over the listed countries'
--   sum ("Other countries" counted as one unspecified producer); the published
--   rounded world total is shown beside it with the gap between the two.
-- inputs: production
-- params: (none)
-- grain: edition, commodity, stage
-- returns: edition VARCHAR, commodity VARCHAR, stage VARCHAR, year SMALLINT, unit VARCHAR,
--   china DOUBLE, listed_total DOUBLE, china_share DOUBLE, world_total DOUBLE, gap_pct DOUBLE
WITH latest AS (
    SELECT edition, commodity, stage, max(year) AS year
    FROM production
    WHERE kind <> 'world_total'
      AND quantity IS NOT NULL
    GROUP BY ALL
),
totals AS (
    SELECT
        p.edition,
        p.commodity,
        p.stage,
        p.year,
        any_value(p.unit) AS unit,
        sum(p.quantity) FILTER (WHERE p.country = 'CHN') AS china,
        sum(p.quantity) FILTER (WHERE p.kind <> 'world_total') AS listed_total,
        max(p.quantity) FILTER (WHERE p.kind = 'world_total') AS world_total
    FROM production AS p
    JOIN latest USING (edition, commodity, stage, year)
    GROUP BY ALL
)
SELECT
    edition,
    commodity,
    stage,
    year,
    unit,
    china,
    listed_total,
    china / nullif(listed_total, 0) AS china_share,
    world_total,
    100 * (listed_total - world_total) / nullif(world_total, 0) AS gap_pct  -- >5 % is reported
FROM totals
ORDER BY edition, commodity, stage
