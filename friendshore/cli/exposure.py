"""Exposure commands: ``exposure``, ``concentration``, ``trend``, ``flags``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from friendshore.errors import ParameterError

from . import defaults, views
from .app import app, state
from .render import Format, FormatOpt, OutOpt, RegistryOpt, View, WideOpt, emit

if TYPE_CHECKING:
    import polars as pl

    from friendshore.reference.registry import Registry


class Level(StrEnum):
    """Rows per product, or rolled up per industry."""

    product = "product"
    industry = "industry"


class Stage(StrEnum):
    """USGS production stages the concentration command filters on."""

    mine = "mine"
    refinery = "refinery"
    smelter = "smelter"
    plant = "plant"
    production = "production"


_W = "Which flows"
_T = "Tiers"

ImporterOpt = Annotated[
    str | None,
    typer.Option(help="Importer ISO3 (default: every importer).", rich_help_panel=_W),
]
BlocOpt = Annotated[
    str | None,
    typer.Option(
        help="A registry group summed as one importer, e.g. eu.", rich_help_panel=_W
    ),
]
IndustryOpt = Annotated[
    str | None,
    typer.Option(
        help="Industry of the industry map, e.g. permanent-magnets.", rich_help_panel=_W
    ),
]
HsOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="HS code (repeatable); 4 digits for Comtrade HS4 rows.", rich_help_panel=_W
    ),
]
YearOpt = Annotated[
    int | None,
    typer.Option(help="Year (default: the latest in the store).", rich_help_panel=_W),
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        help="Only this source: baci, comtrade, table[:name].", rich_help_panel=_W
    ),
]
IntraOpt = Annotated[
    bool,
    typer.Option(
        "--include-intra", help="Count flows between bloc members.", rich_help_panel=_W
    ),
]
ConcernOpt = Annotated[
    str, typer.Option(help="Registry group of concern.", rich_help_panel=_T)
]
AlliesOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="Ally group (repeatable; default us-treaty-allies).", rich_help_panel=_T
    ),
]
PartnersOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="Partner group (repeatable; default every other non-concern group).",
        rich_help_panel=_T,
    ),
]
BroaderOpt = Annotated[
    bool,
    typer.Option(
        "--include-broader",
        help="Also count industry codes broader than the input in the data's HS "
        "revision (e.g. HS2017 854140, PV modules beside IR detectors).",
        rich_help_panel=_W,
    ),
]


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


def parse_years(text: str) -> list[int]:
    """``2019:2023`` → [2019, …, 2023]; ``2021`` → [2021]."""
    first, sep, last = text.partition(":")
    try:
        start = int(first)
        end = int(last) if sep else start
    except ValueError:
        raise typer.BadParameter(
            f"expected Y1:Y2, got {text!r}", param_hint="--years"
        ) from None
    if end < start:
        raise typer.BadParameter(
            f"{text!r}: the end is before the start", param_hint="--years"
        )
    return list(range(start, end + 1))


def _emit(
    df: pl.DataFrame,
    fmt: Format,
    out: Path | None,
    *,
    command: str,
    params: dict[str, Any],
    loads: pl.DataFrame,
    registry: Registry | None,
    view: View | None = None,
    wide: bool = False,
) -> None:
    from friendshore import export

    extra = {"registry_version": registry.version} if registry is not None else None
    meta = export.provenance(command, params, loads, extra=extra)
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
    years: Annotated[
        str | None, typer.Option(help="Range of years Y1:Y2.", rich_help_panel=_W)
    ] = None,
    level: Annotated[
        Level, typer.Option(help="Rows per product or per industry.")
    ] = Level.product,
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
    from friendshore.reference.registry import load_registry

    if year is not None and years is not None:
        raise ParameterError("give either --year or --years, not both")
    reg = load_registry(registry)
    kwargs: dict[str, Any] = {
        "year": year,
        "years": parse_years(years) if years else None,
        "importer": importer,
        "bloc": bloc,
        "industry": industry,
        "concern": concern,
        "allies": allies,
        "partners": partners,
        "include_intra": include_intra,
        "lookthrough": lookthrough,
        "registry": reg,
        "source": source,
        "include_broader": include_broader,
    }
    if level is Level.industry and hs:
        raise ParameterError("--level industry takes --industry, not --hs")
    params = {
        **kwargs,
        "hs": hs,
        "level": level.value,
        "top": top,
        "registry": registry,
        "engine": engine.value,
        "parquet": parquet,
    }
    if fmt is Format.parquet and out is not None and top is None and years:
        # A panel of years to Parquet: written a year at a time, so memory stays
        # that of one year however many years there are (issue 17).
        def opener() -> Any:
            return open_engine(ctx, engine, parquet, spark_master)

        _stream_years(
            opener, engine is Engine.duckdb, kwargs, hs, level, out, params, reg
        )
        return
    with open_engine(ctx, engine, parquet, spark_master) as store:
        if level is Level.industry:
            df = exposure_lib.industry_exposure(store, **kwargs)
            keys = ["year", "importer", "industry"]
        else:
            df = exposure_lib.product_exposure(store, hs=hs, **kwargs)
            keys = ["year", "importer", "hs6"]
        loads = store.loads()
    if (industry or level is Level.industry) and not include_broader:
        note_left_out(df, industry)
    df = _top(df, top, keys)
    view = (
        views.EXPOSURE_INDUSTRY if level is Level.industry else views.EXPOSURE_PRODUCT
    )
    _emit(
        df,
        fmt,
        out,
        command="exposure",
        params=params,
        loads=loads,
        registry=reg,
        view=view,
        wide=wide,
    )


def note_left_out(df: pl.DataFrame, industry: str | None) -> None:
    """Say on stderr which industry codes were left out as broader than the input."""
    import polars as pl

    from friendshore.engines import exposure as exposure_lib
    from friendshore.reference.industries import load_industries

    if df.is_empty() or "hs_revision" not in df.columns:
        return
    revisions = sorted(
        {r for v in df["hs_revision"].unique().to_list() for r in v.split("+")}
    )
    gone = exposure_lib.left_out(load_industries(), industry, revisions)
    if industry is None and "industry" in df.columns:
        gone = gone.filter(pl.col("industry").is_in(df["industry"].unique().to_list()))
    if gone.is_empty():
        return
    merged = (
        gone.group_by("industry", "left_out_hs6")
        .agg(pl.col("hs_revision").sort().str.join("+"))
        .sort("industry", "hs_revision")
    )
    parts = [
        f"{r['industry']} {r['left_out_hs6']} ({r['hs_revision']})"
        for r in merged.iter_rows(named=True)
    ]
    typer.echo(
        "Note: left out as broader than the industry's inputs: "
        + "; ".join(parts)
        + ". --include-broader counts them (friendshore industries show lists why).",
        err=True,
    )


def _stream_years(
    opener: Any,
    per_year: bool,
    kwargs: dict[str, Any],
    hs: list[str] | None,
    level: Level,
    out: Path,
    params: dict[str, Any],
    reg: Registry,
) -> None:
    """``exposure --years … --format parquet``: one year in memory at a time.

    ``opener()`` opens the store; with ``per_year`` (the DuckDB file) each year
    reads through a connection of its own, so DuckDB's block cache holds one
    year, not every year read so far (30 years: 0.58 GB peak instead of 0.87 GB).
    """
    from friendshore import export
    from friendshore.engines import exposure as exposure_lib
    from friendshore.selection import select_flows

    args = {k: v for k, v in kwargs.items() if k not in ("year", "years")}
    if level is Level.product:
        args["hs"] = hs
    with opener() as store:
        loads = store.loads()
        chosen = select_flows(store, kwargs["years"], source=kwargs["source"]).years
    meta = export.provenance(
        "exposure", params, loads, extra={"registry_version": reg.version}
    )
    seen: list[pl.DataFrame] = []  # revisions (and industries) for the note

    def frames() -> Iterator[pl.DataFrame]:
        def noted(store: Any, years: list[int]) -> Iterator[pl.DataFrame]:
            for df in exposure_lib.exposure_by_year(
                store, years=years, level=level.value, **args
            ):
                cols = [c for c in ("hs_revision", "industry") if c in df.columns]
                seen.append(df.select(cols).unique())
                yield df

        if not per_year:
            with opener() as store:
                yield from noted(store, chosen)
            return
        for y in chosen:
            with opener() as store:
                yield from noted(store, [y])

    rows = export.write_parquet_frames(frames(), out, meta)
    if rows == 0:
        typer.echo(_empty_note("exposure", params), err=True)
    elif (kwargs["industry"] or level is Level.industry) and not kwargs.get(
        "include_broader"
    ):
        note_left_out(pl.concat(seen, how="diagonal"), kwargs["industry"])
    typer.echo(f"wrote {out} ({rows} rows)", err=True)


def _top(df: pl.DataFrame, top: int | None, keys: list[str]) -> pl.DataFrame:
    """All rows in the library's key order, or the ``top`` by concern-supplied value.

    Product and industry rows come sorted by ``keys`` from the library; sorting an
    all-importer year again here cost ~0.75 s of a 4 s command (issue 17).
    """
    import polars as pl

    if top is None:
        return df
    concern_v = pl.col("import_value_usd") * pl.col("prc_share")
    return df.sort(concern_v, *keys, descending=[True, *([False] * len(keys))]).head(
        top
    )


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
    from friendshore.reference.registry import load_registry

    params: dict[str, Any] = {"production": production, "hs": hs, "industry": industry}
    params |= {"year": year, "commodity": commodity, "edition": edition}
    params["concern"] = concern
    params["stage"] = stage.value if stage else None
    params |= {"engine": engine.value, "parquet": parquet}
    reg: Registry | None = None
    if production and engine is Engine.spark:
        raise ParameterError("--production runs on the store; --engine spark does not")
    with open_engine(ctx, engine, parquet, spark_master) as store:
        if production:
            stray = [f for f, v in (("--hs", hs), ("--industry", industry)) if v]
            if stray:
                raise ParameterError(
                    f"{', '.join(stray)} does not apply to --production"
                )
            reg = load_registry(registry)
            df = conc_lib.production_concentration(
                store,
                commodity=commodity,
                stage=params["stage"],
                year=year,
                edition=edition,
                concern=concern,
                registry=reg,
            )
        else:
            stray = [
                f
                for f, v in (
                    ("--commodity", commodity),
                    ("--stage", stage),
                    ("--edition", edition),
                )
                if v
            ]
            if stray:
                raise ParameterError(f"{', '.join(stray)} needs --production")
            reg = load_registry(registry)
            df = conc_lib.world_concentration(
                store,
                year=year,
                hs=hs,
                industry=industry,
                concern=concern,
                registry=reg,
                source=source,
            )
        loads = store.loads()
    view = views.PRODUCTION_CONCENTRATION if production else views.WORLD_CONCENTRATION
    _emit(
        df,
        fmt,
        out,
        command="concentration",
        params=params,
        loads=loads,
        registry=reg,
        view=view,
        wide=wide,
    )


@app.command()
def trend(
    ctx: typer.Context,
    start: Annotated[int, typer.Option("--from", help="First year.")],
    end: Annotated[int, typer.Option("--to", help="Second year.")],
    importer: ImporterOpt = None,
    bloc: BlocOpt = None,
    industry: IndustryOpt = None,
    hs: HsOpt = None,
    level: Annotated[
        Level, typer.Option(help="Rows per product or per industry.")
    ] = Level.product,
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
    from friendshore.reference.registry import load_registry

    reg = load_registry(registry)
    kwargs: dict[str, Any] = {
        "importer": importer,
        "bloc": bloc,
        "industry": industry,
        "concern": concern,
        "include_intra": include_intra,
        "source": source,
    }
    if include_broader:
        kwargs["include_broader"] = True
    if hs:
        kwargs["hs"] = hs
    with state(ctx).open_store(read_only=True) as store:
        df = trend_lib.trend(
            store, start=start, end=end, level=level.value, registry=reg, **kwargs
        )
        loads = store.loads()
    note = trend_lib.revision_break_note(df)
    if note:
        typer.echo(f"Note: {note}.", err=True)
    params = {**kwargs, "from": start, "to": end, "level": level.value, "hs": hs}
    params["registry"] = registry
    _emit(
        df,
        fmt,
        out,
        command="trend",
        params=params,
        loads=loads,
        registry=reg,
        view=views.TREND,
        wide=wide,
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
    from friendshore.reference.registry import load_registry

    reg = load_registry(registry)
    kwargs: dict[str, Any] = {
        "year": year,
        "importer": importer,
        "bloc": bloc,
        "industry": industry,
        "hs": hs,
        "concern": concern,
        "include_intra": include_intra,
        "import_hhi": import_hhi,
        "world_hhi": world_hhi,
        "ratio": ratio,
        "window": window,
        "min_years": min_years,
        "crma_share": crma_share,
        "min_coverage": min_coverage,
        "source": source,
    }
    with state(ctx).open_store(read_only=True) as store:
        df = flags_lib.dependency_flags(store, registry=reg, **kwargs)
        loads = store.loads()
    params = {**kwargs, "registry": registry}
    _emit(
        df,
        fmt,
        out,
        command="flags",
        params=params,
        loads=loads,
        registry=reg,
        view=views.FLAGS,
        wide=wide,
    )


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
    from friendshore.reference.registry import load_registry

    reg = load_registry(registry)
    params: dict[str, Any] = {"year": year, "bloc": bloc, "commodity": commodity}
    params |= {"share": share, "source": source, "registry": registry}
    with state(ctx).open_store(read_only=True) as store:
        df = crma_lib.crma_benchmark(
            store,
            year=year,
            bloc=bloc,
            commodity=commodity,
            share=share,
            registry=reg,
            source=source,
        )
        loads = store.loads()
    _emit(
        df,
        fmt,
        out,
        command="crma",
        params=params,
        loads=loads,
        registry=reg,
        view=views.CRMA,
        wide=wide,
    )
