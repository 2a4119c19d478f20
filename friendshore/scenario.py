"""Scenario files: TOML → a validated, frozen :class:`Scenario`.

A scenario says, for one importer (or bloc) and a set of products, how far the
share of a group of concern must fall and who may take the volume (DESIGN.md,
"Scenario rule"). The file format is pinned by issue 5::

    name = "US magnets: cap PRC at 20 %"
    importer = "USA"                 # ISO3, "all" (every importer), or bloc = "eu"
    year = 2022                      # default: latest year in the store
    industry = "permanent-magnets"   # "all" = every industry; or hs = ["850511"] / "all"
    concern = "prc"
    max_concern_share = 0.2
    eligible = ["us-treaty-allies", "mnna"]
    capacity_expansion = 0.25
    reshoring = 0.05

    [capacity_expansion_by_supplier]
    JPN = 0.1

    [uncertainty]
    draws = 1000
    seed = 7
    capacity_expansion = [0.1, 0.5]
    unit_value_scale = [0.9, 1.2]

Validation is strict: an unknown key, a wrong type, an out-of-range number, an
unknown group, industry, country or HS code is a :class:`ParameterError` whose
one-line message names the file and the key (with "Did you mean" for close
misspellings). Group and industry names are checked only when the caller passes
the known names (the registry and industry map live elsewhere).
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from friendshore import countries
from friendshore.errors import ParameterError

ALL = "all"  # importer = "all": every importer; hs = "all": every product in the store

# Assumed when a scenario does not say: each eligible supplier can add a quarter of
# its world exports of the product (the example value). Stated in
# data/scenarios/README.md so nobody mistakes it for an estimate.
DEFAULT_CAPACITY_EXPANSION = 0.25
MAX_DRAWS = 100_000  # beyond this the draws table outgrows memory on a laptop

FLAGS_SOURCE = "command line"

_TOP_KEYS = (
    "name",
    "importer",
    "bloc",
    "year",
    "industry",
    "hs",
    "concern",
    "max_concern_share",
    "eligible",
    "capacity_expansion",
    "reshoring",
    "capacity_expansion_by_supplier",
    "uncertainty",
)
_UNCERTAINTY_KEYS = ("draws", "seed", "capacity_expansion", "unit_value_scale")
# Scenario keys whose command-line flag is not the key with dashes.
_FLAG_OF = {
    "uncertainty.draws": "draws",
    "uncertainty.seed": "seed",
    "uncertainty.capacity_expansion": "capacity_range",
    "uncertainty.unit_value_scale": "unit_value_range",
    "uncertainty": "draws",
}


@dataclass(frozen=True)
class Uncertainty:
    """Monte-Carlo settings: uniform ranges drawn once per draw, seeded.

    ``capacity_expansion`` replaces the scenario's default expansion (per-supplier
    overrides stay fixed); ``unit_value_scale`` multiplies the new suppliers' unit
    values in the cost premium. A range left out keeps the scenario's value.
    """

    draws: int
    seed: int = 0
    capacity_expansion: tuple[float, float] | None = None
    unit_value_scale: tuple[float, float] | None = None


@dataclass(frozen=True)
class Scenario:
    """One validated scenario (see the module docstring for the meaning of fields)."""

    name: str
    max_concern_share: float
    importer: str | None = None
    bloc: str | None = None
    year: int | None = None
    industry: str | None = None
    hs: tuple[str, ...] = ()
    concern: str = "prc"
    eligible: tuple[str, ...] | None = None
    capacity_expansion: float = DEFAULT_CAPACITY_EXPANSION
    reshoring: float = 0.0
    capacity_expansion_by_supplier: tuple[tuple[str, float], ...] = ()
    uncertainty: Uncertainty | None = None
    source: str = field(default=FLAGS_SOURCE, compare=False)

    @property
    def importer_label(self) -> str:
        """The ``importer`` column value: ISO3, ``all`` or the bloc's group name."""
        return self.bloc if self.bloc is not None else (self.importer or ALL)

    @property
    def all_products(self) -> bool:
        """True for ``hs = "all"``: every product the store holds for the year."""
        return self.hs == (ALL,)

    def with_draws(self, draws: int, seed: int | None = None) -> Scenario:
        """A copy with ``draws`` (and optionally ``seed``) replacing the file's."""
        if self.uncertainty is None:
            raise ParameterError(
                f"{self.source}, key 'uncertainty': --draws needs uniform ranges "
                "(capacity_expansion and/or unit_value_scale) to draw from"
            )
        unc = replace(
            self.uncertainty,
            draws=draws,
            seed=self.uncertainty.seed if seed is None else seed,
        )
        return replace(self, uncertainty=unc)


