"""The EU Critical Raw Materials Act benchmark, computed where it applies.

Regulation (EU) 2024/1252, Art. 5(1)(b): by 2030 the Union's annual consumption of
each strategic raw material, at any relevant stage of processing, should rely on
several third countries, none providing more than 65 % of it. The benchmark is a
share of *consumption* of a material at a stage, for the EU as a bloc — not a share
of one importer's imports of one HS6 code (that import-based figure stays available
as a separately named indicator, ``crma_import_flag`` in :mod:`friendshore.engines.flags`).

Here, per (material, stage) and year, for a bloc (default ``eu``, members as of the
year):

    apparent consumption C = USGS production of the members (that stage)
                             + extra-bloc imports − extra-bloc exports   (tonnes)
    share of third country i = extra-bloc imports from i / C

over the HS6 codes the industry map gives that material at that stage (map stage
``ore`` ↔ USGS ``mine``; ``processed`` ↔ ``refinery``/``smelter``/``plant``).

It applies only where the numbers exist: a USGS production table for the commodity
and stage in the store (its latest edition for the year; units t, kg or kt), codes
that carry that one material alone (a code shared by several materials — 811292 —
cannot be split), and quantities on the trade rows. Residual areas (``XRW``,
X-codes) count in the imports but are never the third country. Caveats, reported in
``note``: USGS tonnes are often metal or oxide content while trade tonnes are gross
weight, and members USGS does not list (inside "Other countries") count as zero
production — both make C approximate.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from friendshore._assets import query_sql
from friendshore.engines.exposure import residual
from friendshore.errors import ParameterError
from friendshore.reference.industries import IndustryMap, load_industries
from friendshore.reference.registry import Registry
from friendshore.selection import Selection
from friendshore.store import Store

# Art. 5(1)(b): at most 65 % of the Union's consumption from one third country.
CRMA_CONSUMPTION_SHARE = 0.65
# Industry-map stage → the USGS stages that produce it.
USGS_STAGES = {"ore": ("mine",), "processed": ("refinery", "smelter", "plant")}
TONNES_PER_UNIT = {"t": 1.0, "kg": 1e-3, "kt": 1e3}

COLUMNS = [
    "year",
    "bloc",
    "material",
    "commodity",
    "stage",
    "hs6",
    "edition",
    "production_t",
    "imports_t",
    "exports_t",
    "apparent_consumption_t",
    "top_third_country",
    "top_consumption_share",
    "crma_flag",
    "import_top_supplier",
    "import_top_share",
    "quantity_coverage",
    "note",
]


def crma_benchmark(
    store: Store,
    selection: Selection | None = None,
    *,
    year: int | None = None,
    bloc: str = "eu",
    commodity: str | None = None,
    share: float = CRMA_CONSUMPTION_SHARE,
    registry: Registry | None = None,
    industries: IndustryMap | None = None,
    source: str | None = None,
) -> pl.DataFrame:
    """The Art. 5(1)(b) benchmark per (material, stage) where the data allow it.

    Parameters
    ----------
    selection
        The rows (:class:`friendshore.selection.Selection` of one year and a bloc);
        or ``year``, ``bloc``, ``source``, from which one is built.
    year
        The year (default: the latest with trade flows).
    bloc
        The registry group taken as the Union (default ``eu``).
    commodity
        One USGS commodity (as stored, e.g. ``magnesium metal``); default all.
    share
        The benchmark: the largest third country's share of consumption above it
        is flagged (``crma_flag``).

    Returns
    -------
    polars.DataFrame
        :data:`COLUMNS`: ``apparent_consumption_t`` = production + imports −
        exports (tonnes), ``top_third_country`` and its ``top_consumption_share``,
        ``crma_flag``; beside them the import-based indicator
        (``import_top_supplier``, ``import_top_share`` of the extra-bloc import
        value), ``quantity_coverage`` (value share of trade rows with tonnes) and
        ``note`` (the caveats). Only (material, stage) pairs with a USGS table
        and the bloc's extra-bloc trade in the year; empty where none applies.

    Examples
    --------
    >>> crma_benchmark(store, year=2023, commodity="magnesium metal")  # doctest: +SKIP
    """
    sel = selection or Selection.build(
        store,
        year=year,
        bloc=bloc,
        registry=registry,
        industries=industries,
        source=source,
        need_industries=True,
    )
    if sel.bloc is None or sel.members is None or len(sel.years) != 1:
        raise ParameterError("the CRMA benchmark reads one bloc in one year")
    year, bloc = sel.years[-1], sel.bloc
    codes = _material_codes(sel.industries or load_industries(), sel.revisions)
    production = _bloc_production(store, sel.members["iso3"].to_list(), year)
    if commodity is not None:
        production = production.filter(pl.col("commodity") == commodity.strip().lower())
    pairs = codes.join(
        production, left_on=["commodity", "usgs_stage"], right_on=["commodity", "stage"]
    ).rename({"usgs_stage": "stage"})
    if pairs.height == 0:
        return pl.DataFrame(schema=_schema())
    trade = _bloc_trade(store, sel, pairs)
    groups = (
        pairs.group_by(
            "material", "commodity", "stage", "edition", "production_t", "note"
        )
        .agg(pl.col("hs6").unique().sort())
        .sort("commodity", "stage")
    )
    rows = []
    for p in groups.iter_rows(named=True):
        flows = trade.filter(pl.col("hs6").is_in(p["hs6"]))
        if flows.height:  # no extra-bloc trade recorded: the benchmark cannot apply
            rows.append(_one(year, bloc, share, p, flows))
    return pl.DataFrame(rows, schema=_schema(), orient="row")


def _schema() -> dict[str, pl.DataType]:
    f, s = pl.Float64(), pl.String()
    types: dict[str, pl.DataType] = dict.fromkeys(COLUMNS, f)
    for c in ("bloc", "material", "commodity", "stage", "hs6", "edition", "note"):
        types[c] = s
    for c in ("top_third_country", "import_top_supplier"):
        types[c] = s
    types["year"] = pl.Int16()
    types["crma_flag"] = pl.Boolean()
    return types


def _material_codes(industries: IndustryMap, revisions: Sequence[str]) -> pl.DataFrame:
    """``material, commodity, usgs_stage, hs6``: single-material codes of the map."""
    products = pl.concat([industries.products(None, rev) for rev in revisions])
    single = products.filter(~pl.col("material").str.contains(",")).select(
        "hs6", pl.col("material").str.strip_chars(), "stage"
    )
    stages = pl.DataFrame(
        [(k, v) for k, vs in USGS_STAGES.items() for v in vs],
        schema={"stage": pl.String, "usgs_stage": pl.String},
        orient="row",
    )
    return (
        single.join(industries.commodities(), on="material")
        .join(stages, on="stage")
        .select("material", "commodity", "usgs_stage", "hs6")
        .unique()
    )


def _bloc_production(store: Store, members: list[str], year: int) -> pl.DataFrame:
    """Members' production per (commodity, stage), latest edition, in tonnes."""
    raw = store.pl(query_sql("crma_production"), {"year": year})
    latest = raw.group_by("commodity", "stage").agg(pl.col("edition").max())
    raw = raw.join(latest, on=["commodity", "stage", "edition"])
    factor = pl.col("unit").replace_strict(
        TONNES_PER_UNIT, default=None, return_dtype=pl.Float64
    )
    is_member = pl.col("country").is_in(members)
    return (
        raw.group_by("commodity", "stage", "edition")
        .agg(
            (pl.col("quantity") * factor).filter(is_member).sum().alias("production_t"),
            (is_member & pl.col("quantity").is_null()).sum().alias("n_withheld"),
            factor.is_null().any().alias("bad_unit"),
            pl.col("unit").first(),
        )
        .filter(~pl.col("bad_unit"))
        .with_columns(
            pl.concat_str(
                pl.lit("USGS in "),
                pl.col("unit"),
                pl.lit(", often content, trade gross; unlisted members count 0"),
                pl.when(pl.col("n_withheld") > 0)
                .then(pl.format("; {} member figures withheld", pl.col("n_withheld")))
                .otherwise(pl.lit("")),
            ).alias("note")
        )
        .select("commodity", "stage", "edition", "production_t", "note")
    )


