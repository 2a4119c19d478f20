"""Exposure commands: ``exposure``, ``concentration``, ``trend``, ``flags``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from friendshore.errors import ParameterError

from . import defaults, views
from .app import app, state
from .render import Format, FormatOpt, OutOpt, RegistryOpt, View, WideOpt, emit
from .rows import (
    AlliesOpt,
    BlocOpt,
    BroaderOpt,
    ConcernOpt,
    HsOpt,
    ImporterOpt,
    IndustryOpt,
    IntraOpt,
    Level,
    LevelOpt,
    PartnersOpt,
    RowOptions,
    SourceOpt,
    YearOpt,
    YearsOpt,
    given,
)

if TYPE_CHECKING:
    import polars as pl

    from friendshore.reference.registry import Registry
    from friendshore.selection import Selection


class Stage(StrEnum):
    """USGS production stages the concentration command filters on."""

    mine = "mine"
    refinery = "refinery"
    smelter = "smelter"
    plant = "plant"
    production = "production"


_W = "Which flows"


class Engine(StrEnum):
    """Where the metrics run: the DuckDB store, or Spark over a Parquet export."""

    duckdb = "duckdb"
    spark = "spark"


_E = "Engine"
EngineOpt = Annotated[
    Engine,
    typer.Option(
        help="duckdb (the store) or spark (over --parquet).", rich_help_panel=_E
    ),
]
ParquetOpt = Annotated[
    str | None,
    typer.Option(
        "--parquet",
        help="--engine spark: a `friendshore export parquet` directory or URI "
        "(s3a://, abfss://).",
        rich_help_panel=_E,
    ),
]
MasterOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        envvar="FRIENDSHORE_SPARK_MASTER",
        help="--engine spark: master URL, e.g. local[4] (default: Spark's own).",
        rich_help_panel=_E,
    ),
]


@contextmanager
def open_engine(
    ctx: typer.Context, engine: Engine, parquet: str | None, master: str | None
) -> Iterator[Any]:
    """The store the engines read: the DuckDB file, or a Parquet export on Spark."""
    if engine is Engine.duckdb:
        stray = [
            o for o, v in (("--parquet", parquet), ("--spark-master", master)) if v
        ]
        if stray:
            raise ParameterError(f"{', '.join(stray)} needs --engine spark")
        with state(ctx).open_store(read_only=True) as store:
            yield store
        return
    if not parquet:
        raise ParameterError("--engine spark needs --parquet DIR (an export)")
    from friendshore.export.spark import open_parquet

    with open_parquet(parquet, master=master) as store:
        yield store


def _table(
    opened: Any,
    command: str,
    params: dict[str, Any],
    registry: Registry | None,
    compute: Callable[[Any], pl.DataFrame],
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Run ``compute(store)`` in the opened store; the frame and its provenance."""
    from friendshore import export

    version = registry.version if registry is not None else None
    with opened as store:
        df = compute(store)
        meta = export.provenance(store, command, params, registry_version=version)
    return df, meta


def _emit(
    df: pl.DataFrame,
    to: tuple[Format, Path | None, bool],
    command: str,
    params: dict[str, Any],
    meta: dict[str, str],
    view: View,
) -> None:
    """Render ``df`` as ``to`` = (--format, --out, --wide) says, with its provenance
    and the note an empty result gets."""
    fmt, out, wide = to
    emit(
        df,
        fmt,
        out,
        title=command,
        metadata=meta,
        empty=_empty_note(command, params),
        view=view,
        wide=wide,
    )


# The selection parameters an empty-result note names, in this order.
_ASKED: tuple[str, ...] = (
    "importer",
    "bloc",
    "industry",
    "hs",
    "commodity",
    "stage",
    "edition",
)
_ASKED += ("year", "years", "from", "to", "source")


def _empty_note(command: str, params: dict[str, Any]) -> str:
    """What an empty result selected, for the note on stderr."""
    asked = [
        f"{key} {', '.join(map(str, value)) if isinstance(value, list) else value}"
        for key in _ASKED
        if (value := params.get(key)) not in (None, [], "")
    ]
    what = f" ({'; '.join(asked)})" if asked else ""
    return (
        f"{command}: no rows match{what}; "
        "`friendshore info` lists the loaded years, sources and products"
    )


