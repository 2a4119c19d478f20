"""Scenario files: TOML → a validated, frozen :class:`Scenario` (issue 15).

A scenario is a policy of a coalition of importers towards a concern group, for
one year and a set of products, solved as global market clearing
(:mod:`friendshore.engines.scenarios.solver`; DESIGN.md, "Scenario model")::

    name = "G7 ban on PRC gallium"
    coalition = ["USA", "JPN"]       # importers or registry groups; importer = "USA"
                                     # and bloc = "eu" stay as one-member forms
    year = 2022                      # default: latest year in the store
    hs = ["811292"]                  # or industry = "…" ("all": every industry)
    concern = "prc"
    policy = "ban"                   # ban | tariff | cap
    # tariff = 0.25                  # policy = "tariff"
    # max_concern_share = 0.2        # policy = "cap" (alone: a cap, as before)
    eligible = ["us-treaty-allies"]  # who may add capacity
    capacity_expansion = 0.2
    reshoring = 0.1                  # domestic capacity, share of baseline imports
    reshoring_cost = 1.6             # import price at which it is fully used
    [capacity_expansion_by_supplier]
    JPN = 0.05
    [elasticities]
    substitution = 3.1
    demand = 0.6
    supply = 1.5
    [uncertainty]                    # seeded uniform draws → p5/p50/p95
    draws = 200
    seed = 7
    substitution = [2.1, 5.1]
    capacity_expansion = [0.1, 0.5]

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

from friendshore.errors import ParameterError
from friendshore.reference import countries

ALL = "all"  # importer = "all": every importer; hs = "all": every product in the store

# Assumed when a scenario does not say: each eligible supplier can add a quarter of
# its world exports of the product (the example value). Stated in
# data/scenarios/README.md so nobody mistakes it for an estimate.
DEFAULT_CAPACITY_EXPANSION = 0.25
# Elasticity defaults (data/scenarios/README.md says where each comes from):
# σ = 3.1, the median over HS6 headings of Broda & Weinstein (2006, QJE 121(2))
# US import elasticities of substitution (HTS10 medians per HS6; IQR 2.1–5.1);
# η = 0.6 and ε = 1.5 are assumptions (the illustrative values), not
# estimates — vary them with [uncertainty].
DEFAULT_SUBSTITUTION = 3.1
DEFAULT_DEMAND = 0.6
DEFAULT_SUPPLY = 1.5
DEFAULT_RESHORING_COST = 1.6  # the example: an assumption, stated as one
POLICIES = ("ban", "tariff", "cap")
MAX_DRAWS = 100_000  # beyond this the draws table outgrows memory on a laptop

FLAGS_SOURCE = "command line"

_TOP_KEYS = (
    "name",
    "coalition",
    "importer",
    "bloc",
    "year",
    "industry",
    "hs",
    "concern",
    "policy",
    "tariff",
    "max_concern_share",
    "eligible",
    "capacity_expansion",
    "reshoring",
    "reshoring_cost",
    "capacity_expansion_by_supplier",
    "elasticities",
    "uncertainty",
)
_ELASTICITY_KEYS = ("substitution", "demand", "supply")
_UNCERTAINTY_KEYS = ("draws", "seed", "capacity_expansion", *_ELASTICITY_KEYS)
# The command-line flags that build one scenario (``simulate --importer …``), by
# parameter name: the top-level keys but the file-only ones, and the two ranges
# of [uncertainty].
_FILE_ONLY = (
    "name",
    "coalition",
    "capacity_expansion_by_supplier",
    "elasticities",
    "uncertainty",
)
FLAGS = (
    *(k for k in _TOP_KEYS if k not in _FILE_ONLY),
    "capacity_range",
    "substitution_range",
)
# Scenario keys whose command-line flag is not the key with dashes.
_FLAG_OF = {
    "uncertainty.draws": "draws",
    "uncertainty.seed": "seed",
    "uncertainty.capacity_expansion": "capacity_range",
    "uncertainty.substitution": "substitution_range",
    "uncertainty": "draws",
}


@dataclass(frozen=True)
class Uncertainty:
    """Monte-Carlo settings: uniform ranges drawn once per draw, seeded.

    ``capacity_expansion`` replaces the scenario's expansion (per-supplier overrides
    scale with it); ``substitution``, ``demand`` and ``supply`` replace the
    elasticities. A range left out keeps the scenario's value.
    """

    draws: int
    seed: int = 0
    capacity_expansion: tuple[float, float] | None = None
    substitution: tuple[float, float] | None = None
    demand: tuple[float, float] | None = None
    supply: tuple[float, float] | None = None


@dataclass(frozen=True)
class Scenario:
    """One validated scenario (see the module docstring for the meaning of fields)."""

    name: str
    coalition: tuple[str, ...] = ()  # ISO3 codes, registry groups, or ("all",)
    year: int | None = None
    industry: str | None = None
    hs: tuple[str, ...] = ()
    concern: str = "prc"
    policy: str = "ban"
    tariff: float = 0.0
    max_concern_share: float = 0.0
    eligible: tuple[str, ...] | None = None
    capacity_expansion: float = DEFAULT_CAPACITY_EXPANSION
    reshoring: float = 0.0
    reshoring_cost: float = DEFAULT_RESHORING_COST
    capacity_expansion_by_supplier: tuple[tuple[str, float], ...] = ()
    substitution: float = DEFAULT_SUBSTITUTION
    demand: float = DEFAULT_DEMAND
    supply: float = DEFAULT_SUPPLY
    uncertainty: Uncertainty | None = None
    source: str = field(default=FLAGS_SOURCE, compare=False)

    @property
    def coalition_label(self) -> str:
        """The coalition as one label: ``USA``, ``g7``, ``USA+JPN``, ``all``."""
        return "+".join(self.coalition) or ALL

    @property
    def all_products(self) -> bool:
        """True for ``hs = "all"``: every product the store holds for the year."""
        return self.hs == (ALL,)

    def with_draws(self, draws: int, seed: int | None = None) -> Scenario:
        """A copy with ``draws`` (and optionally ``seed``) replacing the file's."""
        if self.uncertainty is None:
            raise ParameterError(
                f"{self.source}, key 'uncertainty': --draws needs uniform ranges "
                "(capacity_expansion, substitution, demand or supply) to draw from"
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
    coalition = v.coalition(data, groups)

    industry, hs = data.get("industry"), data.get("hs")
    if (industry is None) == (hs is None):
        v.fail("industry", "give exactly one of industry and hs (a list of HS6 codes)")
    if industry is not None:
        industry = v.industry(v.string(data, "industry"), industries)
    codes: tuple[str, ...] = ()
    if hs is not None:
        codes = v.hs_codes(hs, "hs")

    concern = v.group(v.string(data, "concern") or "prc", "concern", groups)
    if concern in coalition:
        v.fail("coalition", f"the coalition names the concern group {concern!r}")
    eligible = None
    if "eligible" in data:
        items = v.string_list(data["eligible"], "eligible")
        eligible = tuple(v.group(g, "eligible", groups) for g in items)
        if concern in eligible:
            v.fail("eligible", f"the concern group {concern!r} cannot be eligible")

    # policy: ban | tariff | cap; a file with only max_concern_share is a cap.
    policy = data.get("policy")
    if policy is None:
        policy = "cap" if "max_concern_share" in data else "ban"
    elif policy not in POLICIES:
        v.fail("policy", f"expected one of {', '.join(POLICIES)}, got {_show(policy)}")
    tariff = 0.0
    if policy == "tariff":
        tariff = v.number(data, "tariff", lo=0.0, required=True)
    elif "tariff" in data:
        v.fail("tariff", f'only with policy = "tariff" (this is {policy!r})')
    share = 0.0
    if policy == "cap":
        share = v.number(data, "max_concern_share", lo=0.0, hi=1.0, required=True)
    elif "max_concern_share" in data:
        v.fail("max_concern_share", f'only with policy = "cap" (this is {policy!r})')

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
    cost = v.number(data, "reshoring_cost", default=DEFAULT_RESHORING_COST)
    if not cost > 1:
        v.fail(
            "reshoring_cost",
            f"expected a price above 1 (the baseline import price), got {cost:g}",
        )
    sigma, eta, eps = v.elasticities(data.get("elasticities"), policy)

    return Scenario(
        name=name or "",
        coalition=coalition,
        year=year,
        industry=industry,
        hs=codes,
        concern=concern,
        policy=policy,
        tariff=tariff,
        max_concern_share=share,
        eligible=eligible,
        capacity_expansion=v.number(
            data, "capacity_expansion", lo=0.0, default=DEFAULT_CAPACITY_EXPANSION
        ),
        reshoring=v.number(data, "reshoring", lo=0.0, hi=1.0, default=0.0),
        reshoring_cost=cost,
        capacity_expansion_by_supplier=overrides,
        substitution=sigma,
        demand=eta,
        supply=eps,
        uncertainty=v.uncertainty(data.get("uncertainty"), policy),
        source=source,
    )


def check_names(
    scenario: Scenario, *, groups: Collection[str], industries: Collection[str]
) -> None:
    """Re-check a scenario's group and industry names (for scenarios built in code)."""
    v = _Validator(scenario.source)
    v.group(scenario.concern, "concern", groups)
    for name in scenario.coalition:
        if countries.lookup(name) is None and name != ALL:
            v.group(name, "coalition", groups)
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
    coalitions: Sequence[tuple[str, ...]] = (),
) -> list[Scenario]:
    """The scenarios of one ``friendshore simulate`` call: files, or one from flags,
    each run once per coalition of ``coalitions`` (``--coalition``, repeatable).

    ``flags`` holds scenario keys given on the command line (None = not given),
    with ``capacity_range`` / ``substitution_range`` for the uncertainty ranges.
    ``draws`` and ``seed`` override the files' ``[uncertainty]`` values. With no
    files and no importer or bloc, the first coalition is the scenario's; with
    files, or several coalitions, every scenario runs with each coalition (named
    ``scenario [USA+us-treaty-allies]``).
    """
    sweep = [tuple(c) for c in coalitions]
    if sweep and not files and flags.get("importer") is None and not flags.get("bloc"):
        flags = {**flags, "coalition": list(sweep[0])}
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
    else:
        out = [_from_flags(given, draws, seed, groups, industries)]
    if sweep and (files or len(sweep) > 1):
        out = [
            replace(sc, coalition=c, name=f"{sc.name} [{'+'.join(c)}]")
            for sc in out
            for c in sweep
        ]
    return out


