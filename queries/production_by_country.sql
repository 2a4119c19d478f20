-- name: production_by_country
-- public: yes
-- description: One USGS edition's production of a commodity at one stage, per
--   country and year, with each country's share of the listed countries' sum
--   ("Other countries", XOT, counted in that sum). Withheld (W) or unavailable
--   (NA) figures have a NULL quantity and share. The published world total is not
--   a row.
-- inputs: production
-- params: commodity VARCHAR, stage VARCHAR, edition VARCHAR
-- grain: year, country
-- returns: year SMALLINT, country VARCHAR, quantity DOUBLE, unit VARCHAR,
--   share DOUBLE, is_estimate BOOLEAN
SELECT
    year,
    country,
    quantity,
    unit,
    quantity / sum(quantity) OVER (PARTITION BY year) AS share,
    is_estimate
FROM production
WHERE commodity = $commodity
    AND stage = $stage
    AND edition = $edition
    AND kind <> 'world_total'
ORDER BY year, quantity DESC NULLS LAST, country
