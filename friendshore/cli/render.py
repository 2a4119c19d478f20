"""Rendering result tables: rich table, CSV, JSON or Parquet (with provenance).

A terminal table shows a command's default columns (its :class:`View`): the ones a
person reads first, shares as %, values in millions of USD, no provenance. Every
column stays in ``--wide`` and in ``--format csv|json|parquet``, whose values are
never rescaled. Numbers and headers are never cut: a column that does not fit the
terminal is left out whole (and named on stderr), never shortened to ``…``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from friendshore.errors import ParameterError
from friendshore.reference.rows import Rows

if TYPE_CHECKING:  # polars and rich load when a table is printed, not for --help
    import polars as pl
    from rich.console import Console
    from rich.table import Table

    Frame = pl.DataFrame | Rows  # Rows: reference data printed without Polars


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
# The one --registry option of every command that reads the registry.
RegistryOpt = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        help="Your own groups and tier overrides (TOML or CSV), merged over the "
        "bundled registry.",
    ),
]
WideOpt = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Table: every column, values as stored (csv/json/parquet always are).",
    ),
]

# A table printed to a file or a pipe keeps its natural width (up to this), instead of
# squeezing every column to "…" at the 80 columns rich assumes without a terminal.
_MAX_FILE_WIDTH = 2000


# -- views: the columns a command shows by default ------------------------------------
def _pct(value: float) -> str:
    return f"{value * 100:.1f}"


def _musd(value: float) -> str:
    return f"{value / 1e6:,.1f}"


def _fixed3(value: float) -> str:
    return f"{value:.3f}"


def _fixed1(value: float) -> str:
    return f"{value:.1f}"


_UNITS: dict[str, tuple[Callable[[float], str], str]] = {
    "pct": (_pct, " %"),  # a 0–1 share shown as a percentage
    "musd": (_musd, " $M"),  # US dollars shown in millions
    "fixed3": (_fixed3, ""),  # an index on 0–1 (HHI), three decimals
    "fixed1": (_fixed1, ""),  # a figure already in % or units, one decimal
}


@dataclass(frozen=True)
class Col:
    """A default column: the frame's ``name``, shown as ``label`` in ``unit``.

    ``unit`` is ``pct`` (a 0–1 share as %), ``musd`` (USD in millions), ``fixed3``
    (three decimals), ``fixed1`` (one decimal) or None (as stored). The label defaults to the name, with the unit's suffix.
    ``wrap``: a text column that may wrap over lines (a title, a note) instead of
    being left out when the terminal is narrow.
    """

    name: str
    unit: str | None = None
    label: str | None = None
    wrap: bool = False

    @property
    def header(self) -> str:
        """The column's header in the table."""
        if self.label is not None:
            return self.label
        if self.unit is None:
            return self.name
        base = self.name.removesuffix("_share").removesuffix("_usd")
        return base + _UNITS[self.unit][1]


# Columns that say where a figure comes from rather than what it is: never in a
# default view (``rest``), always in --wide and the file formats.
PROVENANCE = frozenset(
    {"source", "source_url", "hs_revision", "basis", "vintage", "origin", "as_of"}
)


@dataclass(frozen=True)
class View:
    """A command's default columns, in order; the first ``keep`` are never dropped.

    Columns the frame lacks are skipped, so an engine can add or rename columns
    without breaking the table: a new column shows under ``--wide`` until it is
    placed in a view, or, with ``rest``, after the view's columns (provenance
    columns excepted). On a terminal, columns that do not fit are left out from
    the right, whole.
    """

    cols: tuple[Col, ...]
    keep: int = 1
    rest: bool = False

    @classmethod
    def of(cls, *cols: Col | str, keep: int = 1, rest: bool = False) -> View:
        """A view from columns or bare names (shown as stored)."""
        return cls(tuple(c if isinstance(c, Col) else Col(c) for c in cols), keep, rest)


# -- cells ------------------------------------------------------------------------------
def _fmt_cell(value: Any, unit: str | None = None) -> str:
    if value is None:
        return "—"
    if unit is not None and isinstance(value, int | float) and value == value:
        return _UNITS[unit][0](float(value))
    if isinstance(value, float):
        if abs(value) >= 1e4:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


