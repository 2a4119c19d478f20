"""Supply concentration: world exports per product, and production per commodity.

* :func:`world_concentration` — per (year, hs6): every exporter's share of world
  exports (all destinations summed), HHI on the 0–1 scale, the leading exporter and
  the concern group's share. Residual areas (``XRW``, X-codes) count in the total
  only (``hhi``/``hhi_max``/``coverage`` as in :mod:`friendshore.engines.exposure`).
* :func:`production_concentration` — per USGS (edition, commodity, stage, year):
  shares over the listed countries' sum, with "Other countries" (``XOT``) one
  unspecified producer and the published rounded world total (``WLD``) never a
  producer but kept beside the sum; a gap of more than 5 % between the two is
  flagged. Each figure keeps its edition (MCS2024 and MCS2025 differ for 2023).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from friendshore._assets import query_sql
from friendshore.engines.exposure import tier_lookup
from friendshore.errors import UnknownNameError
from friendshore.reference.industries import IndustryMap
from friendshore.reference.registry import DEFAULT_CONCERN, Registry, load_registry
from friendshore.selection import Selection, members_frame
from friendshore.store import Store

# DESIGN.md: a gap of more than 5 % between the listed sum and the published total.
GAP_THRESHOLD_PCT = 5.0


def world_concentration(
    store: Store,
    selection: Selection | None = None,
    *,
    year: int | None = None,
    years: Sequence[int] | None = None,
    hs: Sequence[str] | None = None,
    industry: str | None = None,
    concern: str = DEFAULT_CONCERN,
    registry: Registry | None = None,
    industries: IndustryMap | None = None,
    source: str | None = None,
) -> pl.DataFrame:
    """World export concentration per (year, hs6).

    ``selection`` (or the arguments, as for
    :func:`friendshore.engines.exposure.product_exposure`) names the years and
    products; its importer, if any, plays no part: every exporter's world exports.

    Returns
    -------
    polars.DataFrame
        ``year, hs6, world_exports_usd, n_exporters, hhi, hhi_max, coverage,
        top_exporter, top_share, concern, prc_share`` and provenance ``source,
        hs_revision``. ``prc_share`` is the concern group's share of world exports
        (as of the year). Residual and unspecified exporters (``XRW``, X-codes)
        count in ``world_exports_usd`` only: ``hhi`` spreads them thin,
        ``hhi_max`` takes them as one exporter, ``coverage`` is the named
        exporters' share. Year defaults to the latest loaded.

    Examples
    --------
    >>> world_concentration(store, hs=["850511"], year=2022)  # doctest: +SKIP
    """
    sel = selection or Selection.build(
        store,
        year=year,
        years=years,
        hs=hs,
        industry=industry,
        concern=concern,
        registry=registry,
        industries=industries,
        source=source,
    )
    params = sel.params()
    lookup = tier_lookup(store, sel.tiers, params["year_min"], params["year_max"])
    raw = store.pl(query_sql("world_concentration"), params | lookup)
    v = pl.col("world_exports_usd")
    res = pl.col("residual_v").fill_null(0.0)
    prov = sel.provenance().select(
        pl.col("year").cast(pl.Int16), "source", "hs_revision"
    )
    return (
        raw.select(
            pl.col("year").cast(pl.Int16),
            "hs6",
            v,
            pl.col("n_exporters").cast(pl.Int64),
            (pl.col("v2") / (v * v)).alias("hhi"),
            ((pl.col("v2") + res * res) / (v * v)).alias("hhi_max"),
            ((v - res).clip(lower_bound=0.0) / v).alias("coverage"),
            "top_exporter",
            (pl.col("top_v") / v).alias("top_share"),
            pl.lit(sel.concern).alias("concern"),
            (pl.col("concern_v").fill_null(0.0) / v).alias("prc_share"),
        )
        .join(prov, on="year", how="left")
        .sort("year", "hs6")
    )


def production_concentration(
    store: Store,
    *,
    commodity: str | None = None,
    stage: str | None = None,
    year: int | None = None,
    edition: str | None = None,
    concern: str = DEFAULT_CONCERN,
    registry: Registry | None = None,
) -> pl.DataFrame:
    """Production concentration per (edition, commodity, stage, year) from USGS.

    Parameters
    ----------
    commodity, stage, year, edition
        Filters (``None``: all). Commodity names as stored (lower case, e.g.
        ``rare earths``); stage ``mine``, ``refinery``, …; edition ``MCS2024``.
    concern, registry
        The registry group whose share ``prc_share`` is (members as of each
        year; default ``prc``: China, Hong Kong, Macau).

    Returns
    -------
    polars.DataFrame
        ``edition, commodity, stage, year, series, unit, listed_total, hhi,
        hhi_max, coverage, concern, prc_share`` (the concern group's share of the
        listed sum), ``top_country, top_share, n_producers, n_withheld,
        world_total, gap_pct, gap_flag``. "Other countries" (``XOT``) is a
        residual: in ``listed_total`` only; ``hhi`` spreads it thin, ``hhi_max``
        takes it as one producer, ``coverage`` is the named countries' share;
        it is never ``top_country``. ``series`` is the USGS Type text where one
        stage has several published world totals (platinum, palladium), else null.
        ``gap_pct`` = 100 × (listed − world) / world; ``gap_flag`` when
        ``|gap_pct|`` > 5. Rows of different editions differ for the same year
        (MCS2024 and MCS2025 revise 2023): rank within one edition, or say so.

    Raises
    ------
    UnknownNameError
        A commodity, stage or edition the store has no rows for.

    Examples
    --------
    >>> production_concentration(store, commodity="rare earths", stage="mine",
    ...                          edition="MCS2024", year=2023)  # doctest: +SKIP
    """
    years = [int(y) for (y,) in store.fetchall("SELECT DISTINCT year FROM production")]
    members = members_frame(registry or load_registry(), concern, years)
    store.register("_production_concern", members)
    try:
        raw = store.pl(query_sql("production_concentration"))
    finally:
        store.unregister("_production_concern")
    filters = {"commodity": commodity, "stage": stage, "edition": edition}
    for col, value in filters.items():
        if value is None:
            continue
        known = sorted(set(raw[col].to_list()))
        wanted = value.strip().lower() if col != "edition" else value.strip().upper()
        if wanted not in known:
            raise UnknownNameError(col, value, known)
        raw = raw.filter(pl.col(col) == wanted)
    if year is not None:
        raw = raw.filter(pl.col("year") == year)
    # A series with only a published total and no listed producer has no shares.
    raw = raw.filter(pl.col("listed_total").is_not_null() | (pl.col("n_withheld") > 0))
    total = pl.col("listed_total")
    gap = 100.0 * (total - pl.col("world_total")) / pl.col("world_total")
    return raw.select(
        "edition",
        "commodity",
        "stage",
        pl.col("year").cast(pl.Int16),
        "series",
        "unit",
        total,
        (pl.col("q2") / (total * total)).alias("hhi"),
        ((pl.col("q2") + pl.col("other_q") ** 2) / (total * total)).alias("hhi_max"),
        ((total - pl.col("other_q")) / total).alias("coverage"),
        pl.lit(concern).alias("concern"),
        (pl.col("concern_q") / total).alias("prc_share"),
        "top_country",
        (pl.col("top_quantity") / total).alias("top_share"),
        pl.col("n_producers").cast(pl.Int64),
        pl.col("n_withheld").cast(pl.Int64),
        "world_total",
        gap.alias("gap_pct"),
        (gap.abs() > GAP_THRESHOLD_PCT).alias("gap_flag"),
    )
