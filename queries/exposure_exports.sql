-- name: exposure_exports
-- public: no
-- description: Exports per (year, exporter, product), for the GeoDep imports/exports
--   ratio: one exporter's (exporter), or every exporter's (NULL). With a bloc: its
--   members' exports (as of each year) summed, exports to members excluded unless
--   include_intra. Reads the coded flows table (see friendshore.store).
--   Rows come through the store's one row filter, selected_flows (see
--   friendshore.store.layout).
-- inputs: flows, country_ids, _exposure_members
-- params: all_loads BOOLEAN, keys BIGINT[], year_min SMALLINT, year_max SMALLINT,
--   exporter VARCHAR, bloc VARCHAR, include_intra BOOLEAN, all_hs BOOLEAN,
--   hs VARCHAR[]
-- grain: year, exporter, hs6
-- returns: year SMALLINT, exporter VARCHAR, hs6 VARCHAR, exports_usd DOUBLE
WITH members AS (
    SELECT m.year, c.id
    FROM _exposure_members AS m
    JOIN country_ids AS c ON c.iso3 = m.iso3
),
sums AS (
    SELECT
        f.year,
        CASE WHEN $bloc IS NULL THEN f.exporter_id END AS exporter_id,
        f.hs,
        sum(f.value_usd) AS exports_usd
    FROM selected_flows($all_loads, $keys, $year_min, $year_max, $all_hs, $hs) AS f
    LEFT JOIN members AS me
        ON me.year = f.year AND me.id = f.exporter_id
    LEFT JOIN members AS mi
        ON mi.year = f.year AND mi.id = f.importer_id
    WHERE ($exporter IS NULL
             OR f.exporter_id = (SELECT id FROM country_ids WHERE iso3 = $exporter))
        AND ($bloc IS NULL OR (me.id IS NOT NULL AND ($include_intra OR mi.id IS NULL)))
    GROUP BY ALL
)
SELECT
    s.year,
    coalesce(c.iso3, $bloc) AS exporter,
    hs_text(s.hs) AS hs6,
    s.exports_usd
FROM sums AS s
LEFT JOIN country_ids AS c ON c.id = s.exporter_id
