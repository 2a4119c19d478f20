"""Trends: change in concern share and HHI between two years, per product or industry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from friendshore.errors import ParameterError
from friendshore.exposure import industry_exposure, product_exposure
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
    *,
    start: int,
    end: int,
    level: str = "product",
    **kwargs: Any,
) -> pl.DataFrame:
    """Change in ``prc_share`` and ``hhi`` between two years, per product or industry.

    Parameters
    ----------
    start, end
        The two years compared (``end`` minus ``start``).
    level
        ``product`` (per importer and hs6) or ``industry``.
    **kwargs
        As for :func:`product_exposure` / :func:`industry_exposure` (not ``year``).

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
    if level == "product":
        fn, keys = product_exposure, ["importer", "hs6"]
    elif level == "industry":
        fn, keys = industry_exposure, ["importer", "industry"]
    else:
        raise ParameterError(f"level {level!r}: expected 'product' or 'industry'")
    both = fn(store, years=[start, end], **kwargs)
    return trend_frame(
        both.filter(pl.col("year") == start), both.filter(pl.col("year") == end), keys
    ).with_columns(
        pl.col("year_from").fill_null(start), pl.col("year_to").fill_null(end)
    )
