"""Commands that fill and describe the store: ``load``, ``info``, ``demo``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from friendshore.errors import ParameterError

from . import views
from .app import app, state
from .progress import progress_bar, summary
from .render import Format, FormatOpt, OutOpt, WideOpt, emit, emit_many
from .rows import given

if TYPE_CHECKING:
    import polars as pl

    from friendshore.store import LoadResult


class Source(StrEnum):
    """Source formats ``friendshore load`` reads."""

    baci = "baci"
    comtrade = "comtrade"
    usgs = "usgs"
    table = "table"


# Which loader options each source accepts (others are a usage error).
_SOURCE_OPTIONS: dict[str, set[str]] = {
    "baci": {"country_codes", "product_codes", "hs_revision"},
    "comtrade": {"prefer"},
    "usgs": set(),
    "table": {"mapping", "name", "hs_revision", "target"},
}


def results_frame(results: list[LoadResult]) -> pl.DataFrame:
    """One row per file a load touched."""
    import polars as pl

    return pl.DataFrame(
        {
            "file": [r.file_name for r in results],
            "source": [r.source for r in results],
            "status": [r.status for r in results],
            "rows": [r.rows for r in results],
            "years": [",".join(map(str, r.years)) for r in results],
            "dataset": [r.dataset_key for r in results],
            "seconds": [round(r.seconds, 2) for r in results],
            "note": ["; ".join(r.notes) for r in results],
        },
        schema={
            "file": pl.String,
            "source": pl.String,
            "status": pl.String,
            "rows": pl.Int64,
            "years": pl.String,
            "dataset": pl.String,
            "seconds": pl.Float64,
            "note": pl.String,
        },
    )


def load_summary(command: str, results: list[LoadResult]) -> str:
    """``load: 14 files (12 loaded, 2 unchanged), 1,234 rows in 2.1 s``."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    what = ", ".join(f"{n} {status}" for status, n in counts.items())
    rows = sum(r.rows for r in results)
    secs = sum(r.seconds for r in results)
    n = len(results)
    return (
        f"{command}: {n} file{'s' if n != 1 else ''} ({what}), "
        f"{rows:,} rows in {secs:.1f} s"
    )


def _parse_map(items: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise typer.BadParameter(
                f"expected CANONICAL=SOURCE_COLUMN, got {item!r}", param_hint="--map"
            )
        mapping[key.strip()] = value.strip()
    return mapping


def _loader_options(ctx: typer.Context, source: Source) -> dict[str, Any]:
    """The loader options the command was given (``--map`` parsed), each one
    that does not apply to ``source`` a usage error."""
    names = sorted(set().union(*_SOURCE_OPTIONS.values()))
    options = {k: v for k, v in given(ctx, *names).items() if v is not None}
    if "mapping" in options:
        options["mapping"] = _parse_map(options["mapping"])
    stray = sorted(set(options) - _SOURCE_OPTIONS[source.value])
    if stray:
        flags = ", ".join(
            "--" + ("map" if k == "mapping" else k.replace("_", "-")) for k in stray
        )
        raise ParameterError(f"{flags} does not apply to `load {source.value}`")
    return options


@app.command()
def load(
    ctx: typer.Context,
    source: Annotated[Source, typer.Argument(help="Source format of the files.")],
    paths: Annotated[
        list[Path],
        typer.Argument(help="Files, folders or zip archives to load.", exists=False),
    ],
    country_codes: Annotated[
        Path | None,
        typer.Option(
            help="baci: the release's country_codes_V*.csv (default: beside the data)."
        ),
    ] = None,
    product_codes: Annotated[
        Path | None,
        typer.Option(help="baci: the release's product_codes_HS??_V*.csv."),
    ] = None,
    prefer: Annotated[
        str | None,
        typer.Option(
            help="comtrade: 'imports' (default) or 'exports', when both sides report."
        ),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="table: canonical=source column, e.g. --map exporter=Reporter.",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="table: a name for this source (source column).")
    ] = None,
    hs_revision: Annotated[
        str | None,
        typer.Option(
            help="table, baci: HS revision of the codes, e.g. HS2017 "
            "(baci: for a file whose name lacks it)."
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(help="table: 'trade_flows' (default) or 'production'."),
    ] = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    wide: WideOpt = False,
) -> None:
    """Load source files into the store (one transaction per file).

    Loading the identical file again is a no-op; a changed file replaces the rows
    its earlier version loaded.

    Examples:

      friendshore load baci BACI_HS17_V202501.zip

      friendshore load comtrade gallium_trade_data.csv --prefer imports

      friendshore load usgs mcs2024-raree_world.csv mcs2024-galli_world.csv

      friendshore load table flows.parquet --map exporter=Reporter \\
        --map importer=Partner --map year=Year --map hs6=Code --map value_usd=Value
    """
    options = _loader_options(ctx, source)
    from friendshore import sources
    from friendshore.reference.registry import load_registry

    sources.check_paths(paths)  # before a store file is made
    with state(ctx).writing_store("load") as store, progress_bar() as progress:
        results = sources.load(store, source.value, paths, progress=progress, **options)
        store.write_registry(load_registry())  # keep registry tables joinable in SQL
    emit(results_frame(results), fmt, out, title="load", view=views.LOAD, wide=wide)
    summary(load_summary("load", results))


TableOpt = Annotated[
    str | None,
    typer.Option(
        "--table", help="Only this table (store, trade_flows, production, loads)."
    ),
]


@app.command()
def info(
    ctx: typer.Context,
    table: TableOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    wide: WideOpt = False,
) -> None:
    """Show what the store holds: sources, years, row counts, files loaded, size.

    --format csv prints one table: pick it with --table, or give --out DIR.

    Example: friendshore --db trade.duckdb info --table loads --format csv
    """
    with state(ctx).open_store(read_only=True) as store:
        tables = store.info()
    emit_many(tables, fmt, out, views=views.INFO, wide=wide, only=table)


@app.command()
def demo(
    ctx: typer.Context,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    wide: WideOpt = False,
) -> None:
    """Build a store from the bundled real data and print the headline results.

    Loads the bundled UN Comtrade records and USGS Mineral Commodity Summaries
    tables, then shows what was loaded and China's share of world production.

    Example: friendshore --db demo.duckdb demo
    """
    from friendshore import demo as demo_lib

    with state(ctx).writing_store("demo") as store, progress_bar() as progress:
        tables = demo_lib.run_demo(store, progress=progress)
        loads = store.fetchall("SELECT count(*), coalesce(sum(rows), 0) FROM loads")
    emit_many(tables, fmt, out, views=views.DEMO, wide=wide)
    files, rows = loads[0]
    summary(f"demo: {files} files in the store, {rows:,} rows")