# -- loading --------------------------------------------------------------------
def load_scenario(
    path: Path,
    *,
    groups: Collection[str] | None = None,
    industries: Collection[str] | None = None,
) -> Scenario:
    """Read and validate one scenario file.

    Parameters
    ----------
    path
        A TOML file in the format of the module docstring.
    groups, industries
        Known registry group and industry names; when given, names in the file are
        checked against them (unknown → error with "Did you mean").

    Raises
    ------
    ParameterError
        One line naming the file and the offending key.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(f"{source}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{source}: cannot read scenario file ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{source}: not valid TOML: {exc}") from None
    data.setdefault("name", path.stem)
    return from_mapping(data, source, groups=groups, industries=industries)


def from_mapping(
    data: Mapping[str, Any],
    source: str = FLAGS_SOURCE,
    *,
    groups: Collection[str] | None = None,
    industries: Collection[str] | None = None,
) -> Scenario:
    """Validate a parsed scenario (a TOML table, or flags gathered by the CLI)."""
    v = _Validator(source)
    v.unknown_keys(data, _TOP_KEYS)

    name = v.string(data, "name", required=True)
    importer, bloc = data.get("importer"), data.get("bloc")
    if (importer is None) == (bloc is None):
        v.fail("importer", "give exactly one of importer (ISO3 or 'all') and bloc")
    if importer is not None:
        importer = v.country(v.string(data, "importer"), "importer", allow_all=True)
    if bloc is not None:
        bloc = v.group(v.string(data, "bloc"), "bloc", groups)

    industry, hs = data.get("industry"), data.get("hs")
    if (industry is None) == (hs is None):
        v.fail("industry", "give exactly one of industry and hs (a list of HS6 codes)")
    if industry is not None:
        industry = v.industry(v.string(data, "industry"), industries)
    codes: tuple[str, ...] = ()
    if hs is not None:
        codes = v.hs_codes(hs, "hs")

    concern = v.group(v.string(data, "concern") or "prc", "concern", groups)
    eligible = None
    if "eligible" in data:
        items = v.string_list(data["eligible"], "eligible")
        eligible = tuple(v.group(g, "eligible", groups) for g in items)
        if concern in eligible:
            v.fail("eligible", f"the concern group {concern!r} cannot be eligible")

    overrides_raw = data.get("capacity_expansion_by_supplier", {})
    if not isinstance(overrides_raw, Mapping):
        v.fail("capacity_expansion_by_supplier", "expected a table ISO3 = number")
    overrides = tuple(
        (
            v.country(str(k), f"capacity_expansion_by_supplier.{k}"),
            v.number(
                overrides_raw, k, lo=0.0, prefix="capacity_expansion_by_supplier."
            ),
        )
        for k in sorted(overrides_raw)
    )

    year = data.get("year")
    if year is not None:
        year = v.integer(data, "year", lo=1962, hi=2100)

    return Scenario(
        name=name or "",
        importer=importer,
        bloc=bloc,
        year=year,
        industry=industry,
        hs=codes,
        concern=concern,
        max_concern_share=v.number(
            data, "max_concern_share", lo=0.0, hi=1.0, required=True
        ),
        eligible=eligible,
        capacity_expansion=v.number(
            data, "capacity_expansion", lo=0.0, default=DEFAULT_CAPACITY_EXPANSION
        ),
        reshoring=v.number(data, "reshoring", lo=0.0, hi=1.0, default=0.0),
        capacity_expansion_by_supplier=overrides,
        uncertainty=v.uncertainty(data.get("uncertainty")),
        source=source,
    )


def check_names(
    scenario: Scenario, *, groups: Collection[str], industries: Collection[str]
) -> None:
    """Re-check a scenario's group and industry names (for scenarios built in code)."""
    v = _Validator(scenario.source)
    for key, name in (("concern", scenario.concern), ("bloc", scenario.bloc)):
        if name is not None:
            v.group(name, key, groups)
    for g in scenario.eligible or ():
        v.group(g, "eligible", groups)
    if scenario.industry is not None:
        v.industry(scenario.industry, industries)


