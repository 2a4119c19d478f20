"""The hand-written DuckDB script a user would write instead of friendshore (issue 17).

The whole-process references of ``benchmarks/cases.py``: a Python process that
imports DuckDB alone, opens the same store read-only, joins the registry tiers it
is handed (a Parquet file of ``iso3, tier``) and lets DuckDB write the answer with
``COPY … TO``. No sorting, no provenance, no checks: the floor a friendshore
command is measured against. It imports nothing but duckdb, so its start-up is
the honest minimum; the SQL texts live here and ``cases.py`` imports them.

Usage::

    python benchmarks/duckdb_script.py exposure STORE YEAR TIERS.parquet OUT.parquet
    python benchmarks/duckdb_script.py industry STORE YEAR TIERS.parquet OUT.csv \
        IMPORTER PRODUCTS.parquet
"""

from __future__ import annotations

import sys

import duckdb

# One pass, one hash aggregation over the store's coded flows (integer country ids
# and HS keys, friendshore.store); HHI = Σv²/(Σv)² needs no window; the tier of each
# exporter comes from a tiny join; names are decoded in the result only. Residual
# areas (tier 'residual') count in V only: not in n, Σv², the top supplier, and
# they are no importer (DESIGN.md).
EXPOSURE_SQL = """
WITH s AS (
    SELECT f.importer_id, f.hs,
           sum(f.value_usd) AS import_value_usd,
           count(*) FILTER (WHERE t.tier IS DISTINCT FROM 'residual') AS n_suppliers,
           arg_max(f.exporter_id, f.value_usd)
               FILTER (WHERE t.tier IS DISTINCT FROM 'residual') AS top_id,
           max(f.value_usd) FILTER (WHERE t.tier IS DISTINCT FROM 'residual')
               / sum(f.value_usd) AS top_supplier_share,
           coalesce(sum(f.value_usd * f.value_usd)
                        FILTER (WHERE t.tier IS DISTINCT FROM 'residual'), 0)
               / (sum(f.value_usd) * sum(f.value_usd)) AS hhi,
           coalesce(sum(f.value_usd) FILTER (WHERE t.tier = 'concern'), 0)
               / sum(f.value_usd) AS prc_share,
           coalesce(sum(f.value_usd) FILTER (WHERE t.tier = 'ally'), 0)
               / sum(f.value_usd) AS ally_share,
           coalesce(sum(f.value_usd) FILTER (WHERE t.tier = 'partner'), 0)
               / sum(f.value_usd) AS partner_share
    FROM flows AS f LEFT JOIN bench_tier_ids AS t ON t.id = f.exporter_id
    WHERE f.year = $year AND f.value_usd > 0
      AND f.importer_id NOT IN (SELECT id FROM bench_tier_ids WHERE tier = 'residual')
    GROUP BY f.importer_id, f.hs
)
SELECT i.iso3 AS importer, hs_text(s.hs) AS hs6, e.iso3 AS top_supplier,
       s.* EXCLUDE (importer_id, hs, top_id)
FROM s JOIN country_ids AS i ON i.id = s.importer_id
LEFT JOIN country_ids AS e ON e.id = s.top_id
"""

# Import-value-weighted roll-up over each industry's HS6 inputs (DESIGN.md):
# Σ_k V_k m_k / Σ_k V_k, i.e. concern value / total and Σ_k Σv²/V_k / Σ_k V_k.
INDUSTRY_SQL = """
WITH p AS (
    SELECT hs_text(f.hs) AS hs6, sum(f.value_usd) AS v,
           coalesce(sum(f.value_usd) FILTER (WHERE t.tier = 'concern'), 0) AS c,
           coalesce(sum(f.value_usd * f.value_usd)
                        FILTER (WHERE t.tier IS DISTINCT FROM 'residual'), 0)
               / sum(f.value_usd) AS v_hhi
    FROM flows AS f LEFT JOIN bench_tier_ids AS t ON t.id = f.exporter_id
    WHERE f.year = $year AND f.value_usd > 0
      AND f.importer_id = (SELECT id FROM country_ids WHERE iso3 = $importer)
      AND f.hs IN (SELECT hs_code(hs6) FROM bench_industry_products)
    GROUP BY f.hs
)
SELECT i.industry, sum(p.v) AS import_value_usd, sum(p.c) / sum(p.v) AS prc_share,
       sum(p.v_hhi) / sum(p.v) AS hhi
FROM p JOIN bench_industry_products AS i USING (hs6)
GROUP BY i.industry
"""

# Residual and unspecified areas are tier 'residual' (benchmarks/cases.py RESIDUAL_RE).
TIERS_SQL = """
CREATE TEMP TABLE bench_tier_ids AS
SELECT c.id, t.tier FROM read_parquet($tiers) AS t
JOIN country_ids AS c ON c.iso3 = t.iso3
WHERE NOT regexp_full_match(c.iso3, '^(X[0-9]{3}|XRW|XOT|WLD)$')
UNION ALL
SELECT id, 'residual' FROM country_ids
WHERE regexp_full_match(iso3, '^(X[0-9]{3}|XRW|XOT|WLD)$')
"""


def main(argv: list[str]) -> None:
    """Run one script: ``exposure`` or ``industry`` (see the module docstring)."""
    what, store, year, tiers, out, *rest = argv
    con = duckdb.connect(store, read_only=True)
    con.execute(TIERS_SQL, {"tiers": tiers})
    if what == "exposure":
        con.execute(
            f"COPY ({EXPOSURE_SQL}) TO $out (FORMAT parquet, COMPRESSION zstd)",
            {"year": int(year), "out": out},
        )
    else:
        importer, products = rest
        con.execute(
            "CREATE TEMP TABLE bench_industry_products AS "
            "SELECT * FROM read_parquet($p)",
            {"p": products},
        )
        con.execute(
            f"COPY ({INDUSTRY_SQL}) TO $out (FORMAT csv, HEADER true)",
            {"year": int(year), "out": out, "importer": importer},
        )
    con.close()


if __name__ == "__main__":
    main(sys.argv[1:])