@app.command()
def exposure(
    ctx: typer.Context,
    importer: ImporterOpt = None,
    bloc: BlocOpt = None,
    industry: IndustryOpt = None,
    hs: HsOpt = None,
    year: YearOpt = None,
    years: YearsOpt = None,
    level: LevelOpt = Level.product,
    concern: ConcernOpt = defaults.CONCERN,
    allies: AlliesOpt = None,
    partners: PartnersOpt = None,
    include_intra: IntraOpt = False,
    lookthrough: Annotated[
        bool, typer.Option("--lookthrough", help="Add the look-through concern share.")
    ] = False,
    top: Annotated[
        int | None,
        typer.Option(
            min=1, help="Only the N rows with the largest concern-supplied value."
        ),
    ] = None,
    source: SourceOpt = None,
    include_broader: BroaderOpt = False,
    registry: RegistryOpt = None,
    engine: EngineOpt = Engine.duckdb,
    parquet: ParquetOpt = None,
    spark_master: MasterOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    wide: WideOpt = False,
) -> None:
    """Import exposure: concern (PRC) share, HHI and tier shares per product or industry.

    Without --importer or --bloc it covers every importer; shares are 0–1.
    --engine spark computes the same table on Apache Spark over a Parquet export.

    Example: friendshore exposure --importer USA --industry permanent-magnets --lookthrough

    Example: friendshore exposure --engine spark --parquet export/ --bloc eu --year 2022
    """
    from friendshore.engines import exposure as exposure_lib

    rows = RowOptions.of(ctx)
    by_industry = level is Level.industry
    if by_industry and hs:
        raise ParameterError("--level industry takes --industry, not --hs")
    params = rows.params() | given(
        ctx, "level", "lookthrough", "top", "engine", "parquet"
    )

    def opener() -> Any:
        return open_engine(ctx, engine, parquet, spark_master)

    if fmt is Format.parquet and out is not None and top is None and years:
        # A panel of years to Parquet: written a year at a time, so memory stays
        # that of one year however many years there are (issue 17).
        _stream_years(
            opener, engine is Engine.duckdb, rows, level, lookthrough, out, params
        )
        return

    def compute(store: Any) -> pl.DataFrame:
        sel = rows.selection(
            store, industry_level=by_industry, need_industries=lookthrough
        )
        if by_industry:
            return exposure_lib.industry_exposure(store, sel, lookthrough=lookthrough)
        return exposure_lib.product_exposure(store, sel, lookthrough=lookthrough)

    df, meta = _table(opener(), "exposure", params, rows.reg, compute)
    if (industry or by_industry) and not include_broader:
        note_left_out(df, industry)
    df = exposure_lib.top_exposed(df, top)
    view = views.EXPOSURE_INDUSTRY if by_industry else views.EXPOSURE_PRODUCT
    _emit(df, (fmt, out, wide), "exposure", params, meta, view)


def note_left_out(df: pl.DataFrame, industry: str | None) -> None:
    """Say on stderr which industry codes were left out as broader than the input."""
    from friendshore.engines import exposure as exposure_lib

    parts = exposure_lib.left_out_of(df, industry)
    if parts:
        typer.echo(
            "Note: left out as broader than the industry's inputs: "
            + "; ".join(parts)
            + ". --include-broader counts them (friendshore industries show lists why).",
            err=True,
        )


def _check_concentration_options(params: dict[str, Any]) -> None:
    """World exports take --hs/--industry/--source; --production the USGS filters."""
    production = params["production"]
    if production and params["engine"] == Engine.spark:
        raise ParameterError("--production runs on the store; --engine spark does not")
    usgs = ("commodity", "stage", "edition")
    stray = [
        "--" + key
        for key in ("hs", "industry", "source", *usgs)
        if params[key] and (key in usgs) != production
    ]
    if stray and production:
        raise ParameterError(f"{', '.join(stray)} does not apply to --production")
    if stray:
        raise ParameterError(f"{', '.join(stray)} needs --production")


def _stream_years(
    opener: Callable[[], Any],
    per_year: bool,
    rows: RowOptions,
    level: Level,
    lookthrough: bool,
    out: Path,
    params: dict[str, Any],
) -> None:
    """``exposure --years … --format parquet``: one year in memory at a time.

    ``opener()`` opens the store; with ``per_year`` (the DuckDB file) each year
    reads through a connection of its own, so DuckDB's block cache holds one
    year, not every year read so far (30 years: 0.58 GB peak instead of 0.87 GB).
    The one Selection is built first and restricted to each year in turn.
    """
    from friendshore import export
    from friendshore.engines import exposure as exposure_lib

    by_industry = level is Level.industry
    with opener() as store:
        sel = rows.selection(
            store, industry_level=by_industry, need_industries=lookthrough
        )
        meta = export.provenance(
            store, "exposure", params, registry_version=rows.reg.version
        )
    seen: list[pl.DataFrame] = []  # revisions (and industries) for the note

    def frames() -> Iterator[pl.DataFrame]:
        def noted(store: Any, part: Selection) -> Iterator[pl.DataFrame]:
            for df in exposure_lib.exposure_by_year(
                store, part, level=level.value, lookthrough=lookthrough
            ):
                cols = [c for c in ("hs_revision", "industry") if c in df.columns]
                seen.append(df.select(cols).unique())
                yield df

        if not per_year:
            with opener() as store:
                yield from noted(store, sel)
            return
        for y in sel.years:
            with opener() as store:
                yield from noted(store, sel.only([y]))

    written = export.write_parquet_frames(frames(), out, meta)
    if written == 0:
        typer.echo(_empty_note("exposure", params), err=True)
    elif (rows.industry or by_industry) and not rows.include_broader:
        import polars as pl

        note_left_out(pl.concat(seen, how="diagonal"), rows.industry)
    typer.echo(f"wrote {out} ({written} rows)", err=True)


