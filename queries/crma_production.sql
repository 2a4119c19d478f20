-- name: crma_production
-- public: no
-- description: USGS production per edition, commodity, stage, year and country with
--   the unit, for the EU CRMA apparent-consumption benchmark (a bloc's members
--   summed in Python). Withheld or unavailable figures have a NULL quantity.
-- inputs: production
-- params: year SMALLINT
-- grain: edition, commodity, stage, year, country
-- returns: edition VARCHAR, commodity VARCHAR, stage VARCHAR, year SMALLINT,
--   country VARCHAR, kind VARCHAR, quantity DOUBLE, unit VARCHAR
SELECT edition, commodity, stage, year, country, kind, quantity, unit
FROM production
WHERE year = $year
ORDER BY edition, commodity, stage, country
