"""Which loads of ``trade_flows`` answer for which year.

The store may hold the same year from several sources (BACI and Comtrade), and BACI
from several releases in different HS revisions. Summing them would count a flow
twice, so every exposure metric first picks, per year, ONE source:

* ``source`` given: that source (``table`` matches every ``table:<name>``);
* otherwise the first present of ``baci`` (harmonised, mirror-reconciled),
  ``comtrade`` (reported), then ``table:<name>`` sources in name order;
* for BACI, when a year is loaded from several HS revisions, the newest revision.

The choice is expressed as ``(year, load_id)`` keys, an integer filter that costs
next to nothing inside the one-pass aggregation, and read from the small ``loads``
table (plus one ``LIMIT 1`` probe per load), never from a scan of the flows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from friendshore.errors import ParameterError
from friendshore.store import Store
from friendshore.store.layout import KEY_BASE

# Source preference when none is asked for: BACI reconciles both reporting sides.
SOURCE_ORDER = ("baci", "comtrade")

_LOAD_SCHEMA = {
    "year": pl.Int16,
    "load_id": pl.Int32,
    "source": pl.String,
    "hs_revision": pl.String,
    "basis": pl.String,
    "file_name": pl.String,
}


@dataclass(frozen=True)
class FlowSelection:
    """The loads chosen per year: ``year, load_id, source, hs_revision, basis, file_name``."""

    loads: pl.DataFrame
    # True when the chosen loads are every load of the chosen years: the per-row
    # load filter can then be skipped (it costs ~10 % of the one-pass aggregation).
    complete: bool = False

    @property
    def years(self) -> list[int]:
        """The years selected, ascending."""
        return sorted(set(self.loads["year"].to_list()))

    @property
    def revisions(self) -> list[str]:
        """HS revisions of the selected rows."""
        return sorted(set(self.loads["hs_revision"].to_list()))

    def params(self) -> dict[str, Any]:
        """The DuckDB parameters every flow query filters on."""
        keys = [
            int(y) * KEY_BASE + int(i)
            for y, i in self.loads.select("year", "load_id").iter_rows()
        ]
        years = self.years
        return {
            "all_loads": self.complete,
            "keys": keys,
            "year_min": min(years) if years else 0,
            "year_max": max(years) if years else -1,
        }

    def provenance(self) -> pl.DataFrame:
        """Per year: ``source``, ``hs_revision``, ``basis``, ``vintage`` (file names)."""

        def joined(col: str) -> pl.Expr:
            return pl.col(col).unique().sort().str.join("+")

        return (
            self.loads.group_by("year")
            .agg(
                joined("source").alias("source"),
                joined("hs_revision").alias("hs_revision"),
                joined("basis").alias("basis"),
                pl.col("file_name").unique().sort().str.join(", ").alias("vintage"),
            )
            .sort("year")
        )


def trade_loads(store: Store) -> pl.DataFrame:
    """Every load of ``trade_flows`` with its rows' source, revision and basis.

    A store that is not a DuckDB file (the Spark engine's Parquet export) answers
    from its own ``trade_loads()``: the same frame, written down at export time.
    """
    own = getattr(store, "trade_loads", None)
    if callable(own):
        return own().cast(_LOAD_SCHEMA)
    loads = store.fetchall(
        """SELECT load_id, source, file_name, years, dataset_key FROM loads
           WHERE target = 'trade_flows' ORDER BY load_id"""
    )
    rows: list[dict[str, Any]] = []
    for load_id, source, file_name, years, dataset_key in loads:
        if source == "baci" and re.fullmatch(r"HS\d{4}:\d{4}", dataset_key or ""):
            # A BACI file is one revision throughout, named in its dataset key
            # (HS2017:2022): no query per load, which a 30-year panel read one
            # year at a time would pay 30 times per year.
            rev = dataset_key.split(":")[0]
            kinds = [
                (int(y), "baci", rev, "baci") for y in (years or "").split(",") if y
            ]
        elif source == "baci":
            # A BACI file is one revision and one basis throughout: one row tells.
            kind = store.fetchall(
                """SELECT source, hs_revision, basis FROM flows
                   WHERE load_id = $id LIMIT 1""",
                {"id": load_id},
            )
            kinds = [(int(y), *kind[0]) for y in (years or "").split(",") if y and kind]
        else:
            kinds = store.fetchall(
                """SELECT DISTINCT year, source, hs_revision, basis FROM flows
                   WHERE load_id = $id""",
                {"id": load_id},
            )
        for year, src, rev, basis in kinds:
            rows.append(
                {
                    "year": year,
                    "load_id": load_id,
                    "source": src,
                    "hs_revision": rev,
                    "basis": basis,
                    "file_name": file_name,
                }
            )
    return pl.DataFrame(rows, schema=_LOAD_SCHEMA)


def loaded_years(store: Store) -> list[int]:
    """Years with trade flows in the store, ascending."""
    return sorted(set(trade_loads(store)["year"].to_list()))


def _source_rank(source: str) -> tuple[int, str]:
    if source in SOURCE_ORDER:
        return (SOURCE_ORDER.index(source), source)
    return (len(SOURCE_ORDER), source)


def _matches(source: str, wanted: str) -> bool:
    return source == wanted or source.split(":", 1)[0] == wanted


def select_flows(
    store: Store,
    years: Sequence[int] | None = None,
    *,
    source: str | None = None,
) -> FlowSelection:
    """Choose the loads that answer for each year (see the module docstring).

    Parameters
    ----------
    store
        The store.
    years
        Years wanted; ``None`` means the latest year with trade flows.
    source
        Use only this source (``baci``, ``comtrade``, ``table`` or ``table:<name>``).

    Raises
    ------
    ParameterError
        A wanted year has no flows (of the wanted source); the message lists what
        the store holds.
    """
    all_loads = trade_loads(store)
    if source is not None:
        all_loads = all_loads.filter(
            pl.col("source").map_elements(
                lambda s: _matches(s, source), return_dtype=pl.Boolean
            )
        )
    present = sorted(set(all_loads["year"].to_list()))
    of_source = f" from source {source!r}" if source else ""
    if not present:
        raise ParameterError(
            f"The store holds no trade flows{of_source}; load BACI, Comtrade or a "
            "table first (friendshore load …)."
        )
    wanted = [present[-1]] if years is None else sorted({int(y) for y in years})
    missing = [y for y in wanted if y not in present]
    if missing:
        raise ParameterError(
            f"No trade flows{of_source} for {', '.join(map(str, missing))}; "
            f"the store holds {_year_ranges(present)}."
        )
    chosen: list[pl.DataFrame] = []
    for year in wanted:
        here = all_loads.filter(pl.col("year") == year)
        if source is None:
            best = min(set(here["source"].to_list()), key=_source_rank)
            here = here.filter(pl.col("source") == best)
        if (here["source"] == "baci").all():
            # Several BACI releases of one year: the newest HS revision only.
            newest = max(here["hs_revision"].to_list())
            here = here.filter(pl.col("hs_revision") == newest)
        chosen.append(here)
    picked = pl.concat(chosen).sort("year", "load_id")
    everything = trade_loads(store) if source is not None else all_loads
    of_years = everything.filter(pl.col("year").is_in(wanted))
    contiguous = wanted == list(
        range(wanted[0], wanted[-1] + 1)
    )  # year BETWEEN is exact
    complete = contiguous and set(of_years["load_id"].to_list()) == set(
        picked["load_id"].to_list()
    )
    return FlowSelection(picked, complete=complete)


def _year_ranges(years: list[int]) -> str:
    """``2017–2019, 2022`` for a sorted list of years."""
    parts: list[str] = []
    start = prev = years[0]
    for y in [*years[1:], None]:
        if y is not None and y == prev + 1:
            prev = y
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if y is not None:
            start = prev = y
    return ", ".join(parts)