def _bloc_trade(store: Store, sel: Selection, pairs: pl.DataFrame) -> pl.DataFrame:
    """The bloc's extra-bloc trade (both directions) of the pairs' codes."""
    store.register("_crma_members", sel.members)
    try:
        params = sel.loads.params() | {"hs": sorted(set(pairs["hs6"]))}
        return store.pl(query_sql("crma_trade"), params)
    finally:
        store.unregister("_crma_members")


def _one(
    year: int, bloc: str, share: float, pair: dict, trade: pl.DataFrame
) -> dict[str, object]:
    imports = trade.filter(pl.col("direction") == "import")
    exports = trade.filter(pl.col("direction") == "export")
    imports_t = float(imports["quantity_t"].fill_null(0.0).sum())
    exports_t = float(exports["quantity_t"].fill_null(0.0).sum())
    consumption = float(pair["production_t"] or 0.0) + imports_t - exports_t
    named = imports.filter(~residual("partner"))
    by_t = (
        named.group_by("partner")
        .agg(pl.col("quantity_t").fill_null(0.0).sum())
        .sort("quantity_t", "partner", descending=[True, False])
    )
    by_v = (
        named.group_by("partner")
        .agg(pl.col("value_usd").sum())
        .sort("value_usd", "partner", descending=[True, False])
    )
    value = float(trade["value_usd"].sum())
    with_t = float(
        trade.filter(pl.col("n_missing_t") == 0)["value_usd"].sum()
    )  # rows whose every flow carries tonnes
    top_t = by_t.row(0, named=True) if by_t.height else None
    top_share = (
        top_t["quantity_t"] / consumption
        if top_t is not None and consumption > 0
        else None
    )
    import_value = float(imports["value_usd"].sum())
    top_v = by_v.row(0, named=True) if by_v.height else None
    return {
        "year": year,
        "bloc": bloc,
        "material": pair["material"],
        "commodity": pair["commodity"],
        "stage": pair["stage"],
        "hs6": ", ".join(pair["hs6"]),
        "edition": pair["edition"],
        "production_t": pair["production_t"],
        "imports_t": imports_t,
        "exports_t": exports_t,
        "apparent_consumption_t": consumption,
        "top_third_country": top_t["partner"] if top_t else None,
        "top_consumption_share": top_share,
        "crma_flag": None if top_share is None else top_share > share,
        "import_top_supplier": top_v["partner"] if top_v else None,
        "import_top_share": (
            top_v["value_usd"] / import_value if top_v and import_value > 0 else None
        ),
        "quantity_coverage": with_t / value if value > 0 else None,
        "note": pair["note"],
    }
