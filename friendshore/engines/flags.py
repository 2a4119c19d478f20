"""Dependency flags as the published methods define them.

* **CEPII GeoDep** (Lefebvre & Wibaux, "Import dependencies: where does the EU
  stand?", CEPII Policy Brief No 47, September 2024; the GeoDep database,
  https://www.cepii.fr/CEPII/en/bdd_modele/bdd_modele_item.asp?id=41): an importer
  depends on a product when (1) its imports are concentrated — import HHI > 0.4,
  (2) world supply is concentrated — world-export HHI > 0.4, and (3) domestic supply
  cannot substitute — imports / exports > 1, where CEPII sets the ratio to 9999 when
  exports are zero; all three in the same year, in at least 2 of 3 consecutive years.
* **EU Critical Raw Materials Act** (Regulation (EU) 2024/1252, Art. 5(1)(b)): by
  2030 no single third country should provide more than 65 % of the Union's annual
  consumption of a strategic raw material at any relevant stage of processing. That
  benchmark is about consumption, which trade data alone do not give; this module's
  ``crma_import_flag`` is a separately named *indicator*: the largest single named
  supplier's share of the importer's imports of one HS6 code (for a bloc,
  extra-bloc imports unless ``include_intra``). The consumption-based benchmark,
  where USGS production and trade tonnes allow it, is
  :func:`friendshore.engines.crma.crma_benchmark`.

Residual and unspecified areas (``XRW``, X-codes) are never a flag's supplier
(DESIGN.md). A flag needs the named suppliers to account for at least
``min_coverage`` of the import value (default 0.5, :data:`MIN_COVERAGE`) in the
flagged year; below it the flags are null and ``flag_note`` says "insufficient
coverage". Every threshold is an option. Years of the window missing from the store
count as not meeting the criteria (``geodep_years`` vs ``years_checked`` shows it);
so do years whose coverage is below ``min_coverage``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import polars as pl

from friendshore._assets import query_sql
from friendshore.engines.concentration import world_concentration
from friendshore.engines.exposure import MEMBERS_TABLE, product_exposure
from friendshore.errors import ParameterError
from friendshore.reference.industries import IndustryMap
from friendshore.reference.registry import DEFAULT_CONCERN, Registry
from friendshore.selection import Selection
from friendshore.store import Store

# CEPII GeoDep cut-offs: HHI 0.4 (import and world-export), imports/exports 1,
# 2 years out of 3.
GEODEP_IMPORT_HHI = 0.4
GEODEP_WORLD_HHI = 0.4
GEODEP_RATIO = 1.0
GEODEP_WINDOW = 3
GEODEP_MIN_YEARS = 2
# CEPII GeoDep: the imports/exports ratio when exports are zero.
GEODEP_ZERO_EXPORTS_RATIO = 9999.0
# EU CRMA Art. 5(1)(b): at most 65 % from a single third country.
CRMA_SINGLE_SHARE = 0.65
# A flag fires only where named suppliers give at least this share of the imports.
MIN_COVERAGE = 0.5


def geodep_years(
    imports: pl.DataFrame,
    world: pl.DataFrame,
    exports: pl.DataFrame,
    *,
    import_hhi: float = GEODEP_IMPORT_HHI,
    world_hhi: float = GEODEP_WORLD_HHI,
    ratio: float = GEODEP_RATIO,
    min_coverage: float = 0.0,
) -> pl.DataFrame:
    """Per (year, importer, hs6): the three GeoDep criteria and whether all hold.

    With a ``coverage`` column in ``imports``, a year whose named suppliers give
    less than ``min_coverage`` of the imports does not count as met.

    ``imports``: exposure rows (``year, importer, hs6, import_value_usd, hhi``);
    ``world``: ``year, hs6, hhi``; ``exports``: ``year, exporter, hs6,
    exports_usd`` (the importer's own exports). No exports gives CEPII's ratio of
    9999 (:data:`GEODEP_ZERO_EXPORTS_RATIO`).
    """
    w = world.select(
        pl.col("year").cast(pl.Int16), "hs6", pl.col("hhi").alias("world_hhi")
    )
    x = exports.select(
        pl.col("year").cast(pl.Int16),
        pl.col("exporter").alias("importer"),
        "hs6",
        "exports_usd",
    )
    out = (
        imports.select(
            pl.col("year").cast(pl.Int16),
            "importer",
            "hs6",
            "import_value_usd",
            pl.col("hhi").alias("import_hhi"),
            *(["coverage"] if "coverage" in imports.columns else []),
        )
        .join(w, on=["year", "hs6"], how="left")
        .join(x, on=["year", "importer", "hs6"], how="left")
        .with_columns(pl.col("exports_usd").fill_null(0.0))
        .with_columns(
            pl.when(pl.col("exports_usd") > 0)
            .then(pl.col("import_value_usd") / pl.col("exports_usd"))
            .otherwise(GEODEP_ZERO_EXPORTS_RATIO)
            .alias("import_export_ratio")
        )
    )
    covered = (
        pl.col("coverage").fill_null(0.0) >= min_coverage
        if "coverage" in out.columns
        else pl.lit(True)
    )
    return out.with_columns(
        (
            (pl.col("import_hhi") > import_hhi)
            & (pl.col("world_hhi").fill_null(0.0) > world_hhi)
            & (pl.col("import_export_ratio") > ratio)
            & covered
        ).alias("geodep_met")
    )


def check_thresholds(window: int, min_years: int, min_coverage: float) -> None:
    """Raise a ParameterError unless 1 ≤ min_years ≤ window and 0 ≤ min_coverage ≤ 1
    (before a window of years is selected)."""
    if not 0.0 <= min_coverage <= 1.0:
        raise ParameterError(f"min_coverage must be within 0–1, got {min_coverage}")
    if window < 1 or not 1 <= min_years <= window:
        raise ParameterError(
            f"need 1 ≤ min_years ≤ window, got min_years={min_years}, window={window}"
        )


def dependency_flags(
    store: Store,
    selection: Selection | None = None,
    *,
    year: int | None = None,
    importer: str | None = None,
    bloc: str | None = None,
    hs: Sequence[str] | None = None,
    industry: str | None = None,
    concern: str = DEFAULT_CONCERN,
    include_intra: bool = False,
    import_hhi: float = GEODEP_IMPORT_HHI,
    world_hhi: float = GEODEP_WORLD_HHI,
    ratio: float = GEODEP_RATIO,
    window: int = GEODEP_WINDOW,
    min_years: int = GEODEP_MIN_YEARS,
    crma_share: float = CRMA_SINGLE_SHARE,
    min_coverage: float = MIN_COVERAGE,
    registry: Registry | None = None,
    industries: IndustryMap | None = None,
    source: str | None = None,
) -> pl.DataFrame:
    """GeoDep and CRMA flags per (importer or bloc, hs6) in ``year``.

    Parameters
    ----------
    selection
        The rows: the window's loaded years, importer or bloc, products
        (:meth:`Selection.build` with ``window``); or the arguments below.
    year
        The last year of the GeoDep window (default: the latest loaded).
    import_hhi, world_hhi, ratio, window, min_years
        GeoDep thresholds: criteria met in at least ``min_years`` of the
        ``window`` years ending in ``year``.
    crma_share
        CRMA import indicator: the largest single named supplier's share of the
        imports above it is flagged (``crma_import_flag``).
    min_coverage
        The share of the import value named suppliers must account for (0–1,
        default 0.5) for any flag to fire; below it both flags are null and
        ``flag_note`` says "insufficient coverage".
    Other parameters as for :func:`friendshore.engines.exposure.product_exposure`.

    Returns
    -------
    polars.DataFrame
        ``year, importer, hs6, import_value_usd, coverage, import_hhi,
        world_hhi, exports_usd, import_export_ratio, geodep_years,
        years_checked, geodep_flag, top_supplier, top_supplier_share,
        crma_import_flag, flag_note, concern, prc_share``, sorted with flagged
        products first.

    Examples
    --------
    >>> dependency_flags(store, importer="USA", industry="batteries")  # doctest: +SKIP
    """
    check_thresholds(window, min_years, min_coverage)
    # The rows, decided once for the whole window: every engine below reads them.
    sel = selection or Selection.build(
        store,
        year=year,
        window=window,
        importer=importer,
        bloc=bloc,
        hs=hs,
        industry=industry,
        concern=concern,
        include_intra=include_intra,
        registry=registry,
        industries=industries,
        source=source,
    )
    years = sel.years
    last = years[-1]
    imports = product_exposure(store, sel)
    # World supply and the importers' exports of the products they import.
    traded = replace(sel, hs=tuple(sorted(set(imports["hs6"].to_list()))))
    world = world_concentration(store, traded)
    exports = _exports(store, traded)
    met = geodep_years(
        imports,
        world,
        exports,
        import_hhi=import_hhi,
        world_hhi=world_hhi,
        ratio=ratio,
        min_coverage=min_coverage,
    )
    counts = met.group_by("importer", "hs6").agg(
        pl.col("geodep_met").sum().cast(pl.Int64).alias("geodep_years")
    )
    latest = imports.filter(pl.col("year") == last).select(
        "importer", "hs6", "top_supplier", "top_supplier_share", "concern", "prc_share"
    )
    out = (
        met.filter(pl.col("year") == last)
        .drop("geodep_met")
        .join(counts, on=["importer", "hs6"], how="left")
        .join(latest, on=["importer", "hs6"], how="left")
        .with_columns(
            pl.lit(len(years), dtype=pl.Int64).alias("years_checked"),
            (pl.col("coverage").fill_null(0.0) >= min_coverage).alias("_covered"),
        )
        .with_columns(
            pl.when("_covered")
            .then(pl.col("geodep_years") >= min_years)
            .alias("geodep_flag"),
            pl.when("_covered")
            .then(pl.col("top_supplier_share").fill_null(0.0) > crma_share)
            .alias("crma_import_flag"),
            pl.when(~pl.col("_covered"))
            .then(
                pl.format(
                    "insufficient coverage: named suppliers {}% of imports (< {}%)",
                    (pl.col("coverage").fill_null(0.0) * 100).round(1),
                    pl.lit(round(min_coverage * 100, 1)),
                )
            )
            .alias("flag_note"),
        )
    )
    cols = [
        "year",
        "importer",
        "hs6",
        "import_value_usd",
        "coverage",
        "import_hhi",
        "world_hhi",
        "exports_usd",
        "import_export_ratio",
        "geodep_years",
        "years_checked",
        "geodep_flag",
        "top_supplier",
        "top_supplier_share",
        "crma_import_flag",
        "flag_note",
        "concern",
        "prc_share",
    ]
    return out.select(cols).sort(
        ["geodep_flag", "crma_import_flag", "importer", "hs6"],
        descending=[True, True, False, False],
        nulls_last=True,
    )


def _exports(store: Store, sel: Selection) -> pl.DataFrame:
    """The importer's (or the bloc's extra-bloc) exports of the selected products."""
    members = (
        sel.members
        if sel.members is not None
        else pl.DataFrame(schema={"year": pl.Int16, "iso3": pl.String})
    )
    store.register(MEMBERS_TABLE, members)
    try:
        return store.pl(
            query_sql("exposure_exports"),
            sel.params()
            | {
                "exporter": sel.importer,
                "bloc": sel.bloc,
                "include_intra": sel.include_intra,
            },
        )
    finally:
        store.unregister(MEMBERS_TABLE)
