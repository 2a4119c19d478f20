"""The demo job: load the bundled real data and compute the headline results.

Bundled data are real public files (``data/SOURCES.md``): UN Comtrade records of US
and Chinese trade in critical minerals and USGS Mineral Commodity Summaries world
production tables, MCS2022–MCS2025.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from friendshore import sources
from friendshore._assets import data_path
from friendshore.engines.concentration import production_concentration
from friendshore.engines.exposure import industry_exposure
from friendshore.progress import ProgressFn, no_progress
from friendshore.reference.registry import load_registry
from friendshore.store import Store


def bundled_files(source: str) -> list[Path]:
    """The bundled real files of a source, in load order."""
    root = data_path("sources", source)
    return sorted(
        p for p in root.rglob("*.csv") if not p.name.startswith("country_codes")
    )


def _pct(col: str) -> pl.Expr:
    return (pl.col(col) * 100).round(1)


def china_production_headline(store: Store) -> pl.DataFrame:
    """China's share of production per commodity and stage: latest edition, latest year."""
    conc = production_concentration(store).filter(
        (pl.col("listed_total") > 0) & (pl.col("n_producers") >= 2)
    )
    # Per commodity and stage: its latest edition, that edition's latest year, and
    # every series of it (one edition per row group, never a series from another).
    key = ["commodity", "stage"]
    latest = conc.filter(pl.col("edition") == pl.col("edition").max().over(key)).filter(
        pl.col("year") == pl.col("year").max().over(key)
    )
    return latest.select(
        "commodity",
        "stage",
        # "Mine production: rutile, titanium dioxide (TiO2) content." -> "rutile";
        # "Plant production, silicon metal" -> "silicon metal"
        pl.col("series")
        .str.replace(r"^[^:,]*[:,]\s*", "")
        .str.replace(r",.*$", "")
        .fill_null(""),
        "edition",
        "year",
        _pct("prc_share").alias("china_pct"),
        "top_country",
        _pct("top_share").alias("top_pct"),
        pl.col("hhi").round(3),
        pl.col("gap_pct").round(1).alias("gap_vs_world_pct"),
    ).sort("china_pct", descending=True, nulls_last=True)


def us_industry_headline(store: Store) -> pl.DataFrame:
    """US exposure to the PRC by defense industry, latest year of the bundled data."""
    df = industry_exposure(store, importer="USA")
    latest = df.filter(pl.col("year") == pl.col("year").max())
    return latest.select(
        "industry",
        "year",
        (pl.col("import_value_usd") / 1e6).round(1).alias("imports_musd"),
        "n_products",
        _pct("prc_share").alias("prc_pct"),
        pl.col("hhi").round(3),
        # The named suppliers' share: the bundled files name only US–China flows,
        # the rest is XRW, which counts in the total and nowhere else.
        _pct("coverage").alias("named_pct"),
        "top_prc_hs6",
    ).sort("prc_pct", descending=True)


def run_demo(
    store: Store, *, progress: ProgressFn = no_progress
) -> dict[str, pl.DataFrame]:
    """Load the bundled Comtrade and USGS files; return the headline tables."""
    for source in ("comtrade", "usgs"):
        sources.load(store, source, bundled_files(source), progress=progress)
    store.write_registry(load_registry())
    loaded = store.pl(
        """SELECT 'trade_flows' AS "table", source, min(year) AS first_year,
                  max(year) AS last_year, count(*) AS rows,
                  count(DISTINCT hs6) AS products
           FROM trade_flows GROUP BY ALL
           UNION ALL
           SELECT 'production', source || ' ' || edition, min(year), max(year),
                  count(*), count(DISTINCT commodity)
           FROM production GROUP BY ALL
           ORDER BY 1, 2"""
    )
    return {
        "loaded (products = HS codes or USGS commodities)": loaded,
        "China's share of world production: each row from its commodity's latest "
        "USGS edition (editions differ; compare within one)": (
            china_production_headline(store)
        ),
        "US exposure to the PRC by defense industry (bundled UN Comtrade files)": (
            us_industry_headline(store)
        ),
    }
