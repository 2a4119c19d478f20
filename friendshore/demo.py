"""The demo job: load the bundled real data and compute the headline results."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from . import sources
from ._assets import data_path, query_sql
from .progress import ProgressFn, no_progress
from .registry import load_registry
from .store import Store


def bundled_files(source: str) -> list[Path]:
    """The bundled real files of a source, in load order."""
    root = data_path("sources", source)
    return sorted(
        p for p in root.rglob("*.csv") if not p.name.startswith("country_codes")
    )


def run_demo(
    store: Store, *, progress: ProgressFn = no_progress
) -> dict[str, pl.DataFrame]:
    """Load bundled Comtrade and USGS files; return the headline tables."""
    for source in ("comtrade", "usgs"):
        sources.load(store, source, bundled_files(source), progress=progress)
    load_registry().to_store(store)
    loaded = store.pl(
        """SELECT 'trade_flows' AS "table", source, year, count(*) AS rows
           FROM trade_flows GROUP BY ALL
           UNION ALL
           SELECT 'production', source || ' ' || edition, year, count(*)
           FROM production GROUP BY ALL
           ORDER BY 1, 2, 3"""
    )
    china = store.pl(query_sql("production_china_share"))
    return {
        "loaded per source and year": loaded,
        "China's share of world production": china,
    }