@dataclass
class _Shown:
    """A column as printed: header, cells, alignment."""

    header: str
    cells: list[str]
    numeric: bool
    wrap: bool = False

    @property
    def width(self) -> int:
        """Its width unwrapped: the longest of header and cells."""
        return max([len(self.header), *(len(c) for c in self.cells)])

    @property
    def least(self) -> int:
        """The narrowest it may be printed: a wrapping column gives way to 20."""
        return min(self.width, max(20, len(self.header))) if self.wrap else self.width


_GAP = 2  # characters between two columns


def _needs(shown: Sequence[_Shown]) -> int:
    """Terminal columns a table needs with its wrapping columns at their narrowest."""
    return sum(c.least for c in shown) + _GAP * max(len(shown) - 1, 0)


def _column(df: Frame, name: str) -> tuple[list[Any], bool]:
    """A column's values and whether they are numbers."""
    if isinstance(df, Rows):
        return df.data[name], df.is_numeric(name)
    series = df.get_column(name)
    return series.to_list(), series.dtype.is_numeric()


def _shown(df: Frame, view: View | None) -> tuple[list[_Shown], int, list[str]]:
    """The printed columns, how many lead (never dropped), and the hidden names."""
    if view is None:
        cols, keep = [Col(n) for n in df.columns], 1
    else:
        cols = [c for c in view.cols if c.name in df.columns]
        if view.rest:
            named = {c.name for c in cols}
            cols += [
                Col(n) for n in df.columns if n not in named and n not in PROVENANCE
            ]
        keep = min(view.keep, len(cols))
    hidden = [n for n in df.columns if n not in {c.name for c in cols}]
    out = []
    for col in cols:
        values, numeric = _column(df, col.name)
        cells = [_fmt_cell(v, col.unit if numeric else None) for v in values]
        out.append(_Shown(col.header, cells, numeric, col.wrap and not numeric))
    return out, keep, hidden


def _rich(shown: Sequence[_Shown], title: str | None) -> Table:
    from rich import box
    from rich.table import Table

    # Columns two spaces apart under one rule, like `column -t`: the borders of a
    # boxed table cost three characters a column that a 100-column terminal lacks.
    table = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for col in shown:
        table.add_column(
            col.header,
            justify="right" if col.numeric else "left",
            no_wrap=not col.wrap,
            min_width=col.least,
            overflow="fold",
        )
    for row in zip(*(c.cells for c in shown), strict=True):
        table.add_row(*row)
    return table


def rich_table(df: Frame, title: str | None = None, view: View | None = None) -> Table:
    """A rich Table of a Polars frame (numbers right-aligned), all or a view's columns."""
    return _rich(_shown(df, view)[0], title)


def _natural(table: Table) -> int:
    from rich.console import Console

    console = Console(width=_MAX_FILE_WIDTH)
    return console.measure(table).maximum


def _print_table(console: Console, table: Table) -> None:
    """Print a table whole: never squeezed to "…", at its natural width if need be."""
    from rich.console import Console

    natural = _natural(table)
    if console.is_terminal and natural > console.width:
        typer.echo(
            f"(the table needs {natural} columns, the terminal has "
            f"{console.width}: pipe it to `less -S`, or use --format csv)",
            err=True,
        )
    width = max(console.width, natural)
    if console.is_terminal:
        if width == console.width:
            console.print(table)
            return
        # print(width=…) cannot exceed the console's own width: one of that width.
        Console(
            file=console.file,
            width=width,
            soft_wrap=False,
            force_terminal=True,
            # the same system this console detected (a name rich reports as str)
            color_system=console.color_system,  # type: ignore[arg-type]
        ).print(table)
        return
    # A file or a pipe: the table as text, without the cells' trailing padding.
    plain = Console(width=width, soft_wrap=False, force_terminal=False, no_color=True)
    with plain.capture() as captured:
        plain.print(table)
    lines = captured.get().splitlines()
    console.file.write("".join(line.rstrip() + "\n" for line in lines))
    console.file.flush()


def _print_view(
    console: Console,
    df: Frame,
    title: str | None,
    view: View | None,
    *,
    wide: bool,
) -> None:
    """The default columns that fit the terminal (or all with --wide), never cut."""
    shown, keep, hidden = _shown(df, None if wide else view)
    if console.is_terminal and not wide:
        while len(shown) > keep and _needs(shown) > console.width:
            hidden.insert(0, shown.pop().header)
    table = _rich(shown, title)
    if console.is_terminal and _needs(shown) <= console.width:
        console.print(table)  # wrapping columns wrap to fit
    else:
        _print_table(console, table)
    if hidden and console.is_terminal:
        n = len(hidden)
        typer.echo(
            f"({n} more column{'s' if n > 1 else ''}: --wide or --format csv shows "
            f"{'them' if n > 1 else 'it'})",
            err=True,
        )


