"""Trends: change in concern share and HHI between two years, per product or industry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from friendshore._assets import query_sql
from friendshore.engines.exposure import (
    industry_exposure,
    product_exposure,
    tier_lookup,
)
from friendshore.errors import ParameterError
from friendshore.selection import Selection
from friendshore.store import Store


def trend_frame(
    start: pl.DataFrame, end: pl.DataFrame, keys: Sequence[str]
) -> pl.DataFrame:
    """Change in ``prc_share``, ``hhi`` and import value between two result frames.

    ``hs_revision_from`` / ``hs_revision_to`` carry each year's HS revision (null
    when the frames have none): codes of different revisions may not cover the
    same goods, so a change across a break is partly a change of definition.
    """
    cols = ["import_value_usd", "prc_share", "hhi"]
    rev = [c for c in ("hs_revision",) if c in start.columns and c in end.columns]
    a = start.select(*keys, "year", *cols, *rev)
    b = end.select(*keys, "year", *cols, *rev)
    out = a.join(b, on=list(keys), how="full", suffix="_to", coalesce=True).rename(
        {"year": "year_from", **{c: f"{c}_from" for c in [*cols, *rev]}}
    )
    if not rev:
        out = out.with_columns(
            pl.lit(None, dtype=pl.String).alias("hs_revision_from"),
            pl.lit(None, dtype=pl.String).alias("hs_revision_to"),
        )
    return (
        out.with_columns(
            (pl.col("prc_share_to") - pl.col("prc_share_from")).alias(
                "prc_share_change"
            ),
            (pl.col("hhi_to") - pl.col("hhi_from")).alias("hhi_change"),
            (
                pl.col("import_value_usd_to") / pl.col("import_value_usd_from") - 1.0
            ).alias("import_value_change"),
        )
        .select(
            *keys,
            "year_from",
            "year_to",
            "import_value_usd_from",
            "import_value_usd_to",
            "import_value_change",
            "prc_share_from",
            "prc_share_to",
            "prc_share_change",
            "hhi_from",
            "hhi_to",
            "hhi_change",
            "hs_revision_from",
            "hs_revision_to",
        )
        .sort(list(keys))
    )


def revision_break_note(df: pl.DataFrame) -> str | None:
    """A one-line warning when a trend frame compares codes of two HS revisions."""
    if not {"hs_revision_from", "hs_revision_to"} <= set(df.columns):
        return None
    pairs = (
        df.filter(
            pl.col("hs_revision_from").is_not_null()
            & pl.col("hs_revision_to").is_not_null()
            & (pl.col("hs_revision_from") != pl.col("hs_revision_to"))
        )
        .select("hs_revision_from", "hs_revision_to")
        .unique()
        .sort("hs_revision_from", "hs_revision_to")
    )
    if pairs.height == 0:
        return None
    shown = ", ".join(f"{a} → {b}" for a, b in pairs.iter_rows())
    return (
        f"the years compared use different HS revisions ({shown}): a code may not "
        "cover the same goods in both, so part of a change can be a change of "
        "definition (see hs_revision_from / hs_revision_to)"
    )


def trend(
    store: Store,
    selection: Selection | None = None,
    *,
    start: int,
    end: int,
    level: str = "product",
    **kwargs: Any,
) -> pl.DataFrame:
    """Change in ``prc_share`` and ``hhi`` between two years, per product or industry.

    Parameters
    ----------
    selection
        The rows of the two years (:meth:`Selection.build` with ``years=[start,
        end]``, ``industry_level`` for the industry level); or give the keyword
        arguments of :func:`product_exposure` / :func:`industry_exposure` (not
        ``year``), from which one is built.
    start, end
        The two years compared (``end`` minus ``start``).
    level
        ``product`` (per importer and hs6) or ``industry``.

    Returns
    -------
    polars.DataFrame
        Keys, then ``year_from, year_to``, ``*_from``, ``*_to`` and ``*_change``
        for import value (relative change), ``prc_share`` and ``hhi`` (differences
        in share points, 0–1), then ``hs_revision_from, hs_revision_to`` (the HS
        revision of each year; :func:`revision_break_note` words the warning when
        they differ). A product present in only one year has null changes.

    Examples
    --------
    >>> trend(store, start=2020, end=2023, importer="USA", industry="batteries")
    ... # doctest: +SKIP
    """
    if "year" in kwargs or "years" in kwargs:
        raise ParameterError("trend takes start and end, not year/years")
    if start == end:
        raise ParameterError(
            f"start and end are both {start}; give two different years"
        )
    if level not in ("product", "industry"):
        raise ParameterError(f"level {level!r}: expected 'product' or 'industry'")
    sel = selection or Selection.build(
        store, years=[start, end], industry_level=level == "industry", **kwargs
    )
    if set(sel.years) != {start, end}:
        raise ParameterError(f"the selection holds {sel.years}, not {start} and {end}")
    if level == "product" and sel.bloc is None and sel.industry is None:
        # An industry's codes differ by revision year to year: the exposure route.
        return product_trend(store, sel, start=start, end=end)
    keys: list[str]
    if level == "product":
        both, keys = product_exposure(store, sel), ["importer", "hs6"]
    else:
        both, keys = industry_exposure(store, sel), ["importer", "industry"]
    return trend_frame(
        both.filter(pl.col("year") == start), both.filter(pl.col("year") == end), keys
    ).with_columns(
        pl.col("year_from").fill_null(start), pl.col("year_to").fill_null(end)
    )


def product_trend(
    store: Store, sel: Selection, *, start: int, end: int
) -> pl.DataFrame:
    """:func:`trend` per importer and product, from one pass over the two years.

    The same figures as joining two :func:`product_exposure` years (tests hold
    the two routes equal), from the sums of ``queries/trend_product.sql``: one
    aggregation over both years' flows, no million-row join in Polars. That keeps
    an all-importer trend within about twice one year's exposure (issue 17).
    """
    params = sel.params()
    # Two years apart are not one BETWEEN range, but each may still be complete.
    all_loads = {start, end} <= sel.loads.complete_years
    lo, hi = min(start, end), max(start, end)
    lookup = tier_lookup(store, sel.tiers, lo, hi)
    raw = store.pl(
        query_sql("trend_product"),
        {
            "all_loads": all_loads,
            "keys": params["keys"],
            "year_from": start,
            "year_to": end,
            "year_min": lo,
            "year_max": hi,
            "importer": sel.importer,
            "all_hs": params["all_hs"],
            "hs": params["hs"],
        }
        | lookup,
    )

    def share(col: str, when: str) -> pl.Expr:
        return pl.col(f"{col}_{when}") / pl.col(f"v_{when}")

    revs = dict(sel.provenance().select("year", "hs_revision").iter_rows())

    def revision(when: str, year: int) -> pl.Expr:
        # The year's revision on the rows that year has (as the exposure route).
        return (
            pl.when(pl.col(f"v_{when}").is_not_null())
            .then(pl.lit(revs.get(year), dtype=pl.String))
            .alias(f"hs_revision_{when}")
        )

    hhi = {
        w: pl.col(f"v2_{w}") / (pl.col(f"v_{w}") * pl.col(f"v_{w}"))
        for w in ("from", "to")
    }
    return raw.select(
        "importer",
        "hs6",
        pl.lit(start, dtype=pl.Int16).alias("year_from"),
        pl.lit(end, dtype=pl.Int16).alias("year_to"),
        pl.col("v_from").alias("import_value_usd_from"),
        pl.col("v_to").alias("import_value_usd_to"),
        (pl.col("v_to") / pl.col("v_from") - 1.0).alias("import_value_change"),
        share("concern_v", "from").alias("prc_share_from"),
        share("concern_v", "to").alias("prc_share_to"),
        (share("concern_v", "to") - share("concern_v", "from")).alias(
            "prc_share_change"
        ),
        hhi["from"].alias("hhi_from"),
        hhi["to"].alias("hhi_to"),
        (hhi["to"] - hhi["from"]).alias("hhi_change"),
        revision("from", start),
        revision("to", end),
    )
