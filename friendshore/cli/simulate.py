"""The ``simulate`` command: friend-shoring and reshoring scenarios."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from friendshore import export
from friendshore import scenario as scenario_lib
from friendshore import simulate as simulate_lib
from friendshore.industries import load_industries
from friendshore.registry import load_registry

from .app import app, state
from .render import Format, FormatOpt, OutOpt, emit


class Level(StrEnum):
    """Rows per product, or rolled up per industry."""

    product = "product"
    industry = "industry"


_Q = "Quick scenario"  # help panel of the flags that build a scenario


@app.command()
def simulate(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Scenario TOML files (see data/scenarios/README.md)."),
    ] = None,
    importer: Annotated[
        str | None,
        typer.Option(help="Importer ISO3, or 'all'.", rich_help_panel=_Q),
    ] = None,
    bloc: Annotated[
        str | None,
        typer.Option(help="A registry group as importer, e.g. eu.", rich_help_panel=_Q),
    ] = None,
    industry: Annotated[
        str | None,
        typer.Option(
            help="Industry of the industry map, or 'all'.", rich_help_panel=_Q
        ),
    ] = None,
    hs: Annotated[
        list[str] | None,
        typer.Option(help="HS6 code (repeatable), or 'all'.", rich_help_panel=_Q),
    ] = None,
    year: Annotated[
        int | None,
        typer.Option(help="Year (default: latest in the store).", rich_help_panel=_Q),
    ] = None,
    concern: Annotated[
        str | None,
        typer.Option(help="Concern group (default prc).", rich_help_panel=_Q),
    ] = None,
    max_concern_share: Annotated[
        float | None,
        typer.Option(help="Cap on the concern group's share, 0–1.", rich_help_panel=_Q),
    ] = None,
    eligible: Annotated[
        list[str] | None,
        typer.Option(
            help="Registry group that may take the volume (repeatable; default: "
            "every non-concern supplier).",
            rich_help_panel=_Q,
        ),
    ] = None,
    capacity_expansion: Annotated[
        float | None,
        typer.Option(
            help="Share of its world exports each supplier can add (default 0.25).",
            rich_help_panel=_Q,
        ),
    ] = None,
    reshoring: Annotated[
        float | None,
        typer.Option(
            help="Share of baseline imports domestic output can replace.",
            rich_help_panel=_Q,
        ),
    ] = None,
    capacity_range: Annotated[
        tuple[float, float] | None,
        typer.Option(help="Uniform range of capacity_expansion for --draws."),
    ] = None,
    unit_value_range: Annotated[
        tuple[float, float] | None,
        typer.Option(help="Uniform range of the unit-value scale for --draws."),
    ] = None,
    draws: Annotated[
        int | None,
        typer.Option(help="Monte-Carlo draws (p5/p50/p95 rows).", min=1),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the draws.", min=0)] = None,
    level: Annotated[
        Level, typer.Option(help="One row per product or per industry.")
    ] = Level.product,
    source: Annotated[
        str | None,
        typer.Option(help="Trade source (default: baci, then comtrade, then tables)."),
    ] = None,
    registry: Annotated[
        Path | None,
        typer.Option(help="A user registry file merged over the bundled one."),
    ] = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """Simulate capping a concern group's share: who takes the volume, at what cost.

    Displaced imports go first to domestic production (--reshoring), then to
    eligible suppliers in proportion to their world exports, each capped at
    capacity_expansion × its world exports; the rest is unmet demand. Several
    scenario files give one table with a scenario column.

    Examples:

      friendshore simulate data/scenarios/us-magnets.toml --format csv

      friendshore simulate --importer USA --industry batteries --max-concern-share 0

      friendshore simulate a.toml b.toml --level industry --format parquet --out s.parquet

      friendshore simulate --importer USA --industry all --max-concern-share 0.1 --draws 1000 --capacity-range 0.1 0.5
    """
    reg = load_registry(registry)
    ind = load_industries()
    flags = {
        "importer": importer,
        "bloc": bloc,
        "industry": industry,
        "hs": (hs[0] if hs == ["all"] else hs) if hs else None,
        "year": year,
        "concern": concern,
        "max_concern_share": max_concern_share,
        "eligible": eligible,
        "capacity_expansion": capacity_expansion,
        "reshoring": reshoring,
        "capacity_range": capacity_range,
        "unit_value_range": unit_value_range,
    }
    scenarios = scenario_lib.gather(
        files or [],
        flags,
        draws=draws,
        seed=seed,
        groups=reg.group_names(),
        industries=ind.names(),
    )
    with state(ctx).open_store(read_only=True) as store:
        table = simulate_lib.simulate(
            store,
            scenarios,
            registry=reg,
            industries=ind,
            level=level.value,
            source=source,
        )
        meta = export.provenance(
            "simulate",
            {
                "files": files or [],
                **flags,
                "draws": draws,
                "seed": seed,
                "level": level.value,
                "source": source,
            },
            store.loads(),
            extra={
                "registry_version": reg.version,
                "scenarios": [scenario_lib.as_dict(sc) for sc in scenarios],
            },
        )
    for note in _unmatched(scenarios, table):
        typer.echo(note, err=True)
    emit(table, fmt, out, title="simulate", metadata=meta)


def _unmatched(
    scenarios: list[scenario_lib.Scenario], table: pl.DataFrame
) -> list[str]:
    """One stderr note per scenario that found no trade flows (never a silent gap)."""
    found = set(table.get_column("scenario").to_list())
    notes = []
    for sc in scenarios:
        if sc.name in found:
            continue
        products = (
            f"industry {sc.industry}"
            if sc.industry is not None
            else "every product"
            if sc.all_products
            else "HS " + ", ".join(sc.hs)
        )
        year = "the latest year" if sc.year is None else str(sc.year)
        who = f"bloc {sc.bloc}" if sc.bloc is not None else f"importer {sc.importer}"
        notes.append(
            f"{sc.source}: scenario {sc.name!r} matched no trade flows "
            f"({who}, {year}, {products}); "
            "`friendshore info` lists the loaded years and products"
        )
    return notes
