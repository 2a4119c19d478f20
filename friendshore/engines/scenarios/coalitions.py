"""Coalition league tables and partner suggestions (issue 19).

Two questions of alliance strategy, answered with the market-clearing model of
:mod:`friendshore.engines.scenarios.solver` (DESIGN.md, "Scenario model"):

- which coalition (Quad, AUKUS, G7, the MSP, NATO, the EU, a user's group) holds
  up best when its members restrict the concern's supply together —
  :func:`league_table`, one equilibrium per coalition;
- which country, added to a coalition, helps its members most —
  :func:`partner_table`, one equilibrium per candidate.

The baseline (every flow of the basket's products in the year: every exporter and
importer, so capacity is shared and the concern's goods re-enter third markets) is
read from the store once per command (:func:`load_basket`) and every policy is
solved against it. A candidate changes only the products it imports from the
concern, or exports (joining makes it eligible); the other products keep the
coalition's own equilibrium, so only the changed products are solved again.

Who may add capacity (``Settings.eligible``): by default the coalition's own
members (friend-shoring: each may expand its exports by ``capacity_expansion``,
so a partner that joins brings its suppliers); with ``all``, every supplier but
the concern and the foreign adversaries (named countries: a residual area such as
XRW is an unknown partner), as in the scenario files. Everyone
else supplies at most its baseline exports.

Figures per coalition (members ``S``, over the basket's products):

- ``import_value_usd``: Σ V_m over members and products (baseline imports);
- ``import_price_change_pct``: 100 Σ V_m (P_m − 1) / Σ V_m (import-value-weighted);
- ``import_quantity_change_pct``: 100 (Σ Q_m / Σ V_m − 1);
- ``consumer_surplus_change_usd``: Σ −V_m (P_m^(1−η) − 1)/(1−η) (−V_m ln P_m at η = 1);
- ``concern_share`` / ``scenario_concern_share``: the concern's share of the
  members' imports, before and after (at the prices the importers pay, τ p M);
- ``concern_export_value_change_pct``: 100 (Σ p_e X_e / Σ X0_e − 1) over the
  concern's exporters, world-wide;
- ``diverted_share``: of the concern's baseline sales to the members (Σ V[c,m]),
  the part sold elsewhere after the policy: the rise of its sales to every
  non-member, in baseline US dollars (quantities), over those baseline sales;
- ``cut_off_usd``: baseline imports of member markets left with no supplier;
- ``supplied_price_change_pct``: the price change over the other member markets.

A member market every one of whose suppliers is banned has an infinite price
index (the model's demand for it vanishes); its coalition's price change is then
``inf``, ``cut_off_usd`` says how much import value that concerns and
``supplied_price_change_pct`` gives the change over the markets still supplied
(the ranking's tie-breaks, in that order).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypedDict, Unpack

import numpy as np
import polars as pl

from friendshore._assets import query_sql
from friendshore.errors import FriendshoreError, ParameterError, UnknownNameError
from friendshore.reference import countries
from friendshore.reference.industries import IndustryMap, load_industries
from friendshore.reference.registry import Registry, load_registry
from friendshore.selection import Selection

from .model import (
    DEFAULT_CAPACITY_EXPANSION,
    DEFAULT_DEMAND,
    DEFAULT_SUBSTITUTION,
    DEFAULT_SUPPLY,
    hs6_codes,
)
from .simulate import _is_country  # the scenario engine's one rule (issue 14)
from .solver import (
    Elasticities,
    Markets,
    NoEquilibrium,
    Policy,
    PolicyKind,
    Solution,
    solve,
)

if TYPE_CHECKING:
    from friendshore.store import Store

DEFAULT_CONCERN = "prc"
ADVERSARIES = "foreign-adversaries"  # never eligible by default (DESIGN.md)
COALITION_KINDS = ("alliance", "partnership")  # the default league's groups

# Who may add capacity: the coalition's members (friend-shoring; a partner that
# joins brings its suppliers), or every supplier but the concern and the foreign
# adversaries (the scenario files' default).
EligibleMode = Literal["members", "all"]
# A candidate that changes more than this share of the products is solved on the
# whole basket (cutting out a subset of markets then costs more than it saves).
SUBSET_SHARE = 0.5
# Largest market-clearing residual (share of a market) accepted from the solver.
MAX_RESIDUAL = 1e-6

SKIP_CONCERN = "concern"
SKIP_NO_TRADE = "no trade"


@dataclass(frozen=True)
class Settings:
    """The policy every coalition applies and the model's parameters.

    ``policy``: ``ban`` removes the concern's flows into members, ``tariff`` prices
    them at ``1 + tariff``, ``cap`` limits the concern's share of each member's
    imports to ``max_concern_share``. ``capacity_expansion``: the share of its
    baseline exports each eligible supplier can add; ``eligible``: ``members``
    (the coalition's own suppliers, so a partner that joins brings its
    capacity) or ``all`` (every supplier but the concern and the foreign
    adversaries). The others supply at most their baseline exports. Defaults
    are the scenario files' (:mod:`friendshore.engines.scenarios.model`, with sources).
    """

    policy: PolicyKind = "ban"
    tariff: float = 0.0
    max_concern_share: float = 0.0
    elasticities: Elasticities = field(
        default_factory=lambda: Elasticities(
            DEFAULT_SUBSTITUTION, DEFAULT_DEMAND, DEFAULT_SUPPLY
        )
    )
    capacity_expansion: float = DEFAULT_CAPACITY_EXPANSION
    eligible: EligibleMode = "members"

    @classmethod
    def of(
        cls,
        *,
        policy: PolicyKind = "ban",
        tariff: float = 0.0,
        max_concern_share: float = 0.0,
        substitution: float = DEFAULT_SUBSTITUTION,
        demand: float = DEFAULT_DEMAND,
        supply: float = DEFAULT_SUPPLY,
        capacity_expansion: float = DEFAULT_CAPACITY_EXPANSION,
        eligible: EligibleMode = "members",
    ) -> Settings:
        """Settings as a user asks for them: flat elasticities (the command's
        ``--substitution``, ``--demand``, ``--supply``), and a tariff policy only
        with a tariff above 0 (a zero tariff is the baseline, surely a slip)."""
        if policy == "tariff" and tariff <= 0:
            raise ParameterError("--policy tariff needs --tariff above 0, e.g. 0.25")
        return cls(
            policy=policy,
            tariff=tariff,
            max_concern_share=max_concern_share,
            elasticities=Elasticities(substitution, demand, supply),
            capacity_expansion=capacity_expansion,
            eligible=eligible,
        )

    def check(self) -> None:
        """Raise ParameterError on settings the model cannot take."""
        if self.eligible not in ("members", "all"):
            raise ParameterError(
                f"eligible must be 'members' or 'all', not {self.eligible!r}"
            )
        try:
            self.elasticities.check(ban=self.policy == "ban")
            Policy(
                frozenset(),
                frozenset(),
                kind=self.policy,
                tariff=self.tariff,
                max_concern_share=self.max_concern_share,
                capacity_expansion=self.capacity_expansion,
            ).check()
        except ValueError as exc:
            raise ParameterError(str(exc)) from None


@dataclass(frozen=True, eq=False)
class Basket:
    """The baseline world markets of a basket of products in one year.

    Built once per command (:func:`load_basket` or :meth:`from_frame`);
    ``eligible`` is the set of suppliers that may add capacity with
    ``Settings(eligible="all")``.
    """

    markets: Markets
    year: int
    label: str  # "industry batteries", "HS 811292, 811299"
    concern: str  # registry group name
    concern_members: frozenset[str]
    eligible: frozenset[str]
    selection: Selection | None = None

    @classmethod
    def from_frame(
        cls,
        flows: pl.DataFrame,
        *,
        year: int,
        concern_members: Sequence[str],
        adversaries: Sequence[str] = (),
        concern: str = DEFAULT_CONCERN,
        label: str = "",
    ) -> Basket:
        """A basket from ``hs6, exporter, importer, value_usd`` rows."""
        markets = Markets.from_frame(flows)
        concern_set = frozenset(concern_members)
        excluded = concern_set | frozenset(adversaries)
        # As the scenario files: every country in neither the concern group nor
        # the foreign adversaries; residual areas (XRW, X…) are unknown partners.
        eligible = frozenset(
            str(c)
            for c in markets.countries
            if c not in excluded and _is_country(str(c))
        )
        return cls(markets, year, label, concern, concern_set, eligible)

    @property
    def traders(self) -> frozenset[str]:
        """Countries that import or export any product of the basket."""
        return frozenset(str(c) for c in self.markets.countries)

    def policy(
        self, members: frozenset[str], settings: Settings, extra_eligible: str = ""
    ) -> Policy:
        """The solver's policy for a coalition of ``members`` (``extra_eligible``:
        a candidate partner, eligible as a member)."""
        eligible = members if settings.eligible == "members" else self.eligible
        if extra_eligible:
            eligible = eligible | {extra_eligible}
        return Policy(
            coalition=members,
            concern=self.concern_members,
            kind=settings.policy,
            tariff=settings.tariff,
            max_concern_share=settings.max_concern_share,
            eligible=eligible - self.concern_members,
            capacity_expansion=settings.capacity_expansion,
        )


# -- the baseline from the store ------------------------------------------------------


def load_basket(
    store: Store,
    selection: Selection | None = None,
    *,
    year: int | None = None,
    industry: str | None = None,
    hs: Sequence[str] | None = None,
    concern: str = DEFAULT_CONCERN,
    registry: Registry | None = None,
    industries: IndustryMap | None = None,
    source: str | None = None,
) -> Basket:
    """Every flow of the basket's products in ``year`` (one read of the store).

    Parameters
    ----------
    selection
        The loads of the year (a :class:`Selection` of one year); or ``year``
        and ``source``, from which one is built.
    industry, hs
        The basket: an industry of the industry map (``all``: every industry's
        products, the defense basket) or HS6 codes; exactly one.
    year
        Default: the latest year with trade flows.
    concern
        Registry group of concern (members as of the year).
    source
        Trade source (default: the exposure metrics' choice per year).

    Raises
    ------
    ParameterError
        Both or neither of industry and hs, an HS code that is not an HS2017 or
        HS2022 subheading, a year the store lacks, a basket with no trade in the
        year.
    UnknownNameError
        An unknown industry or concern group (with a did-you-mean).
    """
    registry = load_registry() if registry is None else registry
    industries = load_industries() if industries is None else industries
    if (industry is None) == (not hs):
        raise ParameterError("give --industry or --hs (not both)")
    group = registry.group(concern)
    if not group.is_concern:
        raise ParameterError(
            f"--concern {concern}: group {concern!r} is not a group of concern "
            f"(groups of concern: {', '.join(registry.concern_groups())})"
        )
    selection = selection or Selection.build(
        store,
        year=year,
        concern=concern,
        registry=registry,
        industries=industries,
        source=source,
    )
    if len(selection.years) != 1:
        raise ParameterError("a basket is one year's trade")
    year = selection.years[-1]
    revision = max(selection.revisions)
    if industry is not None:
        name = None if industry == "all" else industry
        if name is not None and name not in industries.names():
            raise UnknownNameError("industry", name, industries.names())
        products = sorted(set(industries.products(name, hs_revision=revision)["hs6"]))
        label = "every industry's products" if name is None else f"industry {industry}"
    else:
        bad = [c for c in hs or () if not (len(c) == 6 and c.isdigit())]
        if bad:
            raise ParameterError(f"--hs {bad[0]!r}: expected a six-digit HS code")
        known = hs6_codes()
        if unknown := [c for c in hs or () if c not in known]:
            raise ParameterError(
                f"--hs: unknown HS6 code {unknown[0]!r} (not in HS2017/HS2022)"
            )
        products = sorted(set(hs or ()))
        label = "HS " + ", ".join(products)
    # The scenario engine's own baseline query: every flow of the products.
    flows = store.pl(
        query_sql("simulate_flows"),
        selection.loads.params() | {"all_hs": False, "hs": products},
    ).select("hs6", "exporter", "importer", "value_usd")
    where = f"{label} ({revision}) in {year}"
    if flows.height == 0:
        raise ParameterError(
            f"{where}: no trade flows matched; `friendshore info` lists the loaded "
            "years and products"
        )
    concern_members = registry.members(concern, year)
    adversaries = (
        registry.members(ADVERSARIES, year) if ADVERSARIES in registry.groups else []
    )
    basket = Basket.from_frame(
        flows,
        year=year,
        concern_members=concern_members,
        adversaries=adversaries,
        concern=concern,
        label=where,
    )
    return Basket(
        basket.markets,
        year,
        where,
        concern,
        basket.concern_members,
        basket.eligible,
        selection,
    )


# -- which coalitions ------------------------------------------------------------------


@dataclass(frozen=True)
class Coalitions:
    """Coalitions to compare (name → members as of the year) and what was left out."""

    members: dict[str, tuple[str, ...]]
    notes: tuple[str, ...] = ()


def resolve_coalitions(
    registry: Registry,
    year: int,
    names: Sequence[str] | None,
    *,
    concern: str = DEFAULT_CONCERN,
) -> Coalitions:
    """Coalitions by registry group name (or ISO3 code: a coalition of one).

    ``names`` None: every group of kind alliance or partnership with at least two
    members as of ``year`` (a default group that contains the concern is left out,
    with a note).

    Raises
    ------
    UnknownNameError
        A name that is neither a group nor a country (with a did-you-mean).
    ParameterError
        A group of concern, a coalition containing the concern, a group with no
        members in ``year``.
    """
    concern_members = set(registry.members(concern, year))
    out: dict[str, tuple[str, ...]] = {}
    notes: list[str] = []
    if names is None:
        for name in registry.group_names():
            if registry.group(name).kind not in COALITION_KINDS:
                continue
            members = registry.members(name, year)
            if len(members) < 2:
                continue
            if both := sorted(concern_members & set(members)):
                notes.append(
                    f"group {name} left out: it contains the concern "
                    f"({', '.join(both)}) in {year}"
                )
                continue
            out[name] = tuple(members)
        return Coalitions(out, tuple(notes))
    for name in names:
        if name in out:
            continue
        if name in registry.groups:
            group = registry.group(name)
            if group.is_concern:
                raise ParameterError(
                    f"--groups {name}: {name!r} is a group of concern, not a coalition"
                )
            members = registry.members(name, year)
            if not members:
                raise ParameterError(f"--groups {name}: no members in {year}")
        elif len(name) == 3 and name.isupper() and _is_country(name):
            members = [name]
        else:
            raise UnknownNameError("group", name, registry.group_names())
        if both := sorted(concern_members & set(members)):
            raise ParameterError(
                f"--groups {name}: the coalition contains the concern "
                f"({', '.join(both)}, {concern}) in {year}"
            )
        out[name] = tuple(members)
    return Coalitions(out, tuple(notes))


# -- per-product sums of one equilibrium ------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Terms:
    """Per importer market and per product terms of one solution (additive)."""

    m_country: np.ndarray  # country index of each importer market
    m_product: np.ndarray
    v: np.ndarray  # V_m
    dp: np.ndarray  # V_m (P_m − 1)
    q: np.ndarray  # Q_m
    cs: np.ndarray  # consumer surplus change
    paid: np.ndarray  # Σ_e τ p M into m
    c0: np.ndarray  # the concern's baseline value into m
    cq: np.ndarray  # the concern's scenario quantity into m (baseline USD)
    cpaid: np.ndarray  # the concern's τ p M into m
    cut: np.ndarray  # V_m of a market left with no supplier (P_m infinite)
    dp_fin: np.ndarray  # V_m (P_m − 1) where P_m is finite, else 0
    x0c: np.ndarray  # per product: the concern's baseline exports
    pxc: np.ndarray  # per product: the concern's scenario export value p X
    n_products: int


def _terms(sol: Solution, concern_c: np.ndarray, eta: float) -> _Terms:
    mk = sol.markets
    nm, nk = len(mk.v), len(mk.products)
    price = sol.price
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        big_p = sol.price_index
        dp = np.where(np.isinf(big_p), np.inf, mk.v * (big_p - 1.0))
        if eta == 1.0:
            cs = -mk.v * np.log(big_p)
        else:
            cs = -mk.v * (big_p ** (1.0 - eta) - 1.0) / (1.0 - eta)
        cs = np.where(mk.v > 0, cs, 0.0)
        tau = np.where(np.isfinite(sol.tau), sol.tau, 1.0)
    pm = price[mk.flow_x] * sol.quantity
    paid_f = tau * pm
    conc_f = concern_c[mk.x_country[mk.flow_x]]
    conc_x = concern_c[mk.x_country]
    return _Terms(
        m_country=mk.m_country,
        m_product=mk.m_product,
        v=mk.v,
        dp=dp,
        q=sol.imports,
        cs=cs,
        cut=np.where(np.isinf(big_p), mk.v, 0.0),
        dp_fin=np.where(np.isinf(big_p), 0.0, dp),
        paid=np.bincount(mk.flow_m, paid_f, minlength=nm),
        c0=np.bincount(mk.flow_m, np.where(conc_f, mk.value, 0.0), minlength=nm),
        cq=np.bincount(mk.flow_m, np.where(conc_f, sol.quantity, 0.0), minlength=nm),
        cpaid=np.bincount(mk.flow_m, np.where(conc_f, paid_f, 0.0), minlength=nm),
        x0c=np.bincount(mk.x_product, np.where(conc_x, mk.x0, 0.0), minlength=nk),
        pxc=np.bincount(
            mk.x_product, np.where(conc_x, price * sol.supply, 0.0), minlength=nk
        ),
        n_products=nk,
    )


_SET_FIELDS = ("v", "dp", "q", "cs", "cut", "dp_fin", "paid", "c0", "cq", "cpaid")


def _set_sums(t: _Terms, country_mask: np.ndarray) -> dict[str, np.ndarray]:
    """Per product: each additive term summed over the importers in the mask, and
    the concern's world totals (``*_all``)."""
    sel = country_mask[t.m_country]
    k = t.m_product[sel]
    out = {
        f: np.bincount(k, getattr(t, f)[sel], minlength=t.n_products)
        for f in _SET_FIELDS
    }
    out["c0_all"] = np.bincount(t.m_product, t.c0, minlength=t.n_products)
    out["cq_all"] = np.bincount(t.m_product, t.cq, minlength=t.n_products)
    out["x0c"], out["pxc"] = t.x0c, t.pxc
    return out


def _mix(
    base: dict[str, np.ndarray], other: dict[str, np.ndarray], products: np.ndarray
) -> dict[str, np.ndarray]:
    """``base`` with the given products' entries taken from ``other``."""
    out = {}
    for key, arr in base.items():
        a = arr.copy()
        a[products] = other[key][products]
        out[key] = a
    return out


def _figures(s: Mapping[str, np.ndarray]) -> dict[str, float | None]:
    """The coalition's figures from per-product sums (see the module docstring)."""
    tot = {k: float(np.sum(v)) for k, v in s.items()}
    value = tot["v"]

    def ratio(num: float, den: float) -> float | None:
        return num / den if den > 0 else None

    price = ratio(tot["dp"], value)
    supplied = ratio(tot["dp_fin"], value - tot["cut"])
    quantity = ratio(tot["q"], value)
    conc_exports = ratio(tot["pxc"], tot["x0c"])
    diverted = ratio(
        (tot["cq_all"] - tot["c0_all"]) - (tot["cq"] - tot["c0"]), tot["c0"]
    )
    return {
        "import_value_usd": value,
        "concern_share": ratio(tot["c0"], value),
        "scenario_concern_share": ratio(tot["cpaid"], tot["paid"]),
        "import_price_change_pct": None if price is None else 100.0 * price,
        "import_quantity_change_pct": None
        if quantity is None
        else 100.0 * (quantity - 1.0),
        "consumer_surplus_change_usd": tot["cs"],
        "concern_export_value_change_pct": None
        if conc_exports is None
        else 100.0 * (conc_exports - 1.0),
        "diverted_share": diverted,
        "cut_off_usd": tot["cut"],
        "supplied_price_change_pct": None if supplied is None else 100.0 * supplied,
    }


def _solve(markets: Markets, policy: Policy, s: Settings) -> Solution:
    """One equilibrium; a result that does not clear every market is an error,
    never a row of figures."""
    try:
        sol = solve(markets, policy, s.elasticities)
    except NoEquilibrium as exc:
        raise FriendshoreError(str(exc)) from None
    except ValueError as exc:
        raise ParameterError(str(exc)) from None
    if not sol.max_residual <= MAX_RESIDUAL:  # NaN fails too
        raise FriendshoreError(
            f"the solver returned prices that do not clear every market (largest "
            f"residual {sol.max_residual:.3g} of a market) for the coalition "
            f"{', '.join(sorted(policy.coalition))}"
        )
    return sol


# -- the league table ------------------------------------------------------------------

LEAGUE_SCHEMA = pl.Schema(
    {
        "rank": pl.Int32(),
        "coalition": pl.String(),
        "members": pl.List(pl.String),
        "n_members": pl.Int32(),
        "import_value_usd": pl.Float64(),
        "concern_share": pl.Float64(),
        "scenario_concern_share": pl.Float64(),
        "import_price_change_pct": pl.Float64(),
        "import_quantity_change_pct": pl.Float64(),
        "consumer_surplus_change_usd": pl.Float64(),
        "concern_export_value_change_pct": pl.Float64(),
        "diverted_share": pl.Float64(),
        "cut_off_usd": pl.Float64(),
        "supplied_price_change_pct": pl.Float64(),
        "year": pl.Int16(),
        "concern": pl.String(),
        "policy": pl.String(),
        "eligible": pl.String(),
    }
)


def league_table(
    basket: Basket,
    coalitions: Mapping[str, Sequence[str]],
    settings: Settings = Settings(),
) -> pl.DataFrame:
    """One market-clearing run per coalition; one row per coalition.

    Sorted by the members' import price rise, smallest first (``rank`` 1: the
    coalition that insulates its members best); coalitions whose members import
    none of the basket come last, with null figures.

    Raises
    ------
    ParameterError
        Settings the model cannot take, a coalition naming the concern.
    """
    settings.check()
    mk = basket.markets
    concern_c = mk.country_mask(basket.concern_members)
    eta = settings.elasticities.demand
    rows = []
    for name, members in coalitions.items():
        member_set = frozenset(members)
        if both := sorted(member_set & basket.concern_members):
            raise ParameterError(
                f"coalition {name} contains the concern ({', '.join(both)})"
            )
        sol = _solve(mk, basket.policy(member_set, settings), settings)
        sums = _set_sums(_terms(sol, concern_c, eta), mk.country_mask(member_set))
        rows.append(
            {
                "coalition": name,
                "members": sorted(member_set),
                "n_members": len(member_set),
                **_figures(sums),
            }
        )
    schema = {k: LEAGUE_SCHEMA[k] for k in _ROW}
    table = pl.DataFrame(rows, schema=schema)
    return _ranked(table, basket, settings, "coalition").select(list(LEAGUE_SCHEMA))


_ROW = (
    "coalition",
    "members",
    "n_members",
    "import_value_usd",
    "concern_share",
    "scenario_concern_share",
    "import_price_change_pct",
    "import_quantity_change_pct",
    "consumer_surplus_change_usd",
    "concern_export_value_change_pct",
    "diverted_share",
    "cut_off_usd",
    "supplied_price_change_pct",
)


def _ranked(
    df: pl.DataFrame, basket: Basket, settings: Settings, key: str
) -> pl.DataFrame:
    """Sort by the members' price rise (nulls last, ties by name) and number."""
    # Infinite price rises (a member market cut off) tie: less cut off ranks first.
    order = [
        "import_price_change_pct",
        "cut_off_usd",
        "supplied_price_change_pct",
        key,
    ]
    df = df.sort([c for c in order if c in df.columns], nulls_last=True)
    has = df["import_price_change_pct"].is_not_null()
    return df.with_columns(
        pl.when(has)
        .then(has.cast(pl.Int32).cum_sum())
        .otherwise(None)
        .cast(pl.Int32)
        .alias("rank"),
        pl.lit(basket.year, pl.Int16).alias("year"),
        pl.lit(basket.concern).alias("concern"),
        pl.lit(_policy_label(settings)).alias("policy"),
        pl.lit(settings.eligible).alias("eligible"),
    )


def _policy_label(s: Settings) -> str:
    if s.policy == "tariff":
        return f"tariff {s.tariff:g}"
    if s.policy == "cap":
        return f"cap {s.max_concern_share:g}"
    return "ban"


# -- partner suggestions -----------------------------------------------------------------

PARTNER_SCHEMA = pl.Schema(
    {
        "rank": pl.Int32(),
        "candidate": pl.String(),
        "coalition": pl.String(),
        "import_price_change_pct": pl.Float64(),
        "price_change_reduction_pp": pl.Float64(),
        "coalition_price_change_pct": pl.Float64(),
        "consumer_surplus_change_usd": pl.Float64(),
        "concern_export_value_change_pct": pl.Float64(),
        "diverted_share": pl.Float64(),
        "candidate_import_value_usd": pl.Float64(),
        "candidate_concern_share": pl.Float64(),
        "candidate_price_change_pct": pl.Float64(),
        "candidate_price_change_outside_pct": pl.Float64(),
        "candidate_consumer_surplus_change_usd": pl.Float64(),
        "skipped": pl.String(),
        "year": pl.Int16(),
        "concern": pl.String(),
        "policy": pl.String(),
        "eligible": pl.String(),
    }
)


def partner_table(
    basket: Basket,
    coalition: str,
    members: Sequence[str],
    settings: Settings = Settings(),
    *,
    candidates: Sequence[str] | None = None,
) -> pl.DataFrame:
    """For every country outside the coalition, the figures if it joined.

    Joining restricts the candidate's imports from the concern too, and makes it
    an eligible supplier. ``import_price_change_pct`` and the other coalition
    figures are the original members' (``diverted_share``: of the concern's
    baseline sales to the enlarged coalition); ``price_change_reduction_pp`` is
    how much joining lowers the members' price rise (percentage points, the
    ranking); ``candidate_*`` is the newcomer's own import price change as a
    member and outside, so the cost to it is visible.

    ``candidates``: default every known country outside the coalition. Rows of
    candidates that were not run carry ``skipped`` (``concern``: a member of the
    concern group; ``no trade``: it neither imports nor exports the basket) and
    null figures, after the ranked rows.
    """
    settings.check()
    mk = basket.markets
    member_set = frozenset(members)
    if both := sorted(member_set & basket.concern_members):
        raise ParameterError(
            f"coalition {coalition} contains the concern ({', '.join(both)})"
        )
    if candidates is None:
        candidates = sorted(c for c, _, _ in countries.table_rows() if _is_country(c))
    concern_c = mk.country_mask(basket.concern_members)
    eta = settings.elasticities.demand
    member_c = mk.country_mask(member_set)
    base_sol = _solve(mk, basket.policy(member_set, settings), settings)
    base_t = _terms(base_sol, concern_c, eta)
    base_members = _set_sums(base_t, member_c)
    base_fig = _figures(base_members)

    index = {str(c): i for i, c in enumerate(mk.countries)}
    flow_k = mk.x_product[mk.flow_x]
    flow_e = mk.x_country[mk.flow_x]
    flow_i = mk.m_country[mk.flow_m]
    conc_flow = concern_c[flow_e]
    rows: list[dict[str, object]] = []
    skipped: list[dict[str, object]] = []
    for cand in sorted(set(candidates) - member_set):
        if cand in basket.concern_members:
            skipped.append({"candidate": cand, "skipped": SKIP_CONCERN})
            continue
        ci = index.get(cand)
        if ci is None:
            skipped.append({"candidate": cand, "skipped": SKIP_NO_TRADE})
            continue
        cand_c = np.zeros(len(mk.countries), dtype=bool)
        cand_c[ci] = True
        # Products whose market the candidate's joining changes: it imports from
        # the concern, or exports and becomes eligible by joining.
        hit = conc_flow & (flow_i == ci)
        if settings.eligible == "members" or cand not in basket.eligible:
            hit |= flow_e == ci
        changed = np.unique(flow_k[hit])
        base_cand = _set_sums(base_t, cand_c)
        if len(changed) > SUBSET_SHARE * len(mk.products):
            changed = np.arange(len(mk.products))  # cheaper than cutting a subset
            sub = mk
        elif len(changed):
            sub = _subset(mk, np.isin(flow_k, changed))
        if len(changed):
            joined = member_set | {cand}
            sol = _solve(sub, basket.policy(joined, settings, cand), settings)
            t = _terms(sol, sub.country_mask(basket.concern_members), eta)
            mem = _mix(base_members, _set_sums(t, member_c), changed)
            new = _mix(base_cand, _set_sums(t, cand_c), changed)
        else:
            mem, new = base_members, base_cand
        fig = _figures(mem)
        both_sums = {k: mem[k] + new[k] for k in _SET_FIELDS}
        both_sums |= {k: mem[k] for k in ("c0_all", "cq_all", "x0c", "pxc")}
        enlarged = _figures(both_sums)
        cand_fig, outside = _figures(new), _figures(base_cand)
        price, base_price = (
            fig["import_price_change_pct"],
            base_fig["import_price_change_pct"],
        )
        rows.append(
            {
                "candidate": cand,
                "import_price_change_pct": price,
                "price_change_reduction_pp": None
                if price is None or base_price is None
                else _diff(base_price, price),
                "coalition_price_change_pct": base_price,
                "consumer_surplus_change_usd": fig["consumer_surplus_change_usd"],
                "concern_export_value_change_pct": fig[
                    "concern_export_value_change_pct"
                ],
                "diverted_share": enlarged["diverted_share"],
                "candidate_import_value_usd": cand_fig["import_value_usd"],
                "candidate_concern_share": cand_fig["concern_share"],
                "candidate_price_change_pct": cand_fig["import_price_change_pct"],
                "candidate_price_change_outside_pct": outside[
                    "import_price_change_pct"
                ],
                "candidate_consumer_surplus_change_usd": cand_fig[
                    "consumer_surplus_change_usd"
                ],
            }
        )
    schema = {
        k: v
        for k, v in PARTNER_SCHEMA.items()
        if k not in ("rank", "coalition", "year", "concern", "policy", "eligible")
    }
    ran = pl.DataFrame(rows, schema=schema)
    ran = ran.sort(
        ["price_change_reduction_pp", "candidate"],
        descending=[True, False],
        nulls_last=True,
    ).with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int32).alias("rank"))
    rest = pl.DataFrame(skipped, schema=schema).with_columns(
        pl.lit(None, pl.Int32).alias("rank")
    )
    out = pl.concat([ran, rest], how="diagonal_relaxed").with_columns(
        pl.lit(coalition).alias("coalition"),
        pl.lit(basket.year, pl.Int16).alias("year"),
        pl.lit(basket.concern).alias("concern"),
        pl.lit(_policy_label(settings)).alias("policy"),
        pl.lit(settings.eligible).alias("eligible"),
    )
    return out.select(list(PARTNER_SCHEMA)).cast(PARTNER_SCHEMA)