def gather(
    files: Sequence[Path],
    flags: Mapping[str, Any],
    *,
    draws: int | None = None,
    seed: int | None = None,
    groups: Collection[str] | None = None,
    industries: Collection[str] | None = None,
) -> list[Scenario]:
    """The scenarios of one ``friendshore simulate`` call: files, or one from flags.

    ``flags`` holds scenario keys given on the command line (None = not given),
    with ``capacity_range`` / ``unit_value_range`` for the uncertainty ranges.
    ``draws`` and ``seed`` override the files' ``[uncertainty]`` values.
    """
    given = {k: v for k, v in flags.items() if v is not None and v != []}
    if files and given:
        shown = ", ".join("--" + k.replace("_", "-") for k in sorted(given))
        raise ParameterError(
            f"{shown}: give either scenario files or a scenario built from flags, "
            "not both"
        )
    if files:
        out = [load_scenario(f, groups=groups, industries=industries) for f in files]
        if draws is not None or seed is not None:
            out = [
                sc.with_draws(
                    draws if draws is not None else sc.uncertainty.draws,  # type: ignore[union-attr]
                    seed,
                )
                if draws is not None or sc.uncertainty is not None
                else sc
                for sc in out
            ]
        return out
    if not given:
        raise ParameterError(
            "give scenario files, or build one from flags: --importer (or --bloc), "
            "--industry (or --hs) and --max-concern-share"
        )
    data: dict[str, Any] = {"name": "command line"}
    unc: dict[str, Any] = {}
    for key, value in given.items():
        if key == "capacity_range":
            unc["capacity_expansion"] = list(value)
        elif key == "unit_value_range":
            unc["unit_value_scale"] = list(value)
        else:
            data[key] = list(value) if isinstance(value, tuple) else value
    if draws is not None:
        unc["draws"] = draws
    if seed is not None:
        unc["seed"] = seed
    if unc:
        if "draws" not in unc:
            raise ParameterError(
                "--capacity-range / --unit-value-range / --seed need --draws N"
            )
        data["uncertainty"] = unc
    return [from_mapping(data, FLAGS_SOURCE, groups=groups, industries=industries)]


# -- validation helpers ------------------------------------------------------------
@cache
def hs6_codes() -> frozenset[str]:
    """Every six-digit code of the bundled HS nomenclatures (HS2017 and HS2022)."""
    from friendshore.industries import hs_nomenclature

    return frozenset(hs_nomenclature("HS2017")) | frozenset(hs_nomenclature("HS2022"))


