-- name: crma_trade
-- public: no
-- description: A bloc's extra-bloc trade per product and partner, in value and tonnes,
--   for the EU CRMA Art. 5(1)(b) apparent-consumption benchmark: imports (partner =
--   the exporter) and exports (partner = the importer) of the members as of each
--   year, flows between members left out. n_missing_t counts rows without a
--   quantity. Reads the coded flows table (see friendshore.store).
--   Rows come through the store's one row filter, selected_flows (see
--   friendshore.store.layout).
-- inputs: flows, country_ids, _crma_members
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   hs VARCHAR[]
-- grain: year, hs6, direction, partner
-- returns: year SMALLINT, hs6 VARCHAR, direction VARCHAR, partner VARCHAR,
--   value_usd DOUBLE, quantity_t DOUBLE, n_rows BIGINT, n_missing_t BIGINT
WITH members AS (
    SELECT m.year, c.id
    FROM _crma_members AS m
    JOIN country_ids AS c ON c.iso3 = m.iso3
),
f AS (
    SELECT
        f.year,
        f.hs,
        f.value_usd,
        f.quantity_t,
        CASE WHEN mi.id IS NOT NULL THEN 'import' ELSE 'export' END AS direction,
        CASE WHEN mi.id IS NOT NULL THEN f.exporter_id ELSE f.importer_id END
            AS partner_id
    FROM selected_flows($all_loads, $keys, $year_min, $year_max, false, $hs) AS f
    LEFT JOIN members AS mi
        ON mi.year = f.year AND mi.id = f.importer_id
    LEFT JOIN members AS me
        ON me.year = f.year AND me.id = f.exporter_id
    WHERE (mi.id IS NULL) <> (me.id IS NULL)  -- exactly one side a member
)
SELECT
    f.year,
    hs_text(f.hs) AS hs6,
    f.direction,
    c.iso3 AS partner,
    sum(f.value_usd) AS value_usd,
    sum(f.quantity_t) AS quantity_t,
    count(*) AS n_rows,
    count(*) - count(f.quantity_t) AS n_missing_t
FROM f
JOIN country_ids AS c ON c.id = f.partner_id
GROUP BY ALL
