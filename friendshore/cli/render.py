"""Rendering result tables: rich table, CSV, JSON or Parquet (with provenance)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from friendshore import export
from friendshore.errors import ParameterError


class Format(StrEnum):
    """Output formats every table-printing command offers."""

    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


FormatOpt = Annotated[
    Format, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Write to this file instead of stdout."),
]

_stdout = Console(soft_wrap=False)

# A table printed to a file or a pipe keeps its natural width (up to this), instead of
# squeezing every column to "…" at the 80 columns rich assumes without a terminal.
_MAX_FILE_WIDTH = 2000


def _print_table(console: Console, table: Table) -> None:
    """Print a table: at the terminal's width, or at its natural width elsewhere."""
    wide = console.options.update_width(_MAX_FILE_WIDTH)
    natural = console.measure(table, options=wide).maximum
    if console.is_terminal:
        console.print(table)
        if natural > console.width:
            typer.echo(
                f"(the table needs {natural} columns, the terminal has "
                f"{console.width}: pipe it to `less -S`, or use --format csv)",
                err=True,
            )
        return
    width = max(console.width, natural)
    # print(width=…) cannot exceed the console's own width: a console of that width.
    Console(file=console.file, width=width, soft_wrap=False).print(table)


def _fmt_cell(value: Any, dtype: pl.DataType) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 1e4:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return str(value)


def rich_table(df: pl.DataFrame, title: str | None = None) -> Table:
    """A rich Table of a Polars frame (numbers right-aligned)."""
    table = Table(title=title, title_justify="left", header_style="bold")
    for name, dtype in df.schema.items():
        table.add_column(name, justify="right" if dtype.is_numeric() else "left")
    dtypes = list(df.schema.values())
    for row in df.iter_rows():
        table.add_row(*(_fmt_cell(v, t) for v, t in zip(row, dtypes, strict=True)))
    return table


def emit(
    df: pl.DataFrame,
    fmt: Format,
    out: Path | None,
    *,
    title: str | None = None,
    metadata: Mapping[str, str] | None = None,
    empty: str | None = None,
) -> None:
    """Print or write one table in the chosen format.

    ``empty``: a note for stderr when the table has no rows (what matched nothing and
    where to look), so an empty result is never silent; the table itself is still
    written (a CSV header, ``[]``, an empty Parquet file).
    """
    if empty is not None and df.height == 0:
        typer.echo(empty, err=True)
    if fmt is Format.parquet:
        if out is None:
            raise ParameterError("--format parquet needs --out FILE")
        export.write_parquet(df, out, metadata or {})
        typer.echo(f"wrote {out} ({df.height} rows)", err=True)
        return
    if fmt is Format.table:
        if out is not None:
            with out.open("w", encoding="utf-8") as fh:
                _print_table(Console(file=fh, soft_wrap=False), rich_table(df, title))
            return
        _print_table(_stdout, rich_table(df, title))
        return
    text = export.to_csv(df) if fmt is Format.csv else export.to_json(df) + "\n"
    if out is not None:
        export.write_text(text, out)
        typer.echo(f"wrote {out} ({df.height} rows)", err=True)
    else:
        typer.echo(text, nl=False)


def emit_many(
    tables: Mapping[str, pl.DataFrame],
    fmt: Format,
    out: Path | None,
    *,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Print several named tables (``info``): JSON object, CSV sections, or files."""
    if fmt is Format.table and out is None:
        for name, df in tables.items():
            _print_table(_stdout, rich_table(df, name))
        return
    if fmt is Format.json:
        import json

        text = json.dumps(
            {k: v.to_dicts() for k, v in tables.items()}, default=str, indent=1
        )
        if out is None:
            typer.echo(text)
        else:
            export.write_text(text + "\n", out)
        return
    if fmt is Format.csv and out is None:
        for name, df in tables.items():
            typer.echo(f"# {name}")
            typer.echo(export.to_csv(df), nl=False)
        return
    if out is None:
        raise ParameterError(f"--format {fmt.value} of several tables needs --out DIR")
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        ext = {"parquet": "parquet", "csv": "csv", "table": "txt"}[fmt.value]
        emit(df, fmt, out / f"{name}.{ext}", metadata=metadata)
