"""The Python API for analysts: ``friendshore.open(path)`` and frames back.

Each method is the library call the matching CLI command makes, on the store the
object holds, and returns a Polars frame (``.to_arrow()`` / ``.to_pandas()`` from
there if a notebook wants them). On the store ``make demo`` builds:

>>> import friendshore
>>> fs = friendshore.open("friendshore-demo.duckdb")
>>> fs.years()
[2020, 2021, 2022, 2023, 2024]
>>> usa = fs.exposure(importer="USA", hs=["811292"], years=[2023, 2024])
>>> usa.select("year", "hs6", "import_value_usd", "prc_share").sort("year")
shape: (2, 4)
┌──────┬────────┬──────────────────┬───────────┐
│ year ┆ hs6    ┆ import_value_usd ┆ prc_share │
│ ---  ┆ ---    ┆ ---              ┆ ---       │
│ i16  ┆ str    ┆ f64              ┆ f64       │
╞══════╪════════╪══════════════════╪═══════════╡
│ 2023 ┆ 811292 ┆ 2.28504762e8     ┆ 0.143506  │
│ 2024 ┆ 811292 ┆ 2.74927348e8     ┆ 0.193961  │
└──────┴────────┴──────────────────┴───────────┘
>>> sel = fs.selection(importer="USA", hs=["811292"], years=[2023, 2024])
>>> fs.exposure(sel).height, fs.world_concentration(sel).height
(2, 2)
>>> ga = fs.production_concentration(commodity="gallium", edition="MCS2025")
>>> ga.select("year", "stage", "prc_share", "top_country")
shape: (2, 4)
┌──────┬──────────┬───────────┬─────────────┐
│ year ┆ stage    ┆ prc_share ┆ top_country │
│ ---  ┆ ---      ┆ ---       ┆ ---         │
│ i16  ┆ str      ┆ f64       ┆ str         │
╞══════╪══════════╪═══════════╪═════════════╡
│ 2023 ┆ refinery ┆ 0.981043  ┆ CHN         │
│ 2024 ┆ refinery ┆ 0.984252  ┆ CHN         │
└──────┴──────────┴───────────┴─────────────┘
>>> fs.sql("SELECT count(*) AS n FROM trade_flows WHERE year = $y", y=2024).item()
93
>>> fs.query("suppliers", importer="USA", hs6="811292", year="2024", source="comtrade")
shape: (2, 4)
┌──────────┬──────────────┬──────────┬────────────┐
│ exporter ┆ value_usd    ┆ share    ┆ quantity_t │
│ ---      ┆ ---          ┆ ---      ┆ ---        │
│ str      ┆ f64          ┆ f64      ┆ f64        │
╞══════════╪══════════════╪══════════╪════════════╡
│ XRW      ┆ 2.21602294e8 ┆ 0.806039 ┆ 2690.752   │
│ CHN      ┆ 5.3325054e7  ┆ 0.193961 ┆ 239.849    │
└──────────┴──────────────┴──────────┴────────────┘
>>> fs.close()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from friendshore.engines import concentration, exposure, flags, trend
from friendshore.selection import Selection, trade_loads
from friendshore.store import Store
from friendshore.store.catalogue import run_query


class Friendshore:
    """A store opened for analysis; every method returns a Polars frame.

    Use it as a context manager, or call :meth:`close` when done (DuckDB lets one
    process write a store, or many read it).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> Friendshore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store (idempotent)."""
        self.store.close()

    # -- what the store holds ------------------------------------------------------
    def years(self) -> list[int]:
        """Years with trade flows, ascending."""
        return sorted(set(trade_loads(self.store)["year"].to_list()))

    def loads(self) -> pl.DataFrame:
        """The files loaded, with their sha256 (``friendshore info``)."""
        return self.store.loads()

    def sql(self, query: str, **params: Any) -> pl.DataFrame:
        """Any SQL over the public tables (``trade_flows``, ``production``, …),
        values bound as ``$name`` parameters."""
        return self.store.pl(query, params)

    def query(self, name: str, **params: str) -> pl.DataFrame:
        """A public named query (``friendshore query run NAME --param k=v``)."""
        return run_query(self.store, name, params)

    # -- the engines -----------------------------------------------------------------
    # Each takes a Selection (the rows, decided once: :meth:`selection`) or the
    # keywords one is built from, as the CLI's options are.
    def selection(self, **kwargs: Any) -> Selection:
        """The rows a call reads: keywords of
        :meth:`friendshore.selection.Selection.build` (years, importer or bloc,
        products or industry, tiers, source)."""
        return Selection.build(self.store, **kwargs)

    def exposure(
        self, selection: Selection | None = None, **kwargs: Any
    ) -> pl.DataFrame:
        """``friendshore exposure``: per product; keywords of
        :func:`friendshore.engines.exposure.product_exposure`."""
        return exposure.product_exposure(self.store, selection, **kwargs)

    def industry_exposure(
        self, selection: Selection | None = None, **kwargs: Any
    ) -> pl.DataFrame:
        """``friendshore exposure --level industry`` (a selection built with
        ``industry_level=True``); keywords of
        :func:`friendshore.engines.exposure.industry_exposure`."""
        return exposure.industry_exposure(self.store, selection, **kwargs)

    def world_concentration(
        self, selection: Selection | None = None, **kwargs: Any
    ) -> pl.DataFrame:
        """``friendshore concentration``: world supply concentration per product."""
        return concentration.world_concentration(self.store, selection, **kwargs)

    def production_concentration(self, **kwargs: Any) -> pl.DataFrame:
        """``friendshore concentration --production``: USGS production shares."""
        return concentration.production_concentration(self.store, **kwargs)

    def flags(self, selection: Selection | None = None, **kwargs: Any) -> pl.DataFrame:
        """``friendshore flags``: dependency flags (GeoDep and single-supplier); a
        selection of the window's years (``Selection.build(window=…)``)."""
        return flags.dependency_flags(self.store, selection, **kwargs)

    def trend(
        self,
        selection: Selection | None = None,
        *,
        start: int,
        end: int,
        **kwargs: Any,
    ) -> pl.DataFrame:
        """``friendshore trend``: exposure change from ``start`` to ``end``."""
        return trend.trend(self.store, selection, start=start, end=end, **kwargs)


def open(path: str | Path | None = None, *, read_only: bool = True) -> Friendshore:
    """Open a store for analysis (read-only by default, so several notebooks can).

    ``path`` defaults to ``$FRIENDSHORE_DB`` or ``./friendshore.duckdb``.
    """
    return Friendshore(Store(path, read_only=read_only))
