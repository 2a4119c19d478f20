"""``export parquet``: the store's public tables as Hive-partitioned Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app, state
from .render import Format, FormatOpt, OutOpt, emit

export_app = typer.Typer(
    no_args_is_help=True,
    help=(
        "Export the store for other engines (Apache Spark, warehouses).\n\n"
        "Example: friendshore export parquet export/"
    ),
)
app.add_typer(export_app, name="export")


@export_app.command("parquet")
def export_parquet_cmd(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(help="A new or empty directory to write the export to.")
    ],
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace an earlier export in DIRECTORY."),
    ] = False,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """Hive-partitioned Parquet of the public tables, with a manifest.

    trade_flows by source and year; production by edition; countries (with the
    store's integer ids); registry memberships and tiers as of each year; the
    industry map in each HS revision; manifest.json with the loads (file,
    sha256) and every file written. Prints one row per table.

    Example: friendshore --db trade.duckdb export parquet export/ && friendshore
    exposure --engine spark --parquet export/ --importer USA
    """
    import polars as pl

    from friendshore.export.parquet import export_parquet

    with state(ctx).open_store(read_only=True) as store:
        manifest = export_parquet(store, directory, overwrite=overwrite)
    rows = [
        {
            "table": name,
            "partitioning": ", ".join(t["partitioning"]) or "-",
            "files": len(t["files"]),
            "rows": t["rows"],
            "bytes": sum(f["bytes"] for f in t["files"]),
        }
        for name, t in manifest["tables"].items()
    ]
    emit(pl.DataFrame(rows), fmt, out, title=f"exported to {directory}")