def parse_coalition(text: str) -> tuple[str, ...]:
    """One ``--coalition`` value: ``USA,us-treaty-allies`` → ("USA",
    "us-treaty-allies"); three letters are an ISO3 code, upper-cased."""
    items = tuple(x.strip() for x in text.split(",") if x.strip())
    if not items:
        raise ParameterError(
            f"--coalition: expected ISO3 codes or groups, got {text!r}"
        )
    return tuple(x.upper() if len(x) == 3 and x.isalpha() else x for x in items)


def _from_flags(
    given: Mapping[str, Any],
    draws: int | None,
    seed: int | None,
    groups: Collection[str] | None,
    industries: Collection[str] | None,
) -> Scenario:
    """The one scenario the command-line flags build."""
    if not given:
        raise ParameterError(
            "give scenario files, or build one from flags: --importer (or --bloc, "
            "--coalition), --industry (or --hs) and --policy or --max-concern-share"
        )
    data: dict[str, Any] = {"name": "command line"}
    unc: dict[str, Any] = {}
    for key, value in given.items():
        if key == "capacity_range":
            unc["capacity_expansion"] = list(value)
        elif key == "substitution_range":
            unc["substitution"] = list(value)
        elif key == "hs" and list(value) == [ALL]:
            data[key] = ALL  # --hs all: every product
        else:
            data[key] = list(value) if isinstance(value, tuple) else value
    if draws is not None:
        unc["draws"] = draws
    if seed is not None:
        unc["seed"] = seed
    if unc:
        if "draws" not in unc:
            raise ParameterError(
                "--capacity-range / --substitution-range / --seed need --draws N"
            )
        data["uncertainty"] = unc
    return from_mapping(data, FLAGS_SOURCE, groups=groups, industries=industries)


