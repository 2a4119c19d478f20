-- name: suppliers
-- public: yes
-- description: Who supplies one importer with one product in one year, as one
--   source reports it: each exporter's value, share of the total and tonnes, the
--   largest first. Residual and unspecified areas (XRW, X-codes) are listed as the
--   file has them. It reads trade_flows as stored: a year loaded from two BACI
--   releases in different HS revisions counts both, where friendshore exposure
--   picks the newest (and gives the metrics), so use exposure for those.
-- inputs: trade_flows
-- params: importer VARCHAR, hs6 VARCHAR, year SMALLINT, source VARCHAR
-- grain: exporter
-- returns: exporter VARCHAR, value_usd DOUBLE, share DOUBLE, quantity_t DOUBLE
SELECT
    exporter,
    sum(value_usd) AS value_usd,
    sum(value_usd) / sum(sum(value_usd)) OVER () AS share,
    sum(quantity_t) AS quantity_t
FROM trade_flows
WHERE importer = $importer
    AND hs6 = $hs6
    AND year = $year
    AND source = $source
    AND value_usd > 0
GROUP BY exporter
ORDER BY value_usd DESC, exporter