def _stdout() -> Console:
    from rich.console import Console

    return Console(soft_wrap=False)


def emit(
    df: Frame,
    fmt: Format,
    out: Path | None,
    *,
    title: str | None = None,
    metadata: Mapping[str, str] | None = None,
    empty: str | None = None,
    view: View | None = None,
    wide: bool = False,
) -> None:
    """Print or write one table in the chosen format.

    ``view``: the table's default columns (``wide`` shows all); other formats keep
    every column. ``empty``: a note for stderr when the table has no rows (what
    matched nothing and where to look), so an empty result is never silent; the
    table itself is still written (a CSV header, ``[]``, an empty Parquet file).
    """
    if empty is not None and df.height == 0:
        typer.echo(empty, err=True)
    if fmt is Format.parquet:
        from friendshore import export

        if out is None:
            raise ParameterError("--format parquet needs --out FILE")
        frame = df.to_polars() if isinstance(df, Rows) else df
        export.write_parquet(frame, out, metadata or {})
        typer.echo(f"wrote {out} ({df.height} rows)", err=True)
        return
    if fmt is Format.table:
        if out is not None:
            from rich.console import Console

            with out.open("w", encoding="utf-8") as fh:
                console = Console(file=fh, soft_wrap=False)
                _print_view(console, df, title, view, wide=wide)
            return
        _print_view(_stdout(), df, title, view, wide=wide)
        return
    text = _text(df, fmt)
    if out is not None:
        from friendshore import export

        export.write_text(text, out)
        typer.echo(f"wrote {out} ({df.height} rows)", err=True)
    else:
        typer.echo(text, nl=False)


def _text(df: Frame, fmt: Format) -> str:
    """CSV or JSON text of a table (Rows without loading Polars)."""
    if isinstance(df, Rows):
        if fmt is Format.csv:
            return df.to_csv()
        import json

        return json.dumps(df.to_dicts(), default=str, indent=1) + "\n"
    from friendshore import export

    return export.to_csv(df) if fmt is Format.csv else export.to_json(df) + "\n"


def emit_many(
    tables: Mapping[str, pl.DataFrame],
    fmt: Format,
    out: Path | None,
    *,
    metadata: Mapping[str, str] | None = None,
    views: Mapping[str, View] | None = None,
    wide: bool = False,
    only: str | None = None,
) -> None:
    """Print several named tables (``info``, ``demo``): tables, a JSON object, files.

    CSV on stdout is one table (``only``), never sections mixed into one stream.
    ``views`` are keyed by a table's name or the start of it (a title that goes on
    to say more keeps its view).
    """
    given = dict(views or {})
    found = {
        name: next((v for k, v in given.items() if name.startswith(k)), None)
        for name in tables
    }
    views = {k: v for k, v in found.items() if v is not None}
    if only is not None:
        if only not in tables:
            from friendshore.errors import UnknownNameError

            raise UnknownNameError("table", only, list(tables))
        emit(
            tables[only],
            fmt,
            out,
            title=only,
            metadata=metadata,
            view=views.get(only),
            wide=wide,
        )
        return
    if fmt is Format.table and out is None:
        console = _stdout()
        for name, df in tables.items():
            _print_view(console, df, name, views.get(name), wide=wide)
        return
    if fmt is Format.json:
        import json

        text = json.dumps(
            {k: v.to_dicts() for k, v in tables.items()}, default=str, indent=1
        )
        if out is None:
            typer.echo(text)
        else:
            from friendshore import export

            export.write_text(text + "\n", out)
        return
    if out is None:
        raise ParameterError(
            f"--format {fmt.value} prints one table: add --table "
            f"{'|'.join(tables)}, or --out DIR for one file per table"
        )
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        ext = {"parquet": "parquet", "csv": "csv", "table": "txt"}[fmt.value]
        emit(
            df,
            fmt,
            out / f"{name}.{ext}",
            metadata=metadata,
            view=views.get(name),
            wide=wide,
        )
