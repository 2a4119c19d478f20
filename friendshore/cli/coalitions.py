"""``coalitions`` (league table) and ``partners suggest``: which coalition insulates
its members from the concern best, and which country to add to one (issue 19)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from friendshore.errors import ParameterError

from . import defaults
from .app import app, state
from .render import Format, FormatOpt, OutOpt, RegistryOpt, emit
from .rows import (
    BasketHsOpt,
    BasketIndustryOpt,
    ConcernOpt,
    RowOptions,
    SourceOpt,
    YearOpt,
    given,
)

if TYPE_CHECKING:  # the solver, Polars and DuckDB load when a command runs
    import polars as pl

    from friendshore.engines.scenarios import coalitions as lib

partners_app = typer.Typer(
    no_args_is_help=True,
    help=(
        "Which country, added to a coalition, lowers its members' price rise most.\n\n"
        "Example: friendshore partners suggest --coalition quad --industry batteries "
        "--year 2022 --top 10"
    ),
)
app.add_typer(partners_app, name="partners")


class EligibleName(StrEnum):
    """Who may add capacity."""

    members = "members"
    all = "all"


class PolicyName(StrEnum):
    """What every member does to the concern's supply."""

    ban = "ban"
    tariff = "tariff"
    cap = "cap"


_M = "Model"  # help panel of the policy and elasticities
_D = defaults.ELASTICITIES

PolicyOpt = Annotated[
    PolicyName,
    typer.Option(
        "--policy", help="ban | tariff | cap on the concern.", rich_help_panel=_M
    ),
]
TariffOpt = Annotated[
    float,
    typer.Option(help="Ad-valorem tariff with --policy tariff.", rich_help_panel=_M),
]
CapOpt = Annotated[
    float,
    typer.Option(
        help="Largest concern share of each member's imports with --policy cap.",
        rich_help_panel=_M,
    ),
]
SubstitutionOpt = Annotated[
    float,
    typer.Option(help="σ, substitution between origins (> 1).", rich_help_panel=_M),
]
DemandOpt = Annotated[
    float, typer.Option(help="η, total demand elasticity.", rich_help_panel=_M)
]
SupplyOpt = Annotated[
    float, typer.Option(help="ε, export supply elasticity.", rich_help_panel=_M)
]
ExpansionOpt = Annotated[
    float,
    typer.Option(
        help="Share of its baseline exports each eligible supplier can add.",
        rich_help_panel=_M,
    ),
]
EligibleOpt = Annotated[
    EligibleName,
    typer.Option(
        help="Who may add capacity: the coalition's members (a partner that joins "
        "brings its suppliers), or every country but the concern and the foreign "
        "adversaries.",
        rich_help_panel=_M,
    ),
]


def _settings(ctx: typer.Context) -> lib.Settings:
    """The model's settings as the command's options give them."""
    from friendshore.engines.scenarios import coalitions as lib

    return lib.Settings.of(**given(ctx, *_SETTINGS))


# The options that make up lib.Settings.of's keywords.
_SETTINGS = (
    "policy",
    "tariff",
    "max_concern_share",
    "substitution",
    "demand",
    "supply",
    "capacity_expansion",
    "eligible",
)


def _members_text(df: pl.DataFrame, limit: int = 3) -> pl.DataFrame:
    """``AUS IND JPN USA`` or ``ALB BEL CAN … (30)``: the members for the terminal."""
    import polars as pl

    def text(members: pl.Series) -> str:
        names = members.to_list()
        if len(names) <= limit:
            return " ".join(names)
        return " ".join(names[: limit - 1]) + f" … ({len(names)})"

    return df.with_columns(pl.col("members").map_elements(text, return_dtype=pl.String))


def _provenance(
    store: Any, command: str, ctx: typer.Context, rows: RowOptions
) -> dict[str, str]:
    """The output's provenance: the command and every option it was given."""
    from friendshore import export

    return export.provenance(
        store, command, given(ctx), registry_version=rows.reg.version
    )