# -- validation helpers ------------------------------------------------------------
@cache
def hs6_codes() -> frozenset[str]:
    """Every six-digit code of the bundled HS nomenclatures (HS2017 and HS2022)."""
    from friendshore.reference.industries import hs_nomenclature

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

    def uncertainty(self, value: Any, policy: str) -> Uncertainty | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail("uncertainty", "expected a table [uncertainty]")
        if "unit_value_scale" in value:
            self.fail(
                "uncertainty.unit_value_scale",
                "no longer used: prices are solved by the market-clearing model; "
                "draw substitution, demand or supply instead",
            )
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
            substitution=self.range_(value, "substitution", positive=True),
            demand=self.range_(value, "demand", positive=False),
            supply=self.range_(value, "supply", positive=False),
        )
        if unc.substitution is not None and unc.substitution[0] <= 1:
            self.fail(
                "uncertainty.substitution",
                "expected numbers above 1" + _ESSENTIAL.get(policy, ""),
            )
        if all(
            r is None
            for r in (unc.capacity_expansion, unc.substitution, unc.demand, unc.supply)
        ):
            self.fail(
                "uncertainty",
                "give a range to draw from: capacity_expansion, substitution, demand "
                "or supply",
            )
        return unc

    def elasticities(self, value: Any, policy: str) -> tuple[float, float, float]:
        """σ, η, ε from ``[elasticities]`` (defaults where left out)."""
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            self.fail("elasticities", "expected a table [elasticities]")
        self.unknown_keys(value, _ELASTICITY_KEYS, prefix="elasticities.")
        sigma = self.number(
            value, "substitution", default=DEFAULT_SUBSTITUTION, prefix="elasticities."
        )
        if not sigma > 1:
            self.fail(
                "elasticities.substitution",
                f"expected a number above 1, got {sigma:g}"
                + _ESSENTIAL.get(policy, ""),
            )
        eta = self.number(
            value, "demand", lo=0.0, default=DEFAULT_DEMAND, prefix="elasticities."
        )
        eps = self.number(
            value, "supply", lo=0.0, default=DEFAULT_SUPPLY, prefix="elasticities."
        )
        return sigma, eta, eps

    def coalition(
        self, data: Mapping[str, Any], groups: Collection[str] | None
    ) -> tuple[str, ...]:
        """``coalition`` (list), or the one-member forms ``importer`` / ``bloc``."""
        given = [k for k in ("coalition", "importer", "bloc") if k in data]
        if len(given) != 1:
            self.fail(
                "coalition",
                "give exactly one of coalition (a list of ISO3 codes or registry "
                "groups), importer (ISO3 or 'all') and bloc",
            )
        key = given[0]
        if key == "importer":
            return (self.country(self.string(data, key), key, allow_all=True),)
        if key == "bloc":
            return (self.group(self.string(data, key), key, groups),)
        out = []
        for item in self.string_list(data[key], key):
            entry = countries.lookup(item.upper())
            if item.lower() == ALL:
                out.append(ALL)
            elif entry is not None and entry.kind == "country":
                out.append(item.upper())
            elif groups is None or item in groups:
                out.append(item)
            else:
                self.group(item, key, groups)  # fails with "Did you mean"
        return tuple(dict.fromkeys(out))

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


_ESSENTIAL = {
    "ban": " with a ban (at σ ≤ 1 a banned variety would be essential)",
    "cap": " with a cap (at σ ≤ 1 a price wedge cannot lower a share)",
}


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
