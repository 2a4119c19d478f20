"""The ``simulate`` command: coalition policies solved as global market clearing."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .app import app, state
from .render import Format, FormatOpt, OutOpt, RegistryOpt, View, WideOpt, emit
from .rows import Level, LevelOpt, SourceOpt, given


class By(StrEnum):
    """Rows per coalition member (importer) or per supplier (exporter)."""

    importer = "importer"
    exporter = "exporter"


# The table format shows these (every column with --wide); csv / json / parquet
# carry every column.
TABLE_COLUMNS = {
    "importer": [
        "scenario",
        "importer",
        "hs6",
        "industry",
        "stat",
        "import_value_usd",
        "import_price_change_pct",
        "import_quantity_change_pct",
    ],
    "exporter": [
        "scenario",
        "exporter",
        "hs6",
        "industry",
        "stat",
        "export_value_usd",
        "price_change_pct",
        "export_quantity_change_pct",
    ],
}

_Q = "Quick scenario"  # help panel of the flags that build a scenario


@app.command()
def simulate(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Scenario TOML files (see data/scenarios/README.md)."),
    ] = None,
    coalition: Annotated[
        list[str] | None,
        typer.Option(
            help="Coalition applying the policy: ISO3 codes and registry groups, "
            "comma-separated. Repeat to sweep (each value is one run of every "
            "scenario).",
        ),
    ] = None,
    importer: Annotated[
        str | None,
        typer.Option(help="One importer as coalition (ISO3).", rich_help_panel=_Q),
    ] = None,
    bloc: Annotated[
        str | None,
        typer.Option(
            help="A registry group as coalition, e.g. eu.", rich_help_panel=_Q
        ),
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
    policy: Annotated[
        str | None,
        typer.Option(help="ban | tariff | cap.", rich_help_panel=_Q),
    ] = None,
    tariff: Annotated[
        float | None,
        typer.Option(
            help="Tariff rate on the concern (policy tariff).", rich_help_panel=_Q
        ),
    ] = None,
    max_concern_share: Annotated[
        float | None,
        typer.Option(
            help="Cap on the concern's share, 0–1 (policy cap).", rich_help_panel=_Q
        ),
    ] = None,
    eligible: Annotated[
        list[str] | None,
        typer.Option(
            help="Registry group that may add capacity (repeatable; default: every "
            "supplier in neither the concern nor foreign-adversaries).",
            rich_help_panel=_Q,
        ),
    ] = None,
    capacity_expansion: Annotated[
        float | None,
        typer.Option(
            help="Share of its world exports each eligible supplier can add "
            "(default 0.25).",
            rich_help_panel=_Q,
        ),
    ] = None,
    reshoring: Annotated[
        float | None,
        typer.Option(
            help="Domestic capacity, as a share of baseline imports.",
            rich_help_panel=_Q,
        ),
    ] = None,
    reshoring_cost: Annotated[
        float | None,
        typer.Option(
            help="Import price (baseline 1) at which reshoring is fully used.",
            rich_help_panel=_Q,
        ),
    ] = None,
    capacity_range: Annotated[
        tuple[float, float] | None,
        typer.Option(help="Uniform range of capacity_expansion for --draws."),
    ] = None,
    substitution_range: Annotated[
        tuple[float, float] | None,
        typer.Option(help="Uniform range of the substitution elasticity for --draws."),
    ] = None,
    draws: Annotated[
        int | None,
        typer.Option(help="Monte-Carlo draws (p5/p50/p95 rows).", min=1),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the draws.", min=0)] = None,
    by: Annotated[
        By, typer.Option(help="Rows per coalition member or per exporter.")
    ] = By.importer,
    level: LevelOpt = Level.product,
    source: SourceOpt = None,
    registry: RegistryOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    wide: WideOpt = False,
) -> None:
    """Simulate a coalition's ban, tariff or cap on a concern group's goods.

    Every product is one world market of all its exporters and importers: prices
    move until every exporter's market clears, capacity is shared by all buyers
    and the concern's goods re-enter third markets (DESIGN.md, "Scenario model").
    Rows per coalition member (import price and quantity change, concern share,
    consumer surplus) or, with --by exporter, per supplier. The table format shows
    a readable few columns; csv, json and parquet carry all of them.

    Examples:

      friendshore simulate data/scenarios/ga-ge-controls-2023-usa.toml

      friendshore simulate data/scenarios/us-magnets.toml --coalition USA --coalition USA,us-treaty-allies

      friendshore simulate --importer USA --hs 811292 --policy ban --by exporter

      friendshore simulate a.toml b.toml --level industry --format parquet --out s.parquet

      friendshore simulate --importer USA --industry all --policy ban --draws 200 --substitution-range 2.1 5.1
    """
    from friendshore import export
    from friendshore.engines.scenarios import model
    from friendshore.engines.scenarios import simulate as simulate_lib
    from friendshore.reference.industries import load_industries
    from friendshore.reference.registry import load_registry

    reg, ind = load_registry(registry), load_industries()
    scenarios = model.gather(
        files or [],
        given(ctx, *model.FLAGS),
        draws=draws,
        seed=seed,
        groups=reg.group_names(),
        industries=ind.names(),
        coalitions=[model.parse_coalition(c) for c in coalition or []],
    )
    with state(ctx).open_store(read_only=True) as store:
        table = simulate_lib.simulate(
            store,
            scenarios,
            registry=reg,
            industries=ind,
            level=level.value,
            by=by.value,
            source=source,
        )
        meta = export.provenance(
            store,
            "simulate",
            given(ctx) | {"files": files or []},
            registry_version=reg.version,
            extra={"scenarios": [model.as_dict(sc) for sc in scenarios]},
        )
    for note in simulate_lib.unmatched_notes(scenarios, table):
        typer.echo(note, err=True)
    view = View.of(*TABLE_COLUMNS[by.value], keep=2)
    emit(table, fmt, out, title="simulate", metadata=meta, view=view, wide=wide)