def _did_you_mean(name: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


class _Validator:
    """Type and range checks that fail with one line naming the source and key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def label(self, key: str) -> str:
        if self.source == FLAGS_SOURCE:
            flag = _FLAG_OF.get(key, key.split(".")[0])
            return "--" + flag.replace("_", "-")
        return f"key {key!r}"

    def fail(self, key: str, message: str) -> Any:
        raise ParameterError(f"{self.source}, {self.label(key)}: {message}")

    def unknown_keys(
        self, data: Mapping[str, Any], allowed: tuple[str, ...], prefix: str = ""
    ) -> None:
        for key in data:
            if key not in allowed:
                hint = _did_you_mean(key, allowed)
                if not hint:
                    hint = " Expected one of: " + ", ".join(allowed)
                self.fail(prefix + key, f"unknown key.{hint}")

    def string(
        self, data: Mapping[str, Any], key: str, *, required: bool = False
    ) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(key, "missing (a string is required)")
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"expected a non-empty string, got {_show(value)}")
        return str(value).strip()

    def string_list(self, value: Any, key: str) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(x, str) and x.strip() for x in value)
        ):
            self.fail(key, f"expected a non-empty list of strings, got {_show(value)}")
        return [x.strip() for x in value]

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        *,
        lo: float | None = None,
        hi: float | None = None,
        default: float | None = None,
        required: bool = False,
        prefix: str = "",
    ) -> float:
        full = prefix + key
        if key not in data or data[key] is None:
            if required or default is None:
                self.fail(full, "missing (a number is required)")
            return float(default)  # type: ignore[arg-type]
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(full, f"expected a number, got {_show(value)}")
        x = float(value)
        if not math.isfinite(x):
            self.fail(full, f"expected a finite number, got {value}")
        if lo is not None and x < lo:
            self.fail(full, f"expected a number >= {lo:g}, got {value}")
        if hi is not None and x > hi:
            self.fail(full, f"expected a number <= {hi:g}, got {value}")
        return x

    def integer(
        self, data: Mapping[str, Any], key: str, *, lo: int, hi: int, prefix: str = ""
    ) -> int:
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(prefix + key, f"expected a whole number, got {_show(value)}")
        if not lo <= value <= hi:
            self.fail(prefix + key, f"expected {lo}..{hi}, got {value}")
        return int(value)

    def range_(self, data: Mapping[str, Any], key: str, *, positive: bool) -> Any:
        value = data.get(key)
        if value is None:
            return None
        full = f"uncertainty.{key}"
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(
                isinstance(x, int | float) and not isinstance(x, bool) for x in value
            )
        )
        if not ok:
            self.fail(full, f"expected [low, high] (two numbers), got {_show(value)}")
        lo, hi = float(value[0]), float(value[1])
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            self.fail(full, f"expected low <= high, got {value}")
        if lo < 0 or (positive and lo == 0):
            bound = "> 0" if positive else ">= 0"
            self.fail(full, f"expected numbers {bound}, got {value}")
        return (lo, hi)

    def uncertainty(self, value: Any) -> Uncertainty | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail("uncertainty", "expected a table [uncertainty]")
        self.unknown_keys(value, _UNCERTAINTY_KEYS, prefix="uncertainty.")
        if "draws" not in value:
            self.fail("uncertainty.draws", "missing (a whole number is required)")
        draws = self.integer(value, "draws", lo=1, hi=MAX_DRAWS, prefix="uncertainty.")
        seed = 0
        if "seed" in value:
            seed = self.integer(
                value, "seed", lo=0, hi=2**63 - 1, prefix="uncertainty."
            )
        unc = Uncertainty(
            draws=draws,
            seed=seed,
            capacity_expansion=self.range_(value, "capacity_expansion", positive=False),
            unit_value_scale=self.range_(value, "unit_value_scale", positive=True),
        )
        if unc.capacity_expansion is None and unc.unit_value_scale is None:
            self.fail(
                "uncertainty",
                "give a capacity_expansion and/or unit_value_scale range to draw from",
            )
        return unc

    def country(self, value: str | None, key: str, *, allow_all: bool = False) -> str:
        text = (value or "").strip()
        if allow_all and text.lower() == ALL:
            return ALL
        code = text.upper()
        entry = countries.lookup(code)
        if entry is not None and entry.kind == "country":
            return code
        guess = countries.normalise(text)
        hint = f" Did you mean {guess!r}?" if guess else ""
        return self.fail(key, f"unknown country {text!r} (expected ISO3).{hint}")

    def group(self, name: str | None, key: str, groups: Collection[str] | None) -> str:
        return self.name_in(name or "", key, groups, "registry group")

    def industry(self, name: str | None, industries: Collection[str] | None) -> str:
        if (name or "").lower() == ALL:
            return ALL
        return self.name_in(name or "", "industry", industries, "industry")

    def name_in(
        self, name: str, key: str, choices: Collection[str] | None, kind: str
    ) -> str:
        if choices is None or name in choices:
            return name
        hint = _did_you_mean(name, choices)
        if not hint:
            hint = " Expected one of: " + ", ".join(sorted(choices))
        return self.fail(key, f"unknown {kind} {name!r}.{hint}")

    def hs_codes(self, value: Any, key: str) -> tuple[str, ...]:
        if isinstance(value, str) and value.strip().lower() == ALL:
            return (ALL,)
        items = self.string_list(value, key)
        known = hs6_codes()
        for code in items:
            if not (len(code) == 6 and code.isdigit()):
                self.fail(key, f"expected six-digit HS codes as strings, got {code!r}")
            if code not in known:
                # Spelling-distance guesses mean nothing for codes: show the
                # subheadings of the same heading instead.
                same = sorted(c for c in known if c[:4] == code[:4])
                hint = f" Heading {code[:4]} has: {', '.join(same)}" if same else ""
                self.fail(
                    key, f"unknown HS6 code {code!r} (not in HS2017/HS2022).{hint}"
                )
        return tuple(dict.fromkeys(items))


def _show(value: Any) -> str:
    kind = {
        bool: "a boolean",
        int: "a whole number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} {text if len(text) <= 30 else text[:27] + '...'}"


def locate(scenario: Scenario, key: str) -> str:
    """Where a scenario's key came from, for messages: ``file, key 'year'`` or
    ``command line, --year``."""
    v = _Validator(scenario.source)
    return f"{scenario.source}, {v.label(key)}"


def as_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain data (for provenance metadata)."""
    return asdict(scenario)
