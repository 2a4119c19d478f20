"""The shared "which rows" options and the one helper that turns them into a Selection.

Every command that reads trade flows takes (some of) these options, collects them in
a :class:`RowOptions` (:meth:`RowOptions.of`: the parameters it received) and calls
:meth:`RowOptions.selection` once: the CLI builds ONE
:class:`friendshore.selection.Selection` per command and hands it to the library,
which never decides which rows on its own when given one. Each option type shared by
several commands is defined here once; :func:`given` reads a command's other options
by name (for a library call's keywords, or its provenance).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from friendshore.errors import ParameterError

from . import defaults

if TYPE_CHECKING:
    from friendshore.reference.registry import Registry
    from friendshore.selection import Selection

_W = "Which flows"
_T = "Tiers"


class Level(StrEnum):
    """Rows per product, or rolled up per industry."""

    product = "product"
    industry = "industry"


LevelOpt = Annotated[Level, typer.Option(help="Rows per product or per industry.")]

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
YearsOpt = Annotated[
    str | None, typer.Option(help="Range of years Y1:Y2.", rich_help_panel=_W)
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        help="Only this source: baci, comtrade, table[:name] (default: per year, "
        "baci, then comtrade, then tables).",
        rich_help_panel=_W,
    ),
]
IntraOpt = Annotated[
    bool,
    typer.Option(
        "--include-intra", help="Count flows between bloc members.", rich_help_panel=_W
    ),
]
ConcernOpt = Annotated[
    str,
    typer.Option(
        help="Registry group of concern (members as of the year).", rich_help_panel=_T
    ),
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


# The basket of the scenario-model commands (coalitions, partners suggest): six-digit
# codes only, and 'all' industries for the defense basket.
BasketIndustryOpt = Annotated[
    str | None,
    typer.Option(
        help="Industry of the industry map, or 'all' (the defense basket).",
        rich_help_panel=_W,
    ),
]
BasketHsOpt = Annotated[
    list[str] | None, typer.Option(help="HS6 code (repeatable).", rich_help_panel=_W)
]

# Options that say where and how a result is written, not what it is.
_OUTPUT = frozenset({"registry", "fmt", "out", "wide", "spark_master"})


def given(ctx: typer.Context, *names: str) -> dict[str, Any]:
    """The command's parsed options by parameter name: ``names``, or every option
    but the output ones (for provenance). Values as the command received them,
    but enums as their values (click's ``()`` for a repeatable option not given
    is None, its tuple a list, as Typer hands them to the command)."""
    return {
        k: _plain(ctx.params[k])
        for k in names or [k for k in ctx.params if k not in _OUTPUT]
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value) or None
    return value


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


@dataclass
class RowOptions:
    """The shared options as one command received them (``None``: not offered or
    not given). ``registry`` is the ``--registry`` file; :attr:`reg` the registry
    loaded from it once."""

    year: int | None = None
    years: list[int] | None = None
    importer: str | None = None
    bloc: str | None = None
    industry: str | None = None
    hs: list[str] | None = None
    concern: str = defaults.CONCERN
    allies: list[str] | None = None
    partners: list[str] | None = None
    include_intra: bool = False
    include_broader: bool = False
    source: str | None = None
    registry: Path | None = None
    _reg: Registry | None = field(default=None, repr=False)

    @classmethod
    def of(cls, ctx: typer.Context) -> RowOptions:
        """The options the command ``ctx`` received: its parameters named like a
        field (``--years Y1:Y2`` read as the list of years)."""
        names = [f.name for f in fields(cls) if not f.name.startswith("_")]
        values = {k: _plain(ctx.params[k]) for k in names if k in ctx.params}
        if isinstance(years := values.get("years"), str):
            values["years"] = parse_years(years) if years else None
        return cls(**values)

    def __post_init__(self) -> None:
        if self.year is not None and self.years is not None:
            raise ParameterError("give either --year or --years, not both")

    @property
    def reg(self) -> Registry:
        """The registry: the bundled one merged with ``--registry``, loaded once."""
        if self._reg is None:
            from friendshore.reference.registry import load_registry

            self._reg = load_registry(self.registry)
        return self._reg

    def params(self) -> dict[str, Any]:
        """The options for the output's provenance (``friendshore.params``)."""
        return {k: v for k, v in asdict(self).items() if k != "_reg"}

    def selection(
        self,
        store: Any,
        *,
        years: list[int] | None = None,
        window: int | None = None,
        industry_level: bool = False,
        need_industries: bool = False,
    ) -> Selection:
        """The one :class:`Selection` of this command (``years`` / ``window``:
        the command's own way of naming years, e.g. trend's two)."""
        from friendshore.selection import Selection

        return Selection.build(
            store,
            year=self.year if years is None else None,
            years=self.years if years is None else years,
            window=window,
            importer=self.importer,
            bloc=self.bloc,
            hs=self.hs,
            industry=self.industry,
            industry_level=industry_level,
            concern=self.concern,
            allies=self.allies,
            partners=self.partners,
            include_intra=self.include_intra,
            registry=self.reg,
            source=self.source,
            include_broader=self.include_broader,
            need_industries=need_industries,
        )
