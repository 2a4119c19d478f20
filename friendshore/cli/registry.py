"""Commands over the bundled reference data: ``registry …`` and ``industries …``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from . import defaults, views
from .app import app
from .render import Format, FormatOpt, OutOpt, RegistryOpt, View, WideOpt, emit

if TYPE_CHECKING:
    from .render import Frame

registry_app = typer.Typer(
    no_args_is_help=True,
    help=(
        "Alliances and partner groups with dated membership, and country tiers.\n\n"
        "Example: friendshore registry show nato --year 2024"
    ),
)
industries_app = typer.Typer(
    no_args_is_help=True,
    help=(
        "Defense-critical industries and their HS6 inputs.\n\n"
        "Example: friendshore industries show batteries --hs-revision HS2022"
    ),
)
app.add_typer(registry_app, name="registry")
app.add_typer(industries_app, name="industries")

YearOpt = Annotated[
    int | None,
    typer.Option(help="Membership as of 31 December of this year.", min=1900),
]


def _show(
    df: Frame,
    to: tuple[Format, Path | None, bool],
    title: str,
    view: View,
    version: str | None = None,
    **params: object,
) -> None:
    """Print or write a reference table as the command's --format, --out and --wide
    say (``to``); its metadata: the registry version and the parameters given."""
    meta = {} if version is None else {"registry_version": version}
    meta |= {k: str(v) for k, v in params.items() if v is not None}
    fmt, out, wide = to
    emit(df, fmt, out, title=title, metadata=meta or None, view=view, wide=wide)


def _when(year: int | None) -> int:
    """The year membership is read as of: the one given, or this one."""
    return year if year is not None else date.today().year


@registry_app.command("list")
def registry_list(
    year: YearOpt = None,
    registry: RegistryOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    wide: WideOpt = False,
) -> None:
    """List the groups: kind, members as of a year, source and "as of" date.

    Example: friendshore registry list --year 2024 --format json
    """
    from friendshore.reference.registry import load_registry

    reg, when = load_registry(registry), _when(year)
    title = f"registry groups, members as of {when}-12-31 (registry {reg.version})"
    df, to = reg.groups_rows(when), (fmt, out, wide)
    _show(df, to, title, views.REGISTRY_LIST, reg.version, year=when)


@registry_app.command("show")
def registry_show(
    group: Annotated[str, typer.Argument(help="Group name, e.g. nato.")],
    year: YearOpt = None,
    registry: RegistryOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    wide: WideOpt = False,
) -> None:
    """Show a group's members: all of its history, or those as of --year.

    Example: friendshore registry show nato --year 2023
    """
    from friendshore.reference.registry import load_registry

    reg = load_registry(registry)
    g = reg.group(group)
    when = "full history" if year is None else f"as of {year}-12-31"
    title = f"{g.name}: {g.title}, {when} (source: {g.source_name}; as of {g.as_of})"
    df, to = reg.group_rows(group, year), (fmt, out, wide)
    _show(df, to, title, views.REGISTRY_SHOW, reg.version, group=group, year=year)


@registry_app.command("country")
def registry_country(
    iso3: Annotated[str, typer.Argument(help="Country: ISO3 code (or name).")],
    year: YearOpt = None,
    concern: Annotated[
        str, typer.Option(help="The concern group that sets the 'concern' tier.")
    ] = "prc",
    registry: RegistryOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    wide: WideOpt = False,
) -> None:
    """Show the groups a country belongs to and its tier in a year.

    Example: friendshore registry country FIN --year 2022
    """
    from friendshore.errors import UnknownNameError
    from friendshore.reference import countries
    from friendshore.reference.registry import load_registry

    reg = load_registry(registry)
    code = countries.normalise(iso3)
    if code is None:
        raise UnknownNameError("country", iso3, [c[0] for c in countries.table_rows()])
    when = _when(year)
    df = reg.country_rows(code, when, concern=concern)
    title = (
        f"{code} as of {when}-12-31: tier {reg.tier_of(code, when, concern=concern)}"
    )
    params = {"iso3": code, "year": when, "concern": concern}
    _show(df, (fmt, out, wide), title, views.REGISTRY_COUNTRY, reg.version, **params)


@industries_app.command("list")
def industries_list(
    fmt: FormatOpt = Format.table, out: OutOpt = None, wide: WideOpt = False
) -> None:
    """List the defense-critical industries, their materials and sources.

    Example: friendshore industries list --format csv
    """
    from friendshore.reference.industries import load_industries

    df = load_industries().industries_rows()
    _show(df, (fmt, out, wide), "industries", views.INDUSTRIES_LIST)


@industries_app.command("show")
def industries_show(
    name: Annotated[str, typer.Argument(help="Industry, e.g. permanent-magnets.")],
    hs_revision: Annotated[
        str,
        typer.Option(
            help=f"HS revision of the codes: {', '.join(defaults.HS_REVISIONS)}."
        ),
    ] = "HS2017",
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    wide: WideOpt = False,
) -> None:
    """Show an industry's HS6 inputs in one HS revision, with upstream inputs.

    Example: friendshore industries show permanent-magnets --hs-revision HS2022
    """
    from friendshore.reference.industries import load_industries

    imap = load_industries()
    df = imap.industry_rows(name, hs_revision)
    title = f"{name}: {imap.industry(name).title} ({hs_revision})"
    params = {"industry": name, "hs_revision": hs_revision}
    _show(df, (fmt, out, wide), title, views.INDUSTRIES_SHOW, **params)
