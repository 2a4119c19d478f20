"""Import exposure: concentration and concern (PRC) shares by product, industry, bloc.

The metric definitions are DESIGN.md's. For an importer j (or a bloc), a product k
(HS6) and a year t, with v_i the import value from supplier i and V = Σ v_i::

    import_value_usd = V            hhi = Σ_{i named} v_i² / V²   (0–1)
    coverage = Σ_{i named} v_i / V  hhi_max = (Σ_{i named} v_i² + R²) / V²
    prc_share        = Σ_{i ∈ concern} v_i / V          (the group --concern names)
    ally_share, partner_share, other_share              (registry tiers, as of t)

DuckDB does the heavy part in ONE ``GROUP BY`` over the store's integer-coded flows
(Σv, Σv², count, arg-max, Σv per tier, each flow's tier looked up by exporter id in a
list built by :func:`tier_lookup`; ``queries/exposure_*.sql``), names countries and
products only in the aggregated result, hands Arrow to Polars, and Polars turns the
sums into ratios.

Residual and unspecified areas (``XRW`` the unexplained rest of a World total,
``X697`` Europe EFTA nes, …; R their value) count in V and nowhere else (DESIGN.md):
never an importer row, the top supplier, a concern, ally or partner, nor one of
``n_suppliers``. ``hhi`` takes the residual as spread over many small suppliers (a
lower bound), ``hhi_max`` as one supplier (an upper bound); ``coverage`` says how
much of V the named suppliers account for. Rows with value ≤ 0 are not suppliers.

Product rows use six-digit codes only; Comtrade's four-digit aggregates are read
only when asked for explicitly (``hs=["8505"]``). Which source answers for which
year is decided by :mod:`friendshore.selection` (one source per year, so no
flow is counted twice); every row carries that provenance (``source``,
``hs_revision``, ``basis``, ``vintage``).

Every function reads the rows one :class:`~friendshore.selection.Selection` decided
(the registry tiers, bloc members and industry codes in it are plain Polars frames, so
a test can build one by hand); the public functions (:func:`product_exposure`,
:func:`industry_exposure`, :func:`exposure_by_year`) also take the keywords one is
built from.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import polars as pl

from friendshore._assets import query_sql
from friendshore.errors import ParameterError
from friendshore.reference import countries
from friendshore.reference.industries import IndustryMap, load_industries
from friendshore.reference.registry import DEFAULT_CONCERN, Registry
from friendshore.selection import Selection, industry_codes
from friendshore.store import Store

TIER_CODES = {"concern": 1, "ally": 2, "partner": 3}
# Tier code of residual and unspecified areas (XRW, X + code): in totals only.
RESIDUAL_CODE = 9

# Registered (temporary) table names the exposure queries read.
TIERS_TABLE = "_exposure_tiers"
MEMBERS_TABLE = "_exposure_members"

PRODUCT_COLUMNS = [
    "year",
    "importer",
    "hs6",
    "import_value_usd",
    "n_suppliers",
    "top_supplier",
    "top_supplier_share",
    "concern",
    "prc_share",
    "hhi",
    "hhi_max",
    "coverage",
    "ally_share",
    "partner_share",
    "other_share",
]
PROVENANCE_COLUMNS = ["source", "hs_revision", "basis", "vintage"]


# -- inputs ------------------------------------------------------------------------


def left_out(
    industries: IndustryMap, industry: str | None, revisions: Sequence[str]
) -> pl.DataFrame:
    """``industry, hs_revision, left_out_hs6``: the codes a roll-up leaves out as
    broader than the input (comma-separated), per industry and revision."""
    frames = [industries.broader(industry, rev) for rev in revisions]
    return (
        pl.concat(frames)
        .group_by("industry", "hs_revision")
        .agg(pl.col("hs6").sort().str.join(", ").alias("left_out_hs6"))
    )


def left_out_of(df: pl.DataFrame, industry: str | None) -> list[str]:
    """``industry hs6, … (revision)`` for each industry whose codes broader than
    its inputs were left out of ``df`` (exposure rows with ``hs_revision``)."""
    if df.is_empty() or "hs_revision" not in df.columns:
        return []
    revisions = sorted(
        {r for v in df["hs_revision"].unique().to_list() for r in v.split("+")}
    )
    gone = left_out(load_industries(), industry, revisions)
    if industry is None and "industry" in df.columns:
        gone = gone.filter(pl.col("industry").is_in(df["industry"].unique().to_list()))
    merged = (
        gone.group_by("industry", "left_out_hs6")
        .agg(pl.col("hs_revision").sort().str.join("+"))
        .sort("industry", "hs_revision")
    )
    return [
        f"{r['industry']} {r['left_out_hs6']} ({r['hs_revision']})"
        for r in merged.iter_rows(named=True)
    ]


def _in_revision(products: pl.DataFrame, codes: pl.DataFrame) -> pl.DataFrame:
    """Product rows joined with the industry codes of the row's own HS revision.

    A code means different goods in different revisions (811292 lost hafnium and
    rhenium in HS2022), so a row counts for an industry only where the code is the
    industry's in the revision that row was loaded in (a year whose sources mix
    revisions carries ``HS2017+HS2022``: either will do).
    """
    if "hs_revision" not in products.columns or "hs_revision" not in codes.columns:
        return products.join(
            codes.select("industry", "hs6").unique(),
            on="hs6",
            how="inner",
            maintain_order="left",  # product rows stay in key order
        )
    coded = codes.select("industry", "hs6", pl.col("hs_revision").alias("_code_rev"))
    return (
        products.join(coded, on="hs6", how="inner", maintain_order="left")
        .filter(pl.col("hs_revision").str.split("+").list.contains(pl.col("_code_rev")))
        .drop("_code_rev")
    )


# -- the engine ----------------------------------------------------------------------


def residual(col: str) -> pl.Expr:
    """True where ``col`` holds a residual or unspecified area code (XRW, X + code)."""
    return pl.col(col).str.contains(countries.RESIDUAL_PATTERN).fill_null(False)


def coded_tiers(tiers: pl.DataFrame) -> pl.DataFrame:
    """``year, iso3, tier_code`` of the registry tiers (residual areas left out)."""
    known = tiers.filter(pl.col("tier").is_in(list(TIER_CODES)) & ~residual("iso3"))
    return known.select(
        pl.col("year").cast(pl.Int16),
        pl.col("iso3"),
        pl.col("tier")
        .replace_strict(TIER_CODES, return_dtype=pl.Int8)
        .alias("tier_code"),
    )


def tier_lookup(
    store: Store, tiers: pl.DataFrame, year_min: int, year_max: int
) -> dict[str, Any]:
    """The ``tier_codes``/``n_ids`` parameters of the coded-flows queries.

    One flat list, ``tier_codes[(year - year_min) * n_ids + id]`` the tier code
    (:data:`TIER_CODES`, 0 = other) of country ``id`` in ``year``: the queries look
    each flow's exporter up in it instead of joining a tiers table per row.
    """
    ids = store.country_positions()
    years = pl.DataFrame(
        {"year": range(year_min, year_max + 1)}, schema={"year": pl.Int16}
    )
    codes = (
        years.join(ids, how="cross")
        .join(coded_tiers(tiers), on=["year", "iso3"], how="left")
        .sort("year", "id")
        .select(
            # A residual area is never a tier, whatever a registry list says.
            pl.when(residual("iso3"))
            .then(pl.lit(RESIDUAL_CODE, dtype=pl.Int8))
            .otherwise(pl.col("tier_code").fill_null(0))
        )
        .to_series()
    )
    n_ids = ids.height
    return {"tier_codes": codes.to_list(), "n_ids": n_ids}


def exposure_frame(store: Store, sel: Selection) -> pl.DataFrame:
    """Product-level exposure of the selected rows.

    ``sel`` carries everything (tests build one by hand with injected tiers and
    members): the loads per year, ``tiers`` (``year, iso3, tier``; absent
    countries are other), one importer (``None`` with no bloc: every importer) or
    a bloc and its ``members`` (as of each year: the members' imports are summed
    per supplier, flows from members excluded unless ``include_intra``), and the
    products (``None``: every six-digit code).

    Returns
    -------
    polars.DataFrame
        :data:`PRODUCT_COLUMNS` except ``concern`` and provenance, sorted by
        ``year, importer, hs6``.
    """
    params = sel.params()
    if sel.bloc is None:
        lookup = tier_lookup(store, sel.tiers, params["year_min"], params["year_max"])
        raw = store.pl(
            query_sql("exposure_product"), params | lookup | {"importer": sel.importer}
        )
        return ratios(raw)
    if sel.members is None:
        raise ParameterError(f"bloc {sel.bloc!r} needs its members")
    store.register(TIERS_TABLE, bloc_tiers(store, sel.tiers, sel.years))
    store.register(
        MEMBERS_TABLE, sel.members.with_columns(pl.col("year").cast(pl.Int16))
    )
    try:
        raw = store.pl(
            query_sql("exposure_bloc"),
            params | {"bloc": sel.bloc, "include_intra": sel.include_intra},
        )
    finally:
        store.unregister(MEMBERS_TABLE)
        store.unregister(TIERS_TABLE)
    return ratios(raw)


def bloc_tiers(store: Store, tiers: pl.DataFrame, years: Sequence[int]) -> pl.DataFrame:
    """:func:`coded_tiers` plus every stored residual area as tier 9 in each year."""
    codes = store.country_positions().filter(residual("iso3")).select("iso3")
    rows = pl.DataFrame({"year": list(years)}, schema={"year": pl.Int16}).join(
        codes, how="cross"
    )
    return pl.concat(
        [
            coded_tiers(tiers),
            rows.with_columns(pl.lit(RESIDUAL_CODE, dtype=pl.Int8).alias("tier_code")),
        ]
    )


def ratios(raw: pl.DataFrame) -> pl.DataFrame:
    """Turn the one-pass sums (v, v2, n, top_v, concern_v, …) into the metrics.

    ``hhi`` counts the residual (``residual_v``) as spread over many small
    suppliers (nothing in Σv²), ``hhi_max`` as one more supplier; ``coverage`` is
    the named suppliers' share of V.
    """
    v = pl.col("v")
    res = pl.col("residual_v").fill_null(0.0)

    def share(col: str) -> pl.Expr:
        return pl.col(col).fill_null(0.0) / v

    out = raw.with_columns(
        share("concern_v").alias("prc_share"),
        share("ally_v").alias("ally_share"),
        share("partner_v").alias("partner_share"),
    ).select(
        pl.col("year").cast(pl.Int16),
        pl.col("importer"),
        pl.col("hs6"),
        v.alias("import_value_usd"),
        pl.col("n").cast(pl.Int64).alias("n_suppliers"),
        pl.col("top_supplier"),
        (pl.col("top_v") / v).alias("top_supplier_share"),
        pl.col("prc_share"),
        (pl.col("v2") / (v * v)).alias("hhi"),
        ((pl.col("v2") + res * res) / (v * v)).alias("hhi_max"),
        ((v - res).clip(lower_bound=0.0) / v).alias("coverage"),
        pl.col("ally_share"),
        pl.col("partner_share"),
        # The remainder (clipped at 0 against rounding): the four shares sum to 1.
        (
            (
                v
                - pl.col("concern_v").fill_null(0.0)
                - pl.col("ally_v").fill_null(0.0)
                - pl.col("partner_v").fill_null(0.0)
            ).clip(lower_bound=0.0)
            / v
        ).alias("other_share"),
    )
    return out


def with_provenance(df: pl.DataFrame, sel: Selection) -> pl.DataFrame:
    """Add ``concern`` and the per-year provenance columns of the selection."""
    prov = sel.provenance().with_columns(pl.col("year").cast(pl.Int16))
    out = df.with_columns(pl.lit(sel.concern).alias("concern"))
    if prov.height == 1:  # one year: constants, no join over the (large) result
        out = out.with_columns(
            pl.lit(v).alias(k)
            for k, v in prov.row(0, named=True).items()
            if k != "year"
        )
    else:  # a lookup per year keeps the rows' order, unlike a join
        years = prov["year"]
        out = out.with_columns(
            pl.col("year")
            .replace_strict(years, prov[k], default=None, return_dtype=pl.String)
            .alias(k)
            for k in PROVENANCE_COLUMNS
        )
    front = [c for c in PRODUCT_COLUMNS if c in out.columns]
    rest = [c for c in out.columns if c not in front and c not in PROVENANCE_COLUMNS]
    return out.select(*front, *rest, *PROVENANCE_COLUMNS)


def rollup_industries(products: pl.DataFrame, codes: pl.DataFrame) -> pl.DataFrame:
    """Import-value-weighted roll-up of product rows over each industry's HS6 inputs.

    Parameters
    ----------
    products
        Product rows (:func:`exposure_frame` output, optionally with
        ``lookthrough_prc_share`` and provenance).
    codes
        ``industry, hs6`` [``hs_revision``]: the inputs of each industry (a product
        may feed several); with ``hs_revision`` on both sides a row counts only for
        the codes of its own revision.

    Returns
    -------
    polars.DataFrame
        Per (year, importer, industry): ``import_value_usd`` (Σ V_k),
        ``n_products`` (inputs with imports), each share and ``hhi`` as the
        V_k-weighted mean of the product figures, and the most exposed input
        (``top_prc_hs6``, ``top_prc_share``: the largest concern value, ties to the
        lower code; null when no input has any).
    """
    share_cols = [
        c
        for c in (
            "prc_share",
            "lookthrough_prc_share",
            "hhi",
            "hhi_max",
            "coverage",
            "ally_share",
            "partner_share",
            "other_share",
            "top_supplier_share",
        )
        if c in products.columns
    ]
    w = pl.col("import_value_usd")
    keys = ["year", "importer", "industry"]
    joined = _in_revision(products, codes)
    extra = [c for c in ("concern", *PROVENANCE_COLUMNS) if c in products.columns]
    out = (
        joined.with_columns((w * pl.col("prc_share")).alias("_concern_v"))
        .group_by(keys)
        .agg(
            w.sum().alias("import_value_usd"),
            pl.len().cast(pl.Int64).alias("n_products"),
            *[((pl.col(c) * w).sum() / w.sum()).alias(c) for c in share_cols],
            # Ties go to the lower code, so the pick does not depend on row order;
            # with no concern value at all there is no most exposed input (null).
            pl.col("hs6")
            .sort_by("_concern_v", "hs6", descending=[True, False])
            .first()
            .alias("top_prc_hs6"),
            pl.col("prc_share")
            .sort_by("_concern_v", "hs6", descending=[True, False])
            .first()
            .alias("top_prc_share"),
            (pl.col("_concern_v").max() > 0).alias("_any_concern"),
            *[pl.col(c).first() for c in extra],
        )
        .with_columns(
            pl.when("_any_concern").then(pl.col(c)).alias(c)
            for c in ("top_prc_hs6", "top_prc_share")
        )
        .drop("_any_concern")
        .sort(keys)
    )
    front = [*keys, "import_value_usd", "n_products"]
    if "concern" in extra:
        front.append("concern")
    tail = [c for c in PROVENANCE_COLUMNS if c in extra]
    middle = [c for c in out.columns if c not in front and c not in tail]
    return out.select(*front, *middle, *tail)


# -- public API -----------------------------------------------------------------------


def product_exposure(
    store: Store,
    selection: Selection | None = None,
    *,
    year: int | None = None,
    years: Sequence[int] | None = None,
    importer: str | None = None,
    bloc: str | None = None,
    hs: Sequence[str] | None = None,
    industry: str | None = None,
    concern: str = DEFAULT_CONCERN,
    allies: Sequence[str] | None = None,
    partners: Sequence[str] | None = None,
    include_intra: bool = False,
    lookthrough: bool = False,
    registry: Registry | None = None,
    industries: IndustryMap | None = None,
    source: str | None = None,
    include_broader: bool = False,
) -> pl.DataFrame:
    """Exposure per (year, importer or bloc, hs6).

    Parameters
    ----------
    store
        The store (read only is enough).
    selection
        The rows, decided once (:class:`friendshore.selection.Selection`); or give
        the arguments below, from which one is built.
    year, years
        One year or several; neither means the latest year with trade flows.
    importer, bloc
        One importer (ISO3) or a registry group summed as a bloc (members as of
        each year; flows between members excluded unless ``include_intra``).
        Neither: every importer.
    hs, industry
        Products: explicit codes (six digits; four for Comtrade HS4 aggregates) or
        an industry's HS6 inputs (in each year's HS revision). Neither: every
        six-digit product.
    concern, allies, partners
        Registry groups for the tiers (defaults: ``prc``; ``us-treaty-allies``;
        every other non-concern group). Tiers are as of each row's year.
    lookthrough
        Add ``lookthrough_prc_share`` (and ``lookthrough_coverage``), following
        the industry map's upstream chain (see :mod:`friendshore.engines.lookthrough`).
    registry, industries
        Injected reference data (default: the bundled ones).
    source
        Use only this source (see :mod:`friendshore.selection`).
    include_broader
        Also count an industry's codes that are broader than its inputs in the
        data's revision (``scope = broader`` in the industry map: HS2017 854140
        holds PV cells and modules beside the infrared detectors of ``optics``);
        left out by default.

    Returns
    -------
    polars.DataFrame
        ``year, importer, hs6, import_value_usd, n_suppliers, top_supplier,
        top_supplier_share, concern, prc_share, hhi, hhi_max, coverage,
        ally_share, partner_share, other_share`` [``lookthrough_prc_share,
        lookthrough_coverage``] and the provenance ``source, hs_revision, basis,
        vintage``. For a bloc, ``importer`` holds the group name. Residual areas
        (X-codes) count in ``import_value_usd`` and ``other_share`` only; a product
        bought only from them has a null ``top_supplier``. When suppliers tie for the
        largest value, ``top_supplier`` names one of them. Rows are sorted
        by ``year, importer, hs6`` (the store sorts them on its integer keys, far
        cheaper than sorting the million rows of an all-importer year here).

    Examples
    --------
    >>> df = product_exposure(store, importer="USA", industry="permanent-magnets")
    ... # doctest: +SKIP
    """
    sel = selection or Selection.build(
        store,
        year=year,
        years=years,
        importer=importer,
        bloc=bloc,
        hs=hs,
        industry=industry,
        concern=concern,
        allies=allies,
        partners=partners,
        include_intra=include_intra,
        registry=registry,
        industries=industries,
        source=source,
        need_industries=lookthrough,
        include_broader=include_broader,
    )
    df = exposure_frame(store, sel)
    if lookthrough:
        from friendshore.engines.lookthrough import add_lookthrough

        imap = sel.industries or load_industries()
        upstream = pl.concat(
            [
                imap.upstream(rev, include_broader=sel.include_broader)
                for rev in sel.revisions
            ]
        ).unique()
        df = add_lookthrough(store, df, sel, upstream)
    out = with_provenance(df, sel)
    if sel.industry is not None and sel.codes is not None:
        # Each year keeps only the codes of the revision it was loaded in.
        out = (
            _in_revision(out, sel.codes)
            .drop("industry")
            .unique(["year", "importer", "hs6"], maintain_order=True)
        )
    return out


def industry_exposure(
    store: Store, selection: Selection | None = None, **kwargs: Any
) -> pl.DataFrame:
    """Exposure per (year, importer or bloc, industry): product rows rolled up.

    ``selection`` (built with ``industry_level=True``), or the keyword arguments of
    :func:`product_exposure` except ``hs``; no ``industry`` gives every industry of
    the map. Each share and ``hhi`` is the import-value-weighted mean over the
    industry's HS6 inputs in the revision each year was loaded in
    (:func:`rollup_industries`). ``left_out_hs6`` names the codes left out as
    broader than the industry's inputs in that revision (``include_broader=True``
    counts them).

    Examples
    --------
    >>> industry_exposure(store, importer="USA", year=2023)  # doctest: +SKIP
    """
    if kwargs.get("hs") is not None:
        raise ParameterError("the industry level takes an industry, not HS codes")
    lookthrough = bool(kwargs.pop("lookthrough", False))
    sel = selection or Selection.build(store, industry_level=True, **kwargs)
    industries = sel.industries or load_industries()
    industry, broader = sel.industry, sel.include_broader
    products = product_exposure(store, sel, lookthrough=lookthrough)
    revisions = sorted(
        {r for v in products["hs_revision"].unique().to_list() for r in v.split("+")}
    ) or ["HS2017"]
    if sel.codes is not None and set(revisions) <= set(sel.codes["hs_revision"]):
        # The selection already holds these codes (in these revisions and more).
        codes = sel.codes.filter(pl.col("hs_revision").is_in(revisions))
    else:
        codes = industry_codes(industries, industry, revisions, include_broader=broader)
    out = rollup_industries(products, codes)
    if broader:
        return out.with_columns(pl.lit(None, dtype=pl.String).alias("left_out_hs6"))
    # Say which codes were left out, per the revision(s) of each row's year.
    gone = left_out(industries, industry, revisions)
    keyed = out.with_columns(
        pl.col("hs_revision").str.split("+").alias("_rev")
    ).explode("_rev")
    noted = (
        keyed.join(
            gone.rename({"hs_revision": "_rev"}),
            on=["industry", "_rev"],
            how="left",
        )
        .group_by(["year", "importer", "industry"], maintain_order=True)
        .agg(
            pl.col("left_out_hs6")
            .drop_nulls()
            .str.split(", ")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .unique()
            .sort()
            .str.join(", ")
        )
        .with_columns(
            pl.when(pl.col("left_out_hs6") != "").then(pl.col("left_out_hs6"))
        )
    )
    return out.join(noted, on=["year", "importer", "industry"], how="left")


def exposure_by_year(
    store: Store,
    selection: Selection | None = None,
    *,
    level: str = "product",
    lookthrough: bool = False,
    **kwargs: Any,
) -> Iterator[pl.DataFrame]:
    """The exposure of each year in turn, ascending: a panel in one year's memory.

    The same rows, in the same order, as one :func:`product_exposure` (or, with
    ``level="industry"``, :func:`industry_exposure`) call over the selection's
    years, but each year's frame can be written and dropped before the next is
    computed, so a 30-year panel needs the memory of one year, not thirty. The
    selection (or the keyword arguments of :func:`product_exposure`) is resolved
    before the first year is computed (a year not loaded fails at once).

    Examples
    --------
    >>> for df in exposure_by_year(store, years=range(1995, 2025)):  # doctest: +SKIP
    ...     writer.write(df)
    """
    if kwargs.get("year") is not None:
        raise ParameterError("exposure_by_year takes years, not year")
    kwargs.pop("year", None)
    if level not in ("product", "industry"):
        raise ParameterError(f"level {level!r}: expected 'product' or 'industry'")
    sel = selection or Selection.build(
        store, industry_level=level == "industry", need_industries=lookthrough, **kwargs
    )
    for y in sel.years:
        one = sel.only([y])
        if level == "industry":
            yield industry_exposure(store, one, lookthrough=lookthrough)
        else:
            yield product_exposure(store, one, lookthrough=lookthrough)


def top_exposed(df: pl.DataFrame, top: int | None) -> pl.DataFrame:
    """The ``top`` rows by concern-supplied value (``import_value_usd × prc_share``),
    ties in key order; all rows, in the library's key order, when ``top`` is None.

    Product and industry rows come sorted by their keys; sorting an all-importer
    year again cost ~0.75 s of a 4 s command (issue 17), so no sort without ``top``.
    """
    if top is None:
        return df
    keys = ["year", "importer", "industry" if "industry" in df.columns else "hs6"]
    concern_v = pl.col("import_value_usd") * pl.col("prc_share")
    return df.sort(concern_v, *keys, descending=[True, *([False] * len(keys))]).head(
        top
    )