@app.command()
def concentration(
    ctx: typer.Context,
    production: Annotated[
        bool,
        typer.Option(
            "--production", help="USGS production concentration instead of exports."
        ),
    ] = False,
    hs: HsOpt = None,
    industry: IndustryOpt = None,
    year: YearOpt = None,
    commodity: Annotated[
        str | None,
        typer.Option(help="--production: USGS commodity, e.g. 'rare earths'."),
    ] = None,
    stage: Annotated[Stage | None, typer.Option(help="--production: stage.")] = None,
    edition: Annotated[
        str | None, typer.Option(help="--production: MCS edition, e.g. MCS2024.")
    ] = None,
    concern: ConcernOpt = defaults.CONCERN,
    source: SourceOpt = None,
    registry: RegistryOpt = None,
    engine: EngineOpt = Engine.duckdb,
    parquet: ParquetOpt = None,
    spark_master: MasterOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    wide: WideOpt = False,
) -> None:
    """Supply concentration: world exports per HS6, or USGS production per commodity.

    World exports: each exporter's share, HHI (0–1), leading exporter, concern share.
    --production: the concern group's share of the listed countries' sum, HHI,
    the leading country, beside the published rounded world total and the gap
    between them. Residual areas (XRW, X-codes, USGS "Other countries") count in
    totals only: hhi spreads them thin, hhi_max takes them as one supplier,
    coverage is the named share.

    Example: friendshore concentration --production --commodity "rare earths" --stage mine --edition MCS2024

    Example: friendshore concentration --engine spark --parquet export/ --hs 850511
    """
    from friendshore.engines import concentration as conc_lib

    rows = RowOptions.of(ctx)
    usgs = given(ctx, "commodity", "stage", "edition")
    params = rows.params() | usgs | given(ctx, "production", "engine", "parquet")
    _check_concentration_options(params)

    def compute(store: Any) -> pl.DataFrame:
        if production:
            return conc_lib.production_concentration(
                store, year=year, concern=concern, registry=rows.reg, **usgs
            )
        return conc_lib.world_concentration(store, rows.selection(store))

    opened = open_engine(ctx, engine, parquet, spark_master)
    df, meta = _table(opened, "concentration", params, rows.reg, compute)
    view = views.PRODUCTION_CONCENTRATION if production else views.WORLD_CONCENTRATION
    _emit(df, (fmt, out, wide), "concentration", params, meta, view)


@app.command()
def trend(
    ctx: typer.Context,
    start: Annotated[int, typer.Option("--from", help="First year.")],
    end: Annotated[int, typer.Option("--to", help="Second year.")],
    importer: ImporterOpt = None,
    bloc: BlocOpt = None,
    industry: IndustryOpt = None,
    hs: HsOpt = None,
    level: LevelOpt = Level.product,
    concern: ConcernOpt = defaults.CONCERN,
    include_intra: IntraOpt = False,
    source: SourceOpt = None,
    include_broader: BroaderOpt = False,
    registry: RegistryOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    wide: WideOpt = False,
) -> None:
    """Change in concern share and HHI between two years, per product or industry.

    Changes are differences in shares (0–1); import value change is relative.

    Example: friendshore trend --from 2020 --to 2023 --importer USA --industry batteries
    """
    from friendshore.engines import trend as trend_lib

    rows = RowOptions.of(ctx)
    params = rows.params() | {"from": start, "to": end, "level": level.value}

    def compute(store: Any) -> pl.DataFrame:
        by_industry = level is Level.industry
        sel = rows.selection(store, years=[start, end], industry_level=by_industry)
        return trend_lib.trend(store, sel, start=start, end=end, level=level.value)

    opened = state(ctx).open_store(read_only=True)
    df, meta = _table(opened, "trend", params, rows.reg, compute)
    note = trend_lib.revision_break_note(df)
    if note:
        typer.echo(f"Note: {note}.", err=True)
    _emit(df, (fmt, out, wide), "trend", params, meta, views.TREND)


# The flags command's thresholds: dependency_flags's keywords of the same names.
_THRESHOLDS = (
    "import_hhi",
    "world_hhi",
    "ratio",
    "window",
    "min_years",
    "crma_share",
    "min_coverage",
)


