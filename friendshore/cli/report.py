"""Commands for analysts: ``report`` and the ``query`` sub-app (named SQL)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from friendshore.errors import ParameterError

from .app import app, state
from .render import Format, FormatOpt, OutOpt, emit

if TYPE_CHECKING:
    import polars as pl

query_app = typer.Typer(
    no_args_is_help=True,
    help="Named SQL queries (queries/*.sql): list them, show one, run one.",
)
app.add_typer(query_app, name="query")


@app.command()
def report(
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Directory for the Parquet files and report.html."
        ),
    ],
    importer: Annotated[
        str | None, typer.Option(help="ISO3 importer (default: every importer).")
    ] = None,
    bloc: Annotated[
        str | None, typer.Option(help="Registry group whose members import together.")
    ] = None,
    year: Annotated[
        int | None, typer.Option(help="Year of the snapshot (default: latest).")
    ] = None,
    scenario: Annotated[
        list[Path] | None,
        typer.Option("--scenario", help="Scenario TOML file (repeatable)."),
    ] = None,
    concern: Annotated[str, typer.Option(help="Registry group of concern.")] = "prc",
    coalitions: Annotated[
        bool,
        typer.Option(
            "--coalitions",
            help="Add the coalition league table: every alliance and partnership "
            "banning the concern's supply of the defense basket.",
        ),
    ] = False,
) -> None:
    """Write the analyst report: Parquet tables with provenance and report.html.

    report.html is one self-contained page with charts; it opens offline.

    Examples:

      friendshore report --importer USA --year 2022 --out report/

      friendshore report --importer USA --scenario data/scenarios/us-magnets.toml --out us/

      friendshore report --importer USA --coalitions --out report/
    """
    from friendshore import report as report_lib

    with state(ctx).open_store(read_only=True) as store:
        data = report_lib.build_report(
            store,
            importer=importer,
            bloc=bloc,
            year=year,
            scenarios=scenario or (),
            concern=concern,
            coalitions=coalitions,
        )
    if note := report_lib.empty_note(data, importer=importer, bloc=bloc):
        typer.echo(note, err=True)
    written = report_lib.write_report(data, out)
    emit(report_lib.written_frame(written), Format.table, None, title="report")


@query_app.command("list")
def query_list(fmt: FormatOpt = Format.table, out: OutOpt = None) -> None:
    """List the public named queries with their header: description, params, returns.

    An engine's internal queries (coded keys, temp tables) are not listed.

    Example: friendshore query list --format json
    """
    from friendshore.store import catalogue as queries

    frame = queries.catalogue().public().frame()
    if fmt is Format.table and out is None:
        typer.echo(_cards(frame), nl=False)
        return
    emit(frame, fmt, out, title="queries")


def _cards(frame: pl.DataFrame) -> str:
    """Each query as its header reads: the name, then its fields, indented."""
    wrap = textwrap.TextWrapper(width=88, initial_indent="  ", subsequent_indent="  ")
    keyed = textwrap.TextWrapper(width=88, subsequent_indent=" " * 12)
    blocks = []
    for row in frame.iter_rows(named=True):
        lines = [typer.style(row["name"], bold=True), wrap.fill(row["description"])]
        for key in ("params", "inputs", "grain", "returns"):
            lines.append(keyed.fill(f"  {key + ':':<9} {row[key]}"))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


@query_app.command("show")
def query_show(
    name: Annotated[str, typer.Argument(help="Query name (see `query list`).")],
) -> None:
    """Print a named query's file: its header and SQL.

    Example: friendshore query show suppliers
    """
    from friendshore.store import catalogue as queries

    typer.echo(
        queries.catalogue().public().get(name).path.read_text(encoding="utf-8"),
        nl=False,
    )


def _parse_params(items: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(f"--param expects KEY=VALUE, got {item!r}")
        if key in params:
            raise ParameterError(f"--param {key} is given twice")
        params[key] = value
    return params


@query_app.command("run")
def query_run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Query name (see `query list`).")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", help="KEY=VALUE, typed by the header (repeatable)."
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """Run a named query; parameters are bound by DuckDB, never pasted into SQL.

    Examples:

      friendshore query run production_by_country -p commodity=gallium -p stage=refinery -p edition=MCS2025

      friendshore query run NAME --param year=2022 --param importer=USA
    """
    from friendshore import export
    from friendshore.reference.registry import load_registry
    from friendshore.store import catalogue as queries

    params = _parse_params(param or [])
    # name and params first, then the store
    queries.catalogue().public().get(name).bind(params)
    with state(ctx).open_store(read_only=True) as store:
        df = queries.run_query(store, name, params)
        meta = (
            export.provenance(
                store,
                "query run",
                {"query": name, "params": params},
                registry_version=load_registry().version,
            )
            if fmt is Format.parquet
            else None
        )
    emit(df, fmt, out, title=name, metadata=meta)
