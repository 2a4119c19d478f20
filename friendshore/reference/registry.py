"""Allies/partners registry: groups with dated membership, answering "as of year".

What the engines use:

* ``load_registry(user_file: Path | None = None) -> Registry`` — bundled
  ``data/registry/`` merged with an optional user TOML/CSV (``--registry FILE``).
* ``Registry.group_names() -> list[str]``
* ``Registry.members(group: str, year: int) -> list[str]`` — ISO3 codes, sorted;
  membership as of 31 December of ``year``; unknown group → ``UnknownNameError``.
* ``Registry.tiers(year: int, *, concern: str = "prc",
  allies: Sequence[str] | None = None, partners: Sequence[str] | None = None)
  -> pl.DataFrame`` with columns ``iso3`` (String), ``tier`` (String: concern |
  ally | partner); countries absent are tier ``other``. Defaults: allies = the
  groups whose ``tier`` is ``ally`` (``us-treaty-allies``), partners = the groups
  whose ``tier`` is ``partner`` (named in ``groups.csv``; :data:`PARTNER_GROUPS`).
* ``Registry.version -> str`` — the registry's "as of" date / content hash, for
  provenance.
* ``Registry.members_frame() -> pl.DataFrame`` — ``group, iso3, role, since,
  until, source`` (dates), all groups, for loading into the store.

Dates
-----
``since`` and ``until`` are the first and last day of a membership (inclusive).
The bundled CSV may give only a year (``1956``) or a year and month
(``2023-06``) where the source does not give the day: ``since`` then becomes
the last day of that period and ``until`` the first, so an as-of answer never
claims a membership the source does not support. "As of year Y" means as of
31 December of Y: NATO has 30 members in 2022, 31 in 2023 (FIN from
2023-04-04) and 32 in 2024 (SWE from 2024-03-07); GBR is not in the EU in 2020.

User registries
---------------
A TOML file::

    [groups.chip4]
    title = "Chip 4 alliance"        # optional
    kind = "partnership"             # optional: alliance | partnership | agreement | concern
    members = ["USA", "JPN", "KOR", "TWN"]   # or [{iso3 = "USA", since = "2022"}, …]
    source = "my notes"              # optional
    replace = false                  # true to redefine a bundled group

    [tiers]                          # per-country overrides, every year
    TWN = "ally"

or a CSV with columns ``group, iso3`` and optionally ``since, until, role, kind,
replace, title, source, tier``; a row with a ``tier`` and no ``group`` is a tier
override. User members without dates count in every year.
"""

from __future__ import annotations

import calendar
import csv
import hashlib
import io
import itertools
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from friendshore._assets import data_path
from friendshore.errors import (
    InputError,
    ReferenceDataError,
    SourceFormatError,
    UnknownNameError,
)
from friendshore.reference import countries
from friendshore.reference.rows import Rows

if TYPE_CHECKING:  # Polars loads where a frame is built: `registry …` needs none
    import polars as pl
    import pyarrow as pa

DEFAULT_ALLIES = ("us-treaty-allies",)
DEFAULT_CONCERN = "prc"
TIERS = ("concern", "ally", "partner", "other")  # precedence, highest first
KINDS = ("alliance", "partnership", "agreement", "concern")
# The tier a group's membership gives by default (groups.csv ``tier``). ``none``:
# listed, usable with allies=/partners=, but no tier by itself (MNNA lists
# Pakistan, the FTA lists Nicaragua, IPEF Vietnam: none of them makes a friend).
GROUP_TIERS = ("ally", "partner", "none", "concern")
_GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")

MEMBER_SCHEMA = {
    "group": "str",
    "iso3": "str",
    "role": "str",
    "since": "date",
    "until": "date",
    "source": "str",
}


@dataclass(frozen=True)
class Group:
    """One group: its kind, where its facts come from and as of when."""

    name: str
    kind: str
    title: str
    source_name: str
    source_url: str
    as_of: date | None
    verified_on: date | None
    note: str = ""
    origin: str = "bundled"  # "bundled" or the user file that defined it
    tier: str = "partner"  # ally | partner | none | concern (GROUP_TIERS)

    @property
    def is_concern(self) -> bool:
        """True for groups of countries of concern (never partners)."""
        return self.kind == "concern"