@app.command()
def flags(
    ctx: typer.Context,
    importer: ImporterOpt = None,
    bloc: BlocOpt = None,
    industry: IndustryOpt = None,
    hs: HsOpt = None,
    year: Annotated[
        int | None, typer.Option(help="Last year of the window (default: latest).")
    ] = None,
    import_hhi: Annotated[
        float, typer.Option(help="GeoDep: import HHI above this.")
    ] = defaults.GEODEP_IMPORT_HHI,
    world_hhi: Annotated[
        float, typer.Option(help="GeoDep: world-export HHI above this.")
    ] = defaults.GEODEP_WORLD_HHI,
    ratio: Annotated[
        float, typer.Option(help="GeoDep: imports/exports above this.")
    ] = defaults.GEODEP_RATIO,
    window: Annotated[int, typer.Option(help="GeoDep: years in the window.")] = (
        defaults.GEODEP_WINDOW
    ),
    min_years: Annotated[
        int, typer.Option(help="GeoDep: years of the window that must meet all three.")
    ] = defaults.GEODEP_MIN_YEARS,
    crma_share: Annotated[
        float,
        typer.Option(
            help="CRMA import indicator: largest single named supplier's share of "
            "imports above this."
        ),
    ] = defaults.CRMA_SINGLE_SHARE,
    min_coverage: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Flags fire only where named suppliers give at least this share of "
            "the imports (residual areas such as XRW are unnamed); else the flags "
            "are empty and flag_note says 'insufficient coverage'.",
        ),
    ] = defaults.MIN_COVERAGE,
    concern: ConcernOpt = defaults.CONCERN,
    include_intra: IntraOpt = False,
    source: SourceOpt = None,
    registry: RegistryOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    wide: WideOpt = False,
) -> None:
    """Dependency flags: CEPII GeoDep and an EU CRMA single-supplier import indicator.

    GeoDep (Lefebvre & Wibaux, CEPII Policy Brief 47, 2024): import HHI > 0.4,
    world-export HHI > 0.4 and imports/exports > 1 (9999 when exports are zero), in
    at least 2 of 3 consecutive years. crma_import_flag: one named supplier gives
    more than 65 % of the imports (an indicator: the CRMA Art. 5(1)(b) benchmark
    itself is about consumption). Flags need named suppliers to cover at least
    --min-coverage of the imports (default 0.5); else "insufficient coverage".

    Example: friendshore flags --importer USA --industry permanent-magnets --year 2023
    """
    from friendshore.engines import flags as flags_lib

    rows = RowOptions.of(ctx)
    thresholds = given(ctx, *_THRESHOLDS)
    params = rows.params() | thresholds

    def compute(store: Any) -> pl.DataFrame:
        flags_lib.check_thresholds(window, min_years, min_coverage)
        sel = rows.selection(store, window=window)
        return flags_lib.dependency_flags(store, sel, **thresholds)

    opened = state(ctx).open_store(read_only=True)
    df, meta = _table(opened, "flags", params, rows.reg, compute)
    _emit(df, (fmt, out, wide), "flags", params, meta, views.FLAGS)


@app.command()
def crma(
    ctx: typer.Context,
    year: YearOpt = None,
    bloc: Annotated[
        str, typer.Option(help="Registry group taken as the Union (default eu).")
    ] = "eu",
    commodity: Annotated[
        str | None,
        typer.Option(help="One USGS commodity as stored, e.g. 'magnesium metal'."),
    ] = None,
    share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Benchmark: one third country's share of consumption.",
        ),
    ] = defaults.CRMA_CONSUMPTION_SHARE,
    source: SourceOpt = None,
    registry: RegistryOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    wide: WideOpt = False,
) -> None:
    """EU CRMA Art. 5(1)(b): one third country's share of the bloc's consumption.

    Apparent consumption = the members' USGS production + extra-bloc imports −
    extra-bloc exports (tonnes) of a material at a stage, over the industry map's
    single-material HS6 codes; only where a USGS table and trade tonnes exist. The
    import-value share of the largest supplier is shown beside it as an indicator.

    Example: friendshore crma --year 2023 --commodity "magnesium metal"
    """
    from friendshore.engines import crma as crma_lib

    rows = RowOptions.of(ctx)
    params = rows.params() | given(ctx, "commodity", "share")

    def compute(store: Any) -> pl.DataFrame:
        sel = rows.selection(store, need_industries=True)
        return crma_lib.crma_benchmark(store, sel, commodity=commodity, share=share)

    opened = state(ctx).open_store(read_only=True)
    df, meta = _table(opened, "crma", params, rows.reg, compute)
    _emit(df, (fmt, out, wide), "crma", params, meta, views.CRMA)