@app.command(context_settings={"allow_extra_args": True})
def coalitions(
    ctx: typer.Context,
    industry: BasketIndustryOpt = None,
    hs: BasketHsOpt = None,
    year: YearOpt = None,
    groups: Annotated[
        list[str] | None,
        typer.Option(
            help="Registry groups to compare, or ISO3 codes (a coalition of one); "
            "default: every alliance or partnership with ≥ 2 members.",
        ),
    ] = None,
    concern: ConcernOpt = defaults.CONCERN,
    policy: PolicyOpt = PolicyName.ban,
    tariff: TariffOpt = 0.0,
    max_concern_share: CapOpt = 0.0,
    substitution: SubstitutionOpt = _D.substitution,
    demand: DemandOpt = _D.demand,
    supply: SupplyOpt = _D.supply,
    capacity_expansion: ExpansionOpt = defaults.CAPACITY_EXPANSION,
    eligible: EligibleOpt = EligibleName.members,
    source: SourceOpt = None,
    registry: RegistryOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """League table: which coalition holds up best when it restricts the concern.

    One market-clearing run per coalition (every exporter and importer of each
    product, capacity shared by all buyers); one row per coalition, sorted by the
    members' import price rise (import-value-weighted over members and products).

    Examples:

      friendshore coalitions --industry batteries --year 2022

      friendshore coalitions --hs 811292 --hs 811299 --groups quad aukus g7 USA

      friendshore coalitions --industry all --policy tariff --tariff 0.25 --format csv
    """
    from friendshore.engines.scenarios import coalitions as lib

    rows = RowOptions(year=year, concern=concern, source=source, registry=registry)
    settings = _settings(ctx)
    with state(ctx).open_store(read_only=True) as store:
        table, notes = lib.coalitions(
            store,
            rows.selection(store),
            industry=industry,
            hs=hs,
            groups=_groups(ctx, groups),
            concern=concern,
            settings=settings,
            registry=rows.reg,
        )
        meta = _provenance(store, "coalitions", ctx, rows)
    _notes(notes)
    if fmt is Format.table:
        table = _display(_members_text(table), _LEAGUE_HEADERS)
    emit(_finite_for_json(table, fmt), fmt, out, title="coalitions", metadata=meta)


def _notes(notes: tuple[str, ...]) -> None:
    for note in notes:
        typer.echo(f"note: {note}", err=True)


# The terminal table: the figures that rank, under headers that fit 100 columns
# (every column, under its full name, in csv / json / parquet).
_LEAGUE_HEADERS = {
    "rank": "#",
    "coalition": "coalition",
    "members": "members",
    "import_price_change_pct": "price %",
    "cut_off_usd": "cut off M$",
    "supplied_price_change_pct": "price % supplied",
    "consumer_surplus_change_usd": "surplus M$",
    "concern_export_value_change_pct": "concern exports %",
    "diverted_share": "diverted",
}
_PARTNER_HEADERS = {
    "rank": "#",
    "candidate": "candidate",
    "import_price_change_pct": "members' price %",
    "price_change_reduction_pp": "lowered by pp",
    "consumer_surplus_change_usd": "members' surplus M$",
    "diverted_share": "diverted",
    "candidate_import_value_usd": "its imports M$",
    "candidate_price_change_pct": "its price % in",
    "candidate_price_change_outside_pct": "its price % out",
}


def _finite_for_json(df: pl.DataFrame, fmt: Format) -> pl.DataFrame:
    """JSON has no infinity: an unbounded price rise is null there (its
    ``cut_off_usd`` says why); the other formats keep ``inf``."""
    import polars as pl

    if fmt is not Format.json:
        return df
    return df.with_columns(
        pl.when(pl.col(c).is_infinite()).then(None).otherwise(pl.col(c)).alias(c)
        for c, t in df.schema.items()
        if t == pl.Float64
    )


def _display(df: pl.DataFrame, headers: dict[str, str]) -> pl.DataFrame:
    """The terminal's columns: US dollars in millions (M$), short headers."""
    import polars as pl

    return df.select(
        (pl.col(k) / 1e6 if k.endswith("_usd") else pl.col(k)).alias(v)
        for k, v in headers.items()
    )


def _groups(ctx: typer.Context, groups: list[str] | None) -> list[str] | None:
    """``--groups quad aukus g7`` as the issue writes it: the words after the
    option arrive as extra arguments."""
    if ctx.args and not groups:
        raise ParameterError(f"unexpected argument {ctx.args[0]!r} (see --help)")
    return _split([*(groups or []), *ctx.args])


def _split(values: list[str] | None) -> list[str] | None:
    """``--groups quad aukus`` (after the option) and ``--groups quad --groups g7``."""
    if not values:
        return None
    return [v for item in values for v in item.replace(",", " ").split()]


@partners_app.command("suggest")
def partners_suggest(
    ctx: typer.Context,
    coalition: Annotated[
        str, typer.Option(help="Registry group (or ISO3 code) to add a partner to.")
    ],
    industry: BasketIndustryOpt = None,
    hs: BasketHsOpt = None,
    year: YearOpt = None,
    top: Annotated[
        int | None, typer.Option(help="Show only the N best candidates.", min=1)
    ] = None,
    candidate: Annotated[
        list[str] | None,
        typer.Option(
            help="Only these candidates: ISO3 codes or registry groups (repeatable); "
            "default every country outside the coalition."
        ),
    ] = None,
    concern: ConcernOpt = defaults.CONCERN,
    policy: PolicyOpt = PolicyName.ban,
    tariff: TariffOpt = 0.0,
    max_concern_share: CapOpt = 0.0,
    substitution: SubstitutionOpt = _D.substitution,
    demand: DemandOpt = _D.demand,
    supply: SupplyOpt = _D.supply,
    capacity_expansion: ExpansionOpt = defaults.CAPACITY_EXPANSION,
    eligible: EligibleOpt = EligibleName.members,
    source: SourceOpt = None,
    registry: RegistryOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """Rank the countries outside a coalition by how much joining would help it.

    A candidate that joins restricts its own imports from the concern too, and
    may add capacity as a supplier. Ranked by how many percentage points it takes
    off the members' import price rise; beside it the candidate's own price
    change as a member and outside. Candidates that are concern members or
    neither import nor export the basket are skipped (said on stderr).

    Examples:

      friendshore partners suggest --coalition quad --industry batteries --year 2022

      friendshore partners suggest --coalition aukus --industry all --top 10 --format csv

      friendshore partners suggest --coalition g7 --hs 811292 --candidate KOR --candidate nato
    """
    from friendshore.engines.scenarios import coalitions as lib

    rows = RowOptions(year=year, concern=concern, source=source, registry=registry)
    settings = _settings(ctx)
    with state(ctx).open_store(read_only=True) as store:
        found = lib.suggest_partners(
            store,
            rows.selection(store),
            coalition=coalition,
            industry=industry,
            hs=hs,
            concern=concern,
            settings=settings,
            registry=rows.reg,
            candidates=_split(candidate),
        )
        meta = _provenance(store, "partners suggest", ctx, rows)
    _notes(found.notes)
    shown = found.ranked(top)
    if fmt is Format.table:
        shown = _display(shown, _PARTNER_HEADERS)
    emit(
        _finite_for_json(shown, fmt),
        fmt,
        out,
        title=f"partners for {coalition}",
        metadata=meta,
        empty=f"note: {found.empty_note}",
    )