@dataclass(frozen=True)
class Membership:
    """One country's membership of one group over a date range (inclusive)."""

    group: str
    iso3: str
    role: str
    since: date | None
    until: date | None
    source: str
    verified_on: date | None = None
    note: str = ""

    def active_on(self, day: date) -> bool:
        """Member on ``day``? (``since`` and ``until`` both inclusive.)"""
        return (self.since is None or self.since <= day) and (
            self.until is None or day <= self.until
        )


def year_end(year: int) -> date:
    """31 December of ``year``: the day "as of year" memberships are read."""
    return date(year, 12, 31)


def parse_partial_date(text: str, *, end: bool) -> date:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` → a date.

    A partial ``since`` (``end=True``) becomes the last day of its period and a
    partial ``until`` (``end=False``) the first, so the as-of answer is never
    earlier or later than the source supports. Raises ``ValueError``.
    """
    m = _PARTIAL_DATE.match(text.strip())
    if not m:
        raise ValueError(f"expected YYYY, YYYY-MM or YYYY-MM-DD, got {text!r}")
    y, mo, d = m.group(1), m.group(2), m.group(3)
    year = int(y)
    if d is not None:
        return date(year, int(mo), int(d))
    if mo is not None:
        month = int(mo)
        day = calendar.monthrange(year, month)[1] if end else 1
        return date(year, month, day)
    return date(year, 12, 31) if end else date(year, 1, 1)


@dataclass(frozen=True)
class Registry:
    """Groups, dated memberships and user tier overrides.

    Build it with :func:`load_registry`; it is immutable.
    """

    groups: dict[str, Group]
    memberships: tuple[Membership, ...]
    overrides: dict[str, str] = field(default_factory=dict)
    version: str = ""

    # -- lookups --------------------------------------------------------------
    def group_names(self) -> list[str]:
        """Every group name, sorted."""
        return sorted(self.groups)

    def group(self, name: str) -> Group:
        """The group called ``name``; ``UnknownNameError`` ("Did you mean …")."""
        try:
            return self.groups[name]
        except KeyError:
            raise UnknownNameError("group", name, self.group_names()) from None

    def concern_groups(self) -> list[str]:
        """Names of the groups of countries of concern."""
        return sorted(n for n, g in self.groups.items() if g.is_concern)

    def members(self, group: str, year: int) -> list[str]:
        """ISO3 codes of ``group``'s members as of 31 December ``year``, sorted.

        Examples
        --------
        >>> reg = load_registry()
        >>> len(reg.members("nato", 2022)), len(reg.members("nato", 2024))
        (30, 32)
        """
        self.group(group)
        day = year_end(year)
        return sorted(
            {m.iso3 for m in self.memberships if m.group == group and m.active_on(day)}
        )

    def history(self, group: str) -> list[Membership]:
        """Every membership row of ``group`` (joined, left), by date then ISO3."""
        self.group(group)
        rows = [m for m in self.memberships if m.group == group]
        return sorted(rows, key=lambda m: (m.since or date.min, m.iso3))

    def groups_of(self, iso3: str) -> list[Membership]:
        """Every membership row of one country, across all groups."""
        return sorted(
            (m for m in self.memberships if m.iso3 == iso3),
            key=lambda m: (m.group, m.since or date.min),
        )

    # -- tiers ------------------------------------------------------------------
    def tiers(
        self,
        year: int,
        *,
        concern: str = DEFAULT_CONCERN,
        allies: Sequence[str] | None = None,
        partners: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """Tier of every country in a listed group, as of 31 December ``year``.

        Precedence is concern > ally > partner; countries not returned are tier
        ``other``. ``allies`` defaults to the groups of tier ``ally``
        (``us-treaty-allies``), ``partners`` to the groups of tier ``partner``
        (:meth:`default_partners`); a group of tier ``none`` (``mnna``,
        ``us-fta``, ``ipef``, …) counts only when named. User tier overrides
        (``[tiers]`` of a user registry) apply last and win over everything.

        Returns
        -------
        polars.DataFrame
            ``iso3`` (String), ``tier`` (String), sorted by ``iso3``.
        """
        import polars as pl

        tier = self._tier_map(year, concern=concern, allies=allies, partners=partners)
        rows = sorted((k, v) for k, v in tier.items() if v != "other")
        return pl.DataFrame(
            {"iso3": [r[0] for r in rows], "tier": [r[1] for r in rows]},
            schema={"iso3": pl.String, "tier": pl.String},
        )

    def _tier_map(
        self,
        year: int,
        *,
        concern: str = DEFAULT_CONCERN,
        allies: Sequence[str] | None = None,
        partners: Sequence[str] | None = None,
    ) -> dict[str, str]:
        """ISO3 → tier of :meth:`tiers`, as a dict."""
        self.group(concern)
        ally_groups = self.default_allies() if allies is None else list(allies)
        for name in ally_groups:
            self.group(name)
        if partners is None:
            partner_groups = [
                n for n in self.default_partners() if n not in ally_groups
            ]
        else:
            partner_groups = list(partners)
            for name in partner_groups:
                self.group(name)
        tier: dict[str, str] = {}
        # Lowest precedence first, so higher tiers overwrite.
        for level, names in (
            ("partner", partner_groups),
            ("ally", ally_groups),
            ("concern", [concern]),
        ):
            for name in names:
                for iso3 in self.members(name, year):
                    tier[iso3] = level
        tier.update(self.overrides)
        return tier

    def default_allies(self) -> list[str]:
        """The groups whose membership makes an ally by default, sorted."""
        return sorted(n for n, g in self.groups.items() if g.tier == "ally")

    def default_partners(self) -> list[str]:
        """The groups whose membership makes a partner by default, sorted."""
        return sorted(
            n
            for n, g in self.groups.items()
            if g.tier == "partner" and not g.is_concern
        )

    def tier_of(self, iso3: str, year: int, **kwargs: Any) -> str:
        """The tier of one country (``other`` when in no listed group)."""
        return self._tier_map(year, **kwargs).get(iso3, "other")

    # -- frames ---------------------------------------------------------------
    def members_frame(self) -> pl.DataFrame:
        """All memberships: ``group, iso3, role, since, until, source``."""
        ms = sorted(
            self.memberships, key=lambda m: (m.group, m.since or date.min, m.iso3)
        )
        return Rows(
            {
                "group": [m.group for m in ms],
                "iso3": [m.iso3 for m in ms],
                "role": [m.role for m in ms],
                "since": [m.since for m in ms],
                "until": [m.until for m in ms],
                "source": [m.source for m in ms],
            },
            MEMBER_SCHEMA,
        ).to_polars()

    def groups_frame(self, year: int | None = None) -> pl.DataFrame:
        """One row per group; ``members`` counts them as of ``year`` if given."""
        return self.groups_rows(year).to_polars()

    def groups_rows(self, year: int | None = None) -> Rows:
        """:meth:`groups_frame` as plain :class:`Rows` (no Polars)."""
        names = self.group_names()
        gs = [self.groups[n] for n in names]
        data: dict[str, list[Any]] = {
            "group": names,
            "kind": [g.kind for g in gs],
            "tier": [g.tier for g in gs],
            "title": [g.title for g in gs],
        }
        schema = {"group": "str", "kind": "str", "tier": "str", "title": "str"}
        if year is not None:
            data["members"] = [len(self.members(n, year)) for n in names]
            schema["members"] = "int"
        data |= {
            "source": [g.source_name for g in gs],
            "source_url": [g.source_url for g in gs],
            "as_of": [g.as_of for g in gs],
            "origin": [g.origin for g in gs],
        }
        schema |= {
            "source": "str",
            "source_url": "str",
            "as_of": "date",
            "origin": "str",
        }
        return Rows(data, schema)

    def group_frame(self, group: str, year: int | None = None) -> pl.DataFrame:
        """Members of one group: the whole history, or those as of ``year``."""
        return self.group_rows(group, year).to_polars()

    def group_rows(self, group: str, year: int | None = None) -> Rows:
        """:meth:`group_frame` as plain :class:`Rows` (no Polars)."""
        rows = self.history(group)
        if year is not None:
            day = year_end(year)
            rows = [m for m in rows if m.active_on(day)]
        return Rows(
            {
                "iso3": [m.iso3 for m in rows],
                "name": [_country_name(m.iso3) for m in rows],
                "role": [m.role for m in rows],
                "since": [m.since for m in rows],
                "until": [m.until for m in rows],
                "note": [m.note for m in rows],
            },
            {
                "iso3": "str",
                "name": "str",
                "role": "str",
                "since": "date",
                "until": "date",
                "note": "str",
            },
        )

    def country_frame(
        self, iso3: str, year: int, *, concern: str = DEFAULT_CONCERN
    ) -> pl.DataFrame:
        """The groups a country has belonged to, its membership as of ``year``
        and its tier in that year (default ally/partner groups)."""
        return self.country_rows(iso3, year, concern=concern).to_polars()

    def country_rows(
        self, iso3: str, year: int, *, concern: str = DEFAULT_CONCERN
    ) -> Rows:
        """:meth:`country_frame` as plain :class:`Rows` (no Polars)."""
        tier = self.tier_of(iso3, year, concern=concern)
        rows = self.groups_of(iso3)
        day = year_end(year)
        return Rows(
            {
                "iso3": [iso3] * len(rows),
                "group": [m.group for m in rows],
                "kind": [self.groups[m.group].kind for m in rows],
                "role": [m.role for m in rows],
                "since": [m.since for m in rows],
                "until": [m.until for m in rows],
                "member": [m.active_on(day) for m in rows],
                "year": [year] * len(rows),
                "tier": [tier] * len(rows),
            },
            {
                "iso3": "str",
                "group": "str",
                "kind": "str",
                "role": "str",
                "since": "date",
                "until": "date",
                "member": "bool",
                "year": "int",
                "tier": "str",
            },
        )

    # -- tables ---------------------------------------------------------------
    def tables(self) -> tuple[pa.Table, pa.Table]:
        """``registry_groups`` and ``registry_members`` rows, for the store to write.

        ``group`` is a reserved word in SQL, so the column is ``group_name`` in
        both tables (join on ``registry_members.group_name``).
        """
        import pyarrow as pa

        groups = pa.table(
            {
                "group_name": [g.name for g in self.groups.values()],
                "kind": [g.kind for g in self.groups.values()],
                "tier": [g.tier for g in self.groups.values()],
                "title": [g.title for g in self.groups.values()],
                "source_name": [g.source_name for g in self.groups.values()],
                "source_url": [g.source_url for g in self.groups.values()],
                "as_of": pa.array([g.as_of for g in self.groups.values()], pa.date32()),
                "verified_on": pa.array(
                    [g.verified_on for g in self.groups.values()], pa.date32()
                ),
                "origin": [g.origin for g in self.groups.values()],
                "registry_version": [self.version] * len(self.groups),
            }
        )
        ms = self.memberships
        members = pa.table(
            {
                "group_name": [m.group for m in ms],
                "iso3": [m.iso3 for m in ms],
                "role": [m.role for m in ms],
                "since": pa.array([m.since for m in ms], pa.date32()),
                "until": pa.array([m.until for m in ms], pa.date32()),
                "source": [m.source for m in ms],
                "verified_on": pa.array([m.verified_on for m in ms], pa.date32()),
                "note": [m.note for m in ms],
            }
        )
        return groups, members


def _country_name(iso3: str) -> str:
    c = countries.lookup(iso3)
    return c.name if c else iso3


# -- loading ------------------------------------------------------------------
def load_registry(user_file: Path | None = None) -> Registry:
    """The bundled registry, merged with an optional user TOML or CSV file.

    User groups are added to the bundled ones; a user group with the name of a
    bundled group must say ``replace = true``. Errors in the user file are one
    ``InputError`` naming the file, the key or row, and the bad value.
    """
    base = _bundled()
    if user_file is None:
        return base
    user = _read_user_file(Path(user_file))
    merged = dict(base.groups)
    kept = list(base.memberships)
    for name, group in user.groups.items():
        if name in merged:
            if name not in user.replace:
                raise InputError(
                    f"{user.path.name}, group {name!r}: already defined by the bundled "
                    "registry; set replace = true to redefine it, or choose another name"
                )
            kept = [m for m in kept if m.group != name]
        merged[name] = group
    digest = hashlib.sha256(base.version.encode() + user.raw).hexdigest()[:12]
    return Registry(
        groups=merged,
        memberships=tuple(kept + user.memberships),
        overrides=user.overrides,
        version=f"{base.version}+user:{digest}",
    )


@cache
def _bundled() -> Registry:
    gpath = data_path("registry", "groups.csv")
    mpath = data_path("registry", "members.csv")
    groups: dict[str, Group] = {}
    for row_no, row in _csv_rows(gpath):
        try:
            g = Group(
                name=row["group"],
                kind=row["kind"],
                title=row["title"],
                source_name=row["source_name"],
                source_url=row["source_url"],
                as_of=date.fromisoformat(row["as_of"]),
                verified_on=date.fromisoformat(row["verified_on"]),
                note=row.get("note") or "",
                tier=row["tier"],
            )
        except (KeyError, ValueError) as exc:
            raise ReferenceDataError(f"{gpath.name}, row {row_no}: {exc}") from None
        if g.kind not in KINDS:
            raise ReferenceDataError(f"{gpath.name}, row {row_no}: kind {g.kind!r}")
        if g.tier not in GROUP_TIERS or (g.tier == "concern") != g.is_concern:
            raise ReferenceDataError(f"{gpath.name}, row {row_no}: tier {g.tier!r}")
        groups[g.name] = g
    ms: list[Membership] = []
    for row_no, row in _csv_rows(mpath):
        try:
            ms.append(
                Membership(
                    group=row["group"],
                    iso3=row["iso3"],
                    role=row["role"],
                    since=_opt_date(row["since"], end=True),
                    until=_opt_date(row["until"], end=False),
                    source=row["source"],
                    verified_on=date.fromisoformat(row["verified_on"]),
                    note=row.get("note") or "",
                )
            )
        except (KeyError, ValueError) as exc:
            raise ReferenceDataError(f"{mpath.name}, row {row_no}: {exc}") from None
    digest = hashlib.sha256(gpath.read_bytes() + mpath.read_bytes()).hexdigest()[:12]
    as_of = max((g.as_of for g in groups.values() if g.as_of), default=None)
    return Registry(groups=groups, memberships=tuple(ms), version=f"{as_of}+{digest}")


def _csv_rows(path: Path) -> Iterable[tuple[int, dict[str, str]]]:
    """(row number, row) of a CSV that may carry ``#`` comment lines; row numbers
    are the file's line numbers, so errors point at the right line."""
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if not ln.startswith("#")]
    if not numbered:
        return []
    reader = csv.DictReader(io.StringIO("\n".join(ln for _, ln in numbered)))
    out = []
    # One record per line (no quoted newlines), so line numbers line up.
    for (line_no, _), row in zip(numbered[1:], reader, strict=False):
        out.append((line_no, {k.strip(): (v or "").strip() for k, v in row.items()}))
    return out


def _opt_date(text: str, *, end: bool) -> date | None:
    return parse_partial_date(text, end=end) if text.strip() else None


# -- user files ---------------------------------------------------------------
_TOML_GROUP_KEYS = {"title", "kind", "members", "source", "replace", "role", "note"}
_TOML_MEMBER_KEYS = {"iso3", "since", "until", "role"}
_CSV_COLUMNS = {
    "group",
    "iso3",
    "since",
    "until",
    "role",
    "kind",
    "replace",
    "title",
    "source",
    "tier",
}


@dataclass(frozen=True)
class _UserFile:
    """What a user registry file defines."""

    path: Path
    raw: bytes
    groups: dict[str, Group]
    memberships: list[Membership]
    overrides: dict[str, str]
    replace: set[str]  # groups allowed to redefine a bundled group


def _read_user_file(path: Path) -> _UserFile:
    if not path.is_file():
        raise InputError(f"{path}: registry file not found")
    raw = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".toml":
        parsed = _parse_toml(path, raw)
    elif suffix == ".csv":
        parsed = _parse_csv(path, raw)
    else:
        raise InputError(
            f"{path.name}: a user registry must be a .toml or .csv file, "
            f"got {suffix or 'no extension'!r}"
        )
    groups, ms, overrides, replace_names = parsed
    _check_overlaps(path, ms)
    return _UserFile(path, raw, groups, ms, overrides, replace_names)


def _user_group(path: Path, where: str, name: str, spec: dict[str, Any]) -> Group:
    if not _GROUP_NAME.match(name):
        raise InputError(
            f"{path.name}, {where}: group name {name!r} must be lower-case letters, "
            "digits and hyphens"
        )
    kind = str(spec.get("kind") or "partnership")
    if kind not in KINDS:
        raise InputError(
            f"{path.name}, {where}.kind: {kind!r} is not a group kind; "
            f"expected one of {', '.join(KINDS)}"
        )
    return Group(
        name=name,
        kind=kind,
        title=str(spec.get("title") or name),
        source_name=str(spec.get("source") or f"user registry {path.name}"),
        source_url=str(path),
        as_of=None,
        verified_on=None,
        note=str(spec.get("note") or ""),
        origin=str(path),
        tier="concern" if kind == "concern" else "partner",
    )


def _user_iso3(path: Path, where: str, value: object) -> str:
    text = str(value).strip().upper()
    c = countries.lookup(text)
    if c is None or c.kind != "country" or not re.fullmatch(r"[A-Z]{3}", text):
        raise InputError(
            f"{path.name}, {where}: unknown country code {value!r}; "
            "expected an ISO 3166 alpha-3 code such as 'AUS'"
        )
    return text


def _user_date(path: Path, where: str, value: object, *, end: bool) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return parse_partial_date(str(value), end=end)
    except ValueError:
        raise InputError(
            f"{path.name}, {where}: {value!r} is not a date; "
            "expected YYYY, YYYY-MM or YYYY-MM-DD"
        ) from None


def _user_tier(path: Path, where: str, value: object) -> str:
    text = str(value).strip().lower()
    if text not in TIERS:
        raise InputError(
            f"{path.name}, {where}: tier {value!r} is not one of {', '.join(TIERS)}"
        )
    return text


def _parse_toml(
    path: Path, raw: bytes
) -> tuple[dict[str, Group], list[Membership], dict[str, str], set[str]]:
    try:
        doc = tomllib.loads(raw.decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.name}: not valid TOML: {exc}") from None
    stray = sorted(set(doc) - {"groups", "tiers"})
    if stray:
        raise InputError(
            f"{path.name}, key {stray[0]!r}: unknown top-level key; "
            "expected [groups.NAME] tables and an optional [tiers] table"
        )
    groups: dict[str, Group] = {}
    ms: list[Membership] = []
    replace_names: set[str] = set()
    for name, spec in (doc.get("groups") or {}).items():
        where = f"key 'groups.{name}'"
        if not isinstance(spec, dict):
            raise InputError(f"{path.name}, {where}: expected a table")
        unknown = sorted(set(spec) - _TOML_GROUP_KEYS)
        if unknown:
            raise InputError(
                f"{path.name}, key 'groups.{name}.{unknown[0]}': unknown key; "
                f"expected {', '.join(sorted(_TOML_GROUP_KEYS))}"
            )
        groups[name] = _user_group(path, where, name, spec)
        if spec.get("replace") is True:
            replace_names.add(name)
        members = spec.get("members")
        if not isinstance(members, list) or not members:
            raise InputError(
                f"{path.name}, key 'groups.{name}.members': expected a non-empty list "
                'of ISO3 codes, e.g. members = ["AUS", "JPN"]'
            )
        role = str(spec.get("role") or "member")
        for i, item in enumerate(members):
            mwhere = f"key 'groups.{name}.members[{i}]'"
            if isinstance(item, dict):
                unknown = sorted(set(item) - _TOML_MEMBER_KEYS)
                if unknown:
                    raise InputError(
                        f"{path.name}, {mwhere}.{unknown[0]}: unknown key; expected "
                        f"{', '.join(sorted(_TOML_MEMBER_KEYS))}"
                    )
                iso3 = _user_iso3(path, mwhere, item.get("iso3", ""))
                since = _user_date(path, mwhere + ".since", item.get("since"), end=True)
                until = _user_date(
                    path, mwhere + ".until", item.get("until"), end=False
                )
                mrole = str(item.get("role") or role)
            else:
                iso3 = _user_iso3(path, mwhere, item)
                since = until = None
                mrole = role
            ms.append(
                Membership(name, iso3, mrole, since, until, groups[name].source_name)
            )
    overrides: dict[str, str] = {}
    tiers = doc.get("tiers") or {}
    if not isinstance(tiers, dict):
        raise InputError(f"{path.name}, key 'tiers': expected a table ISO3 = tier")
    for code, value in tiers.items():
        where = f"key 'tiers.{code}'"
        overrides[_user_iso3(path, where, code)] = _user_tier(path, where, value)
    return groups, ms, overrides, replace_names


def _parse_csv(
    path: Path, raw: bytes
) -> tuple[dict[str, Group], list[Membership], dict[str, str], set[str]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceFormatError(path.name, f"not UTF-8 text ({exc.reason})") from None
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines())]
    lines = [(n, ln) for n, ln in lines if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise SourceFormatError(path.name, "empty file; expected a header group,iso3")
    reader = csv.reader(io.StringIO("\n".join(ln for _, ln in lines)))
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in ("group", "iso3") if c not in header]
    unknown = [c for c in header if c not in _CSV_COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(repr(c) for c in missing))
        if unknown:
            parts.append("unknown column(s) " + ", ".join(repr(c) for c in unknown))
        raise SourceFormatError(
            path.name,
            "; ".join(parts)
            + f"; expected columns from {', '.join(sorted(_CSV_COLUMNS))}",
            row=lines[0][0],
        )
    groups: dict[str, Group] = {}
    ms: list[Membership] = []
    overrides: dict[str, str] = {}
    replace_names: set[str] = set()
    for (line_no, _), values in zip(lines[1:], reader, strict=False):
        row = dict(zip(header, (v.strip() for v in values), strict=False))

        def err(column: str, message: str, line_no: int = line_no) -> SourceFormatError:
            return SourceFormatError(path.name, message, row=line_no, column=column)

        name = row.get("group", "")
        iso_text = row.get("iso3", "")
        try:
            iso3 = _user_iso3(path, "", iso_text)
        except InputError:
            raise err(
                "iso3",
                f"unknown country code {iso_text!r}; expected an ISO 3166 alpha-3 "
                "code such as 'AUS'",
            ) from None
        if not name:
            if not row.get("tier"):
                raise err("group", "empty group (a row without a group must set tier)")
            try:
                overrides[iso3] = _user_tier(path, "", row["tier"])
            except InputError:
                raise err(
                    "tier", f"{row['tier']!r} is not one of {', '.join(TIERS)}"
                ) from None
            continue
        if name not in groups:
            try:
                groups[name] = _user_group(path, f"row {line_no}", name, row)
            except InputError as exc:
                raise err("group", str(exc).split(": ", 1)[-1]) from None
        if row.get("replace", "").lower() in ("true", "1", "yes"):
            replace_names.add(name)
        dates = {}
        for col, end in (("since", True), ("until", False)):
            try:
                dates[col] = _opt_date(row.get(col, ""), end=end)
            except ValueError:
                raise err(
                    col,
                    f"{row[col]!r} is not a date; expected YYYY, YYYY-MM or YYYY-MM-DD",
                ) from None
        ms.append(
            Membership(
                name,
                iso3,
                row.get("role") or "member",
                dates["since"],
                dates["until"],
                groups[name].source_name,
            )
        )
    return groups, ms, overrides, replace_names


def _check_overlaps(path: Path, ms: list[Membership]) -> None:
    by_key: dict[tuple[str, str], list[Membership]] = {}
    for m in ms:
        if m.since and m.until and m.until < m.since:
            raise InputError(
                f"{path.name}, group {m.group!r}, {m.iso3}: until {m.until} is "
                f"before since {m.since}"
            )
        by_key.setdefault((m.group, m.iso3), []).append(m)
    for (group, iso3), rows in by_key.items():
        rows.sort(key=lambda m: m.since or date.min)
        for a, b in itertools.pairwise(rows):
            if (
                a.until is None
                or (b.since is not None and b.since <= a.until)
                or (b.since is None)
            ):
                raise InputError(
                    f"{path.name}, group {group!r}: {iso3} is listed twice with "
                    "overlapping dates"
                )