def _diff(a: float, b: float) -> float | None:
    """a − b, null when both are infinite (no comparison possible)."""
    if math.isinf(a) and math.isinf(b):
        return None
    return a - b


def _subset(mk: Markets, flows: np.ndarray) -> Markets:
    """The markets of the selected flows' products (labels kept, so product and
    country indices are the same as in ``mk``)."""
    return Markets.from_arrays(
        mk.products,
        mk.countries,
        mk.x_product[mk.flow_x[flows]],
        mk.x_country[mk.flow_x[flows]],
        mk.m_country[mk.flow_m[flows]],
        mk.value[flows],
    )


# -- the library entry points ------------------------------------------------------------


class BasketArgs(TypedDict, total=False):
    """The keywords of :func:`load_basket` the entry points pass on (a selection
    aside): the basket's products, the concern, the year and source when no
    selection is given, the registry and industry map (default the bundled)."""

    year: int | None
    industry: str | None
    hs: Sequence[str] | None
    concern: str
    registry: Registry | None
    industries: IndustryMap | None
    source: str | None


def coalitions(
    store: Store,
    selection: Selection | None = None,
    *,
    groups: Sequence[str] | None = None,
    settings: Settings = Settings(),
    **basket_args: Unpack[BasketArgs],
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """The coalition league table of a basket: (table, notes for the user).

    ``groups``: registry groups (or ISO3 codes, a coalition of one); default every
    group of kind alliance or partnership with at least two members in the year.
    ``basket_args``: :class:`BasketArgs`. See :func:`league_table` for the figures
    and :func:`load_basket` for the basket and its errors.
    """
    registry, basket = _checked_basket(store, selection, settings, basket_args)
    chosen = resolve_coalitions(registry, basket.year, groups, concern=basket.concern)
    table = league_table(basket, chosen.members, settings)
    notes = list(chosen.notes)
    idle = table.filter(pl.col("import_price_change_pct").is_null())["coalition"]
    if len(idle):
        notes.append(
            f"no member of {', '.join(idle.to_list())} imports {basket.label}: "
            "figures left empty"
        )
    return table, tuple(notes)


@dataclass(frozen=True)
class Partners:
    """What :func:`suggest_partners` found: the partner table of ``coalition``
    (candidates not run included, with ``skipped``) and the basket's label."""

    coalition: str
    table: pl.DataFrame
    label: str

    def ranked(self, top: int | None = None) -> pl.DataFrame:
        """The candidates that were run, best first (the ``top`` first ones)."""
        ranked = self.table.filter(pl.col("skipped").is_null()).drop("skipped")
        return ranked if top is None else ranked.head(top)

    @property
    def notes(self) -> tuple[str, ...]:
        """For the user: which candidates were skipped and why, then the
        coalition's own price rise (what the candidates are measured against)."""
        notes = skipped_notes(self.table, self.label)
        ranked = self.ranked()
        if len(ranked):
            alone = ranked.row(0, named=True)["coalition_price_change_pct"]
            shown = "—" if alone is None else f"{alone:+.2f} %"
            notes.append(f"{self.coalition} alone: members' import price {shown}")
        return tuple(notes)

    @property
    def empty_note(self) -> str:
        """The note when no candidate was run."""
        return f"no candidate outside {self.coalition} trades in {self.label}"


def suggest_partners(
    store: Store,
    selection: Selection | None = None,
    *,
    coalition: str,
    candidates: Sequence[str] | None = None,
    settings: Settings = Settings(),
    **basket_args: Unpack[BasketArgs],
) -> Partners:
    """Every country outside ``coalition``, ranked by how much joining it lowers
    the members' import price rise (:func:`partner_table`).

    ``candidates``: ISO3 codes or registry groups (a group stands for its members
    as of the year); default every country outside the coalition.
    ``basket_args``: :class:`BasketArgs`.
    """
    registry, basket = _checked_basket(store, selection, settings, basket_args)
    chosen = resolve_coalitions(
        registry, basket.year, [coalition], concern=basket.concern
    )
    pool = candidate_codes(registry, basket.year, candidates)
    table = partner_table(
        basket, coalition, chosen.members[coalition], settings, candidates=pool
    )
    return Partners(coalition, table, basket.label)


def _checked_basket(
    store: Store, selection: Selection | None, settings: Settings, args: BasketArgs
) -> tuple[Registry, Basket]:
    """The registry and the basket of an entry point, its settings checked first."""
    registry = args.get("registry")
    registry = load_registry() if registry is None else registry
    settings.check()
    return registry, load_basket(store, selection, **(args | {"registry": registry}))


def candidate_codes(
    registry: Registry, year: int, names: Sequence[str] | None
) -> list[str] | None:
    """ISO3 codes of candidate names (a registry group expands to its members)."""
    if names is None:
        return None
    out: set[str] = set()
    for name in names:
        if name in registry.groups:
            out.update(registry.members(name, year))
            continue
        code = countries.normalise(name)
        if code is None:
            raise UnknownNameError("candidate", name, registry.group_names())
        out.add(code)
    return sorted(out)


def skipped_notes(table: pl.DataFrame, label: str) -> list[str]:
    """Which candidates of a partner table were not run, and why (one per reason)."""
    notes = []
    for reason, why in (
        (SKIP_CONCERN, "members of the concern group"),
        (SKIP_NO_TRADE, f"no trade in {label}"),
    ):
        names = table.filter(pl.col("skipped") == reason)["candidate"].to_list()
        if not names:
            continue
        shown = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
        notes.append(f"skipped {len(names)} candidate(s), {why}: {shown}")
    return notes
