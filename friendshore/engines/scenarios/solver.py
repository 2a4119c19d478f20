"""Global market clearing per product (DESIGN.md, "Scenario model").

Every product is one world market of all its exporters and importers. Goods are
differentiated by origin (Armington, as in GSIM and WITS SMART); quantities are in
baseline US dollars, so every baseline price is 1. Given a coalition's policy
towards the concern, :func:`solve` finds the exporter prices ``p_e`` at which every
exporter's market clears::

    P_m = (Σ_e θ[e,m] (τ[e,m] p_e)^(1−σ))^(1/(1−σ))       import price index
    D_m = V_m P_m^(−η)                                    total demand
    S_m = min(D_m, R_m clip((P_m − 1)/(c_R − 1), 0, 1))   reshored (members only)
    M[e,m] = θ[e,m] (D_m − S_m) (τ[e,m] p_e / P_m)^(−σ)   bilateral demand
    X_e = min(X0_e p_e^ε, K_e)                            export supply, capped
    Σ_m M[e,m] = X_e                                      clearing

The unknowns are the log prices of the exporter markets. The solver is a Newton
iteration on ``log demand − log supply`` with the own-price derivative of each
exporter market (the diagonal of the Jacobian, price-index feedback included),
Anderson-accelerated per product; cross effects make it converge linearly, in
about 20–25 iterations for real trade years. Each model evaluation is three
sparse mat-vecs with constant data (scipy CSR of θ, θ², and a small matrix of the
flows the policy touches; :class:`_Sparse`) plus elementwise work on the exporter
and importer markets; products that have cleared leave the working set. Draws
share the matrices (one column per draw) and are solved in cache-sized chunks on
one thread per CPU; one draw of many flows is cut into product ranges solved the
same way, and every part writes its market figures into one preallocated result.
Products not cleared after 40 iterations get a full Newton
with each product's dense Jacobian. It stops when every exporter's market clears
to ``tol`` of that exporter's baseline exports. Flow-level figures (τ, M[e,m])
follow from the market figures and are worked out only for the flows asked for
(:meth:`Solution.flow_values`): the result tables need the coalition's flows only.

The public surface is :class:`Markets` (the baseline, built once),
:class:`Policy`, :class:`Elasticities`, :class:`Draws`, :func:`solve` and the
:class:`Solution` it returns; :mod:`friendshore.engines.scenarios.simulate` builds the
baseline from the store and the result tables from a solution.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal, TypeVar

import numpy as np
import polars as pl

PolicyKind = Literal["ban", "tariff", "cap"]

TOL = 1e-9  # every exporter market clears to this fraction of its baseline exports
MAX_ITER = 2000
_MAX_STEP = 2.0  # largest change of a log price in one diagonal iteration
_NEWTON_STEP = 10.0  # in one full Newton step (the line search guards it): a price
# pushed far off by the diagonal phase comes back in a few steps, not tens


class NoEquilibrium(RuntimeError):
    """The iteration did not reach the tolerance within ``max_iter``."""


@dataclass(frozen=True)
class Elasticities:
    """σ (substitution between origins, > 1), η (total demand, ≥ 0), ε (export
    supply, ≥ 0). Defaults and their sources: :mod:`friendshore.engines.scenarios.model`."""

    substitution: float = 3.1
    demand: float = 0.6
    supply: float = 1.5

    def check(self, *, ban: bool) -> None:
        """Raise ValueError on values the model cannot take."""
        s, d, e = self.substitution, self.demand, self.supply
        if not all(math.isfinite(x) for x in (s, d, e)):
            raise ValueError("elasticities must be finite numbers")
        if d < 0 or e < 0 or s < 0:
            raise ValueError("elasticities must not be negative")
        if s <= 1:
            raise ValueError(
                "substitution must be above 1"
                + (" with a ban (a banned variety would be essential)" if ban else "")
            )


@dataclass(frozen=True)
class Draws:
    """Per-draw values stacked over copies of the markets (uncertainty).

    Each array has one value per draw; ``capacity_scale`` multiplies every
    supplier's capacity expansion in that draw.
    """

    substitution: np.ndarray
    demand: np.ndarray
    supply: np.ndarray
    capacity_scale: np.ndarray

    @property
    def n(self) -> int:
        return len(self.substitution)


@dataclass(frozen=True)
class Policy:
    """A coalition's policy towards the concern, with the supply-side settings.

    ``coalition`` and ``concern`` are sets of country codes; ``eligible`` the
    suppliers that may add capacity (``capacity_expansion`` × baseline exports, or
    their entry in ``capacity_by_supplier``); everyone else, the concern included,
    supplies at most its baseline exports. ``reshoring`` (a share of each
    member's baseline imports) is domestic capacity fully used at the import price
    ``reshoring_cost`` (> 1). ``kind``: ``ban`` removes the concern's flows into
    members, ``tariff`` prices them at ``1 + tariff``, ``cap`` limits the concern's
    share of each member's imports to ``max_concern_share`` with a per-member
    quota-rent rate.
    """

    coalition: frozenset[str]
    concern: frozenset[str]
    kind: PolicyKind = "ban"
    tariff: float = 0.0
    max_concern_share: float = 0.0
    eligible: frozenset[str] = frozenset()
    capacity_expansion: float = 0.0
    capacity_by_supplier: Mapping[str, float] = field(default_factory=dict)
    reshoring: float = 0.0
    reshoring_cost: float = 1.6

    def check(self) -> None:
        """Raise ValueError on a policy the model cannot take."""
        if self.kind not in ("ban", "tariff", "cap"):
            raise ValueError(f"unknown policy {self.kind!r}")
        if both := sorted(self.coalition & self.concern):
            raise ValueError(f"the coalition names the concern ({', '.join(both)})")
        if self.kind == "tariff" and not (
            self.tariff >= 0 and math.isfinite(self.tariff)
        ):
            raise ValueError("tariff must be a finite number ≥ 0")
        if self.kind == "cap" and not 0 <= self.max_concern_share <= 1:
            raise ValueError("max_concern_share must be between 0 and 1")
        if not self.reshoring_cost > 1 or not math.isfinite(self.reshoring_cost):
            raise ValueError("reshoring_cost must be above 1")
        if self.reshoring < 0 or self.capacity_expansion < 0:
            raise ValueError("reshoring and capacity_expansion must not be negative")
        if any(v < 0 for v in self.capacity_by_supplier.values()):
            raise ValueError("capacity expansions must not be negative")


@dataclass(frozen=True, eq=False)
class Markets:
    """The baseline of many product markets as flat arrays over the flows.

    Build it once (:meth:`from_frame`) and solve many policies against it. Index
    spaces: ``countries`` (labels of exporters and importers), ``products``,
    exporter markets ``x`` (product × exporter) and importer markets ``m``
    (product × importer); each flow points at its ``x`` and ``m``.
    """

    products: np.ndarray  # labels (numpy str)
    countries: np.ndarray  # labels (numpy str)
    flow_x: np.ndarray  # exporter market of each flow
    flow_m: np.ndarray  # importer market of each flow
    value: np.ndarray  # baseline value of each flow (USD)
    x_product: np.ndarray
    x_country: np.ndarray
    m_product: np.ndarray
    m_country: np.ndarray
    x0: np.ndarray  # baseline exports per exporter market
    v: np.ndarray  # baseline imports per importer market
    theta: np.ndarray  # value / v[flow_m]

    @classmethod
    def from_frame(
        cls,
        flows: pl.DataFrame,
        *,
        product: str = "hs6",
        exporter: str = "exporter",
        importer: str = "importer",
        value: str = "value_usd",
    ) -> Markets:
        """Markets from one row per (product, exporter, importer) with a value > 0.

        Rows with a value that is not positive are dropped; duplicate keys are
        summed.
        """
        f = (
            flows.lazy()
            .select(
                pl.col(product).cast(pl.String).alias("k"),
                pl.col(exporter).cast(pl.String).alias("e"),
                pl.col(importer).cast(pl.String).alias("i"),
                pl.col(value).cast(pl.Float64).alias("v"),
            )
            .filter(pl.col("v") > 0)
            .group_by("k", "e", "i")
            .agg(pl.col("v").sum())
            .sort("k", "e", "i")
            .collect()
        )
        prods = f["k"].unique().sort()
        ctry = pl.concat([f["e"], f["i"]]).unique().sort()
        k = _codes(f["k"], prods)
        e = _codes(f["e"], ctry)
        i = _codes(f["i"], ctry)
        return cls.from_arrays(prods.to_numpy(), ctry.to_numpy(), k, e, i, f["v"])

    @classmethod
    def from_arrays(
        cls,
        products: np.ndarray | Sequence[str],
        countries: np.ndarray | Sequence[str],
        product: np.ndarray,
        exporter: np.ndarray,
        importer: np.ndarray,
        value: np.ndarray | pl.Series,
    ) -> Markets:
        """Markets from integer codes per flow (unique product/exporter/importer)."""
        products = np.asarray(products, dtype=str)
        countries = np.asarray(countries, dtype=str)
        k = np.asarray(product, dtype=np.int64)
        e = np.asarray(exporter, dtype=np.int64)
        i = np.asarray(importer, dtype=np.int64)
        val = np.asarray(value, dtype=np.float64)
        nc = max(len(countries), 1)
        xkey, flow_x = _dense_ids(k * nc + e, len(products) * nc)
        mkey, flow_m = _dense_ids(k * nc + i, len(products) * nc)
        x0 = np.bincount(flow_x, val, minlength=len(xkey))
        v = np.bincount(flow_m, val, minlength=len(mkey))
        return cls(
            products=products,
            countries=countries,
            flow_x=flow_x.astype(np.int64, copy=False),
            flow_m=flow_m.astype(np.int64, copy=False),
            value=val,
            x_product=xkey // nc,
            x_country=xkey % nc,
            m_product=mkey // nc,
            m_country=mkey % nc,
            x0=x0,
            v=v,
            theta=val / v[flow_m] if len(val) else val,
        )

    @property
    def n_flows(self) -> int:
        return len(self.value)

    def country_mask(self, codes: frozenset[str] | set[str]) -> np.ndarray:
        """Per country index: is it in ``codes``."""
        return np.isin(self.countries, np.asarray(sorted(codes), dtype=str))


@dataclass(frozen=True, eq=False)
class Solution:
    """The equilibrium of every market (per draw when solved with draws).

    Arrays are stacked by draw: exporter-market arrays have ``draws × len(x0)``
    entries (draw-major), importer-market arrays ``draws × len(v)``, flow arrays
    ``draws × n_flows``. Quantities are in baseline USD. The flow arrays (``tau``,
    ``quantity``, ``concern_flow``) follow from the market arrays and are worked
    out when first asked for (200 draws × every flow is gigabytes; the result
    tables need the coalition members' flows only).
    """

    markets: Markets
    policy: Policy
    draws: int
    price: np.ndarray  # p_e per exporter market (0: lost every market)
    supply: np.ndarray  # X_e
    capacity: np.ndarray  # K_e
    price_index: np.ndarray  # P_m per importer market (inf: every variety banned)
    demand: np.ndarray  # D_m
    reshored: np.ndarray  # S_m (quantity)
    imports: np.ndarray  # Q_m
    member: np.ndarray  # per importer market: is the importer a coalition member
    sigma: np.ndarray  # σ per draw
    tau_m: np.ndarray | None  # the cap's τ_m per importer market (None: no cap)
    iterations: int
    max_residual: float  # largest |Σ_m M − X| / X0 over exporter markets

    @cached_property
    def _concern_x(self) -> np.ndarray:
        """Per exporter market (one draw): is the exporter in the concern group."""
        return self.markets.country_mask(self.policy.concern)[self.markets.x_country]

    @cached_property
    def _target(self) -> np.ndarray:
        """Per flow (one draw): the policy acts on it (concern → member)."""
        mk = self.markets
        member = mk.country_mask(self.policy.coalition)[mk.m_country][mk.flow_m]
        return self._concern_x[mk.flow_x] & member

    def flow_values(self, flows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """τ and M[e,m] of the flows ``flows`` (indices into one draw's flows) in
        every draw, draw-major: ``M = θ Q_m P_m^σ (τ p_e)^(−σ)``, 0 where the
        flow is banned, its exporter has lost every market or its importer
        buys nothing."""
        tau, quantity, _ = self._flow_terms(flows)
        return tau, quantity

    def _flow_terms(
        self, flows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`flow_values` and the exporter's price p_e of each flow."""
        mk = self.markets
        nx, nm, d, k = len(mk.x0), len(mk.v), self.draws, len(flows)
        shift = np.arange(d, dtype=np.int64)[:, None]
        xs = (mk.flow_x[flows][None, :] + shift * nx).ravel()
        ms = (mk.flow_m[flows][None, :] + shift * nm).ravel()
        target = np.flatnonzero(np.tile(self._target[flows], d))
        tau = np.ones(d * k)
        if self.policy.kind == "ban":
            tau[target] = np.inf
        elif self.policy.kind == "tariff":
            tau[target] = 1.0 + self.policy.tariff
        elif self.tau_m is not None:
            tau[target] = self.tau_m[ms[target]]
        with np.errstate(divide="ignore", invalid="ignore"):
            # σ (log P_m − log p_e − log τ), τ ≠ 1 on the policy's flows only;
            # −inf (M = 0) where no flow can go
            p, q = self.price[xs], self.imports[ms]
            live = (p > 0) & (q > 0)
            ratio = np.log(self.price_index[ms])
            ratio -= np.log(p)
            ratio[target] -= np.log(tau[target])
            ratio *= np.repeat(self.sigma, k)
            ratio[~live] = -np.inf
            quantity = np.exp(ratio, out=ratio)
            quantity *= q
            quantity *= np.tile(mk.theta[flows], d)
        return tau, quantity, p

    @cached_property
    def tau(self) -> np.ndarray:
        """τ per flow (inf: banned)."""
        return self._flows[0]

    @cached_property
    def quantity(self) -> np.ndarray:
        """M[e,m] per flow."""
        return self._flows[1]

    @cached_property
    def _flows(self) -> tuple[np.ndarray, np.ndarray]:
        return self.flow_values(np.arange(self.markets.n_flows))

    @cached_property
    def concern_flow(self) -> np.ndarray:
        """Per flow: is the exporter in the concern group."""
        return np.tile(self._concern_x[self.markets.flow_x], self.draws)

    def importers(
        self,
        *,
        members_only: bool = False,
        named: np.ndarray | None = None,
        unit_value: np.ndarray | None = None,
    ) -> pl.DataFrame:
        """One row per (draw, product, importer): baseline and scenario figures.

        Columns: draw, product, importer, member, import_value_usd,
        scenario_import_value_usd, price_index, import_quantity_usd (Q),
        reshored_quantity_usd (S), concern_value_usd, scenario_concern_value_usd,
        sum_sq_usd, scenario_sum_sq_usd (Σ of squared supplier values, for HHI),
        quota_rent_usd. ``members_only``: the coalition members' rows only, summed
        over their flows only (draws × every flow is gigabytes for 200 draws).
        ``named``: per country, does it count in the HHI sums (default: every
        supplier). ``unit_value``: USD per tonne per exporter market (NaN:
        unknown) adds import_t and scenario_import_t (null where no supplier of
        the row has one).
        """
        mk = self.markets
        nm, nf, d = len(mk.v), mk.n_flows, self.draws
        member1 = self.member[:nm]  # the same in every draw
        if members_only:
            m_keep = np.flatnonzero(member1)
            f_keep = np.flatnonzero(member1[mk.flow_m])
        else:
            m_keep = np.arange(nm)
            f_keep = np.arange(nf)
        m_new = np.full(nm, -1, dtype=np.int64)
        m_new[m_keep] = np.arange(len(m_keep))
        nk = len(m_keep)
        shift = np.arange(d, dtype=np.int64)[:, None]
        rows_m = (m_keep[None, :] + shift * nm).ravel()
        fm = (m_new[mk.flow_m[f_keep]][None, :] + shift * nk).ravel()
        fx1 = mk.flow_x[f_keep]
        tau_f, q_f, p = self._flow_terms(f_keep)
        tau = np.where(np.isfinite(tau_f), tau_f, 1.0)
        paid = tau * p * q_f  # at the prices the importer pays
        base = np.tile(mk.value[f_keep], d)
        conc = np.tile(self._concern_x[fx1], d)
        size = nk * d

        def total(w: np.ndarray) -> np.ndarray:
            # float64 even with no rows (bincount of nothing is int64)
            return np.bincount(fm, w, minlength=size).astype(np.float64, copy=False)

        counted = (
            np.ones(len(fm), dtype=bool)
            if named is None
            else np.tile(named[mk.x_country[fx1]], d)
        )
        cols: dict[str, Any] = {
            "draw": np.repeat(np.arange(d, dtype=np.int32), nk),
            "product": _label(mk.products, mk.m_product[m_keep], d),
            "importer": _label(mk.countries, mk.m_country[m_keep], d),
            "member": self.member[rows_m],
            "import_value_usd": np.tile(mk.v[m_keep], d),
            "scenario_import_value_usd": total(paid),
            "price_index": self.price_index[rows_m],
            "import_quantity_usd": self.imports[rows_m],
            "reshored_quantity_usd": self.reshored[rows_m],
            "concern_value_usd": total(base * conc),
            "scenario_concern_value_usd": total(paid * conc),
            "sum_sq_usd": total(base * base * counted),
            "scenario_sum_sq_usd": total(paid * paid * counted),
            "quota_rent_usd": total((tau - 1.0) * p * q_f),
        }
        if unit_value is not None:
            unit = np.tile(unit_value[fx1], d)
            known = np.isfinite(unit)
            has = total(known) > 0
            safe = np.where(known, unit, 1.0)
            for name, usd in (("import_t", base), ("scenario_import_t", q_f)):
                cols[name] = pl.Series(
                    name, np.where(has, total(np.where(known, usd / safe, 0.0)), np.nan)
                ).fill_nan(None)
        return pl.DataFrame(cols, nan_to_null=False)

    def exporters(self) -> pl.DataFrame:
        """One row per (draw, product, exporter): draw, product, exporter,
        export_value_usd (X0), price (p), export_quantity_usd (X), capacity_usd (K)."""
        mk = self.markets
        nx, d = len(mk.x0), self.draws
        return pl.DataFrame(
            {
                "draw": np.repeat(np.arange(d, dtype=np.int32), nx),
                "product": _label(mk.products, mk.x_product, d),
                "exporter": _label(mk.countries, mk.x_country, d),
                "export_value_usd": np.tile(mk.x0, d),
                "price": self.price,
                "export_quantity_usd": self.supply,
                "capacity_usd": self.capacity,
            }
        )

    def flows(self) -> pl.DataFrame:
        """One row per (draw, flow): draw, product, exporter, importer, value_usd,
        tau, quantity_usd (M), price (p_e)."""
        mk = self.markets
        nf, d = mk.n_flows, self.draws
        fx = _tile_index(mk.flow_x, len(mk.x0), d)
        return pl.DataFrame(
            {
                "draw": np.repeat(np.arange(d, dtype=np.int32), nf),
                "product": _label(mk.products, mk.x_product[mk.flow_x], d),
                "exporter": _label(mk.countries, mk.x_country[mk.flow_x], d),
                "importer": _label(mk.countries, mk.m_country[mk.flow_m], d),
                "value_usd": np.tile(mk.value, d),
                "tau": self.tau,
                "quantity_usd": self.quantity,
                "price": self.price[fx],
            }
        )


def solve(
    markets: Markets,
    policy: Policy,
    elasticities: Elasticities = Elasticities(),
    *,
    draws: Draws | None = None,
    tol: float = TOL,
    max_iter: int = MAX_ITER,
    strict: bool = True,
) -> Solution:
    """Equilibrium prices and quantities of every product market under ``policy``.

    Parameters
    ----------
    markets
        The baseline (:meth:`Markets.from_frame`); reused across calls.
    policy
        Coalition, concern, ban / tariff / cap, eligible suppliers and capacity,
        reshoring.
    elasticities
        σ, η, ε for every product (ignored where ``draws`` gives them).
    draws
        Optional per-draw σ, η, ε and capacity scale: the markets are solved once
        per draw, all draws side by side.
    tol
        Every exporter market clears to ``tol`` × its baseline exports.
    strict
        False: return the last iterate instead of raising :class:`NoEquilibrium`
        (for diagnostics; ``max_residual`` says how far it is).

    Raises
    ------
    ValueError
        An elasticity or policy the model cannot take (σ ≤ 1, negative values, a
        coalition naming the concern, reshoring_cost ≤ 1).
    NoEquilibrium
        The iteration did not converge within ``max_iter``.
    """
    policy.check()
    ban = policy.kind == "ban"
    if draws is None:
        elasticities.check(ban=ban)
        nd = 1
        sig_d = np.array([elasticities.substitution], dtype=np.float64)
        eta_d = np.array([elasticities.demand], dtype=np.float64)
        eps_d = np.array([elasticities.supply], dtype=np.float64)
        cap_d = np.ones(1)
    else:
        nd = draws.n
        sig_d = np.asarray(draws.substitution, dtype=np.float64)
        eta_d = np.asarray(draws.demand, dtype=np.float64)
        eps_d = np.asarray(draws.supply, dtype=np.float64)
        cap_d = np.asarray(draws.capacity_scale, dtype=np.float64)
        for s, h, e in zip(sig_d, eta_d, eps_d, strict=True):
            Elasticities(float(s), float(h), float(e)).check(ban=ban)
        if np.any(cap_d < 0) or not np.all(np.isfinite(cap_d)):
            raise ValueError("capacity scale must be a finite number ≥ 0")

    def run(mk: Markets, draw: slice | np.ndarray = slice(None)) -> _Solved:
        return _solve(
            mk,
            policy,
            sig_d[draw],
            eta_d[draw],
            eps_d[draw],
            cap_d[draw],
            tol,
            max_iter,
            strict,
        )

    sink = _Sink(markets, policy, sig_d)
    if nd == 1 and markets.n_flows > _CHUNK_WORK and _workers() > 1:
        # One draw of many flows: the products are independent markets, solved
        # in ranges of about _CHUNK_WORK flows, each written into its rows.
        # (a multiple of the threads: five equal ranges on two threads leave one
        # thread idle for a fifth of the solve)
        w = _workers()
        n = w * -(-markets.n_flows // (_CHUNK_WORK * w))

        def solve_range(r: _Range) -> tuple[int, float]:
            return run(r.markets).put(sink, r.xs, r.ms)

        return sink.done(_on_threads(solve_range, _product_ranges(markets, n)))
    # Draws are independent markets: solved a chunk at a time (arrays that stay in
    # the CPU caches: 200 draws in chunks of ~10 took a third of the time of one
    # stack), each chunk's markets written into its rows of the result.
    chunks = max(1, min(nd, -(-markets.n_flows * nd // _CHUNK_WORK)))
    if chunks > 1:  # a multiple of the threads, as for product ranges
        w = _workers()
        chunks = min(nd, w * -(-chunks // w))

    def solve_draws(idx: np.ndarray) -> tuple[int, float]:
        return run(markets, idx).put(sink, *sink.draw_rows(int(idx[0]), len(idx)))

    split = np.array_split(np.arange(nd), chunks)
    if chunks == 1:
        with _one_blas_thread():
            return sink.done([solve_draws(split[0])])
    return sink.done(_on_threads(solve_draws, split))


_T = TypeVar("_T")


def _on_threads(fn: Callable[[Any], _T], items: Sequence[Any]) -> list[_T]:
    """``fn`` of every item on one thread per CPU, in order (numpy's elementwise
    loops and scipy's sparse kernels release the GIL). BLAS is limited once
    here: threadpoolctl's limit is process-wide, and threads entering and leaving
    it in turn could leave it at one thread afterwards."""
    from concurrent.futures import ThreadPoolExecutor

    with _one_blas_thread(), ThreadPoolExecutor(_workers()) as pool:
        return list(pool.map(fn, items))


@dataclass(frozen=True)
class _Range:
    """A consecutive range of products as its own Markets, and where its exporter
    markets, importer markets and flows sit in the whole."""

    markets: Markets
    xs: slice
    ms: slice


def _product_ranges(mk: Markets, n: int) -> list[_Range]:
    """``mk`` cut into ``n`` consecutive product ranges of about equal flow counts,
    each as its own Markets with the flows it holds (a slice where the flows are
    in product order, as the store and :meth:`Markets.from_frame` give them);
    its exporter and importer markets are consecutive rows of ``mk``'s."""
    fk = mk.x_product[mk.flow_x]
    ordered = bool(np.all(fk[1:] >= fk[:-1]))
    counts = np.bincount(fk, minlength=len(mk.products))
    ends = np.searchsorted(
        np.cumsum(counts), np.linspace(0, mk.n_flows, n + 1)[1:-1], side="right"
    )
    bounds = np.unique(np.concatenate([[0], ends, [len(mk.products)]]))
    x_start = np.searchsorted(mk.x_product, bounds)
    m_start = np.searchsorted(mk.m_product, bounds)
    f_start = np.searchsorted(fk, bounds) if ordered else None
    out: list[_Range] = []
    for j in range(len(bounds) - 1):
        a, b = int(bounds[j]), int(bounds[j + 1])
        xs = slice(int(x_start[j]), int(x_start[j + 1]))
        ms = slice(int(m_start[j]), int(m_start[j + 1]))
        if f_start is not None:
            fs: np.ndarray | slice = slice(int(f_start[j]), int(f_start[j + 1]))
        else:
            fs = np.flatnonzero((fk >= a) & (fk < b))
        sub = Markets(
            products=mk.products[a:b],
            countries=mk.countries,
            flow_x=mk.flow_x[fs] - xs.start,
            flow_m=mk.flow_m[fs] - ms.start,
            value=mk.value[fs],
            x_product=mk.x_product[xs] - a,
            x_country=mk.x_country[xs],
            m_product=mk.m_product[ms] - a,
            m_country=mk.m_country[ms],
            x0=mk.x0[xs],
            v=mk.v[ms],
            theta=mk.theta[fs],
        )
        out.append(_Range(sub, xs, ms))
    return out


# The market arrays of a Solution by index space (exporter and importer markets)
_PER_X = ("price", "supply", "capacity")
_PER_M = ("price_index", "demand", "reshored", "imports", "member")


class _Sink:
    """A :class:`Solution`'s market arrays for every draw, allocated once; the
    parts solved side by side (draws, product ranges) write their rows in place."""

    def __init__(self, mk: Markets, policy: Policy, sigma: np.ndarray) -> None:
        self.mk, self.policy, self.sigma = mk, policy, sigma
        self.nx, self.nm, nd = len(mk.x0), len(mk.v), len(sigma)
        names = [(n, self.nx) for n in _PER_X] + [(n, self.nm) for n in _PER_M]
        if policy.kind == "cap":
            names.append(("tau_m", self.nm))
        self.arrays = {
            name: np.empty(nd * size, dtype=bool if name == "member" else np.float64)
            for name, size in names
        }

    def draw_rows(self, first: int, n: int) -> tuple[slice, slice]:
        """The rows of draws ``first … first + n − 1`` (exporter, importer markets)."""
        return (
            slice(first * self.nx, (first + n) * self.nx),
            slice(first * self.nm, (first + n) * self.nm),
        )

    def put(self, values: Mapping[str, np.ndarray], xs: slice, ms: slice) -> None:
        """Write a part's market arrays into rows ``xs`` and ``ms``."""
        for name, out in self.arrays.items():
            out[xs if name in _PER_X else ms] = values[name]

    def done(self, stats: list[tuple[int, float]]) -> Solution:
        """The whole solution: the most iterations and the largest residual of
        any part."""
        arrays = dict(self.arrays)
        return Solution(
            markets=self.mk,
            policy=self.policy,
            draws=len(self.sigma),
            tau_m=arrays.pop("tau_m", None),
            sigma=self.sigma,
            iterations=max(i for i, _ in stats),
            max_residual=max(r for _, r in stats),
            **arrays,
        )


def _solve(
    markets: Markets,
    policy: Policy,
    sig_d: np.ndarray,
    eta_d: np.ndarray,
    eps_d: np.ndarray,
    cap_d: np.ndarray,
    tol: float,
    max_iter: int,
    strict: bool,
) -> _Solved:
    """:func:`solve` on validated inputs, all draws side by side: the prices."""
    nd = len(sig_d)
    args = (markets, policy, nd, sig_d, eta_d, eps_d, cap_d)
    full = _System.build(*args, tiled=nd == 1)
    lp = np.zeros(full.nx)  # log prices; the baseline is every price at 1
    iterations = 0
    if full.trivial:
        return _Solved(full, markets, policy, sig_d, lp, 0, None)
    sys, where = full, np.arange(full.nx)  # the working system, its x in full
    done = np.zeros(sys.n_k, dtype=bool)
    accel = _Anderson(sys.kx, sys.n_k)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        # Phase 1: diagonal Newton, Anderson-accelerated, over all products, each
        # model evaluation three sparse mat-vecs (cleared products stay put).
        fast = fast0 = _Sparse(full, markets, policy, nd, sig_d)
        sys = fast.sys
        lw = lp[where]  # the working set's log prices
        while iterations < min(max_iter, _DIAGONAL_ITER):
            ev = fast.evaluate(lw)
            done |= ~accel.seg.any(ev.rel > tol)
            if done.all():
                break
            keep_prod = np.asarray(~done.reshape(nd, -1).all(axis=0), dtype=bool)
            if keep_prod.mean() < 0.5:  # the cleared products leave the working set
                fast, keep_k, keep_x = fast.subset(keep_prod)
                lp[where] = lw
                sys, where, done = fast.sys, where[keep_x], done[keep_k]
                lw = lw[keep_x]
                accel = accel.subset(keep_x, keep_k, sys.kx)
                ev = ev.subset(keep_x)
            slope = ev.own_slope - sys.eps_x * ~ev.capped
            step = np.clip(-ev.f / slope, -_MAX_STEP, _MAX_STEP)
            step[np.isnan(step)] = 0.0  # (clip has taken ±inf to the bounds)
            step *= sys.x_live & ~done[sys.kx]
            lw = _clip_lp(accel.next(lw, step, ~done))
            iterations += 1
        lp[where] = lw
        # Phase 2: full Newton with each product's dense Jacobian and a line
        # search, for the products the cheap iteration has not cleared.
        if not done.all():
            left = np.zeros(full.n_k, dtype=bool)
            left[sys.kx_global[~done[sys.kx]]] = True
            flows = full if nd == 1 else _System.build(*args)
            sys, keep = flows.subset(left)
            where = keep
            sub, done, iterations = _newton(sys, lp[where], tol, iterations, max_iter)
            lp[where] = sub
    if strict and not done.all():
        left = np.unique(sys.kx_global[~done[sys.kx]]) % len(markets.products)
        names = sorted({str(markets.products[k]) for k in left})
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            ev = sys.evaluate(lp[where])
        raise NoEquilibrium(
            f"no equilibrium to {tol:g} after {iterations} iterations in "
            f"{len(names)} product(s), e.g. {', '.join(names[:5])} (largest residual "
            f"{float(ev.rel.max(initial=0.0)):.3g} of a market)"
        )
    return _Solved(full, markets, policy, sig_d, lp, iterations, fast0)


@dataclass(frozen=True)
class _Solved:
    """Equilibrium log prices of a system (every draw of it side by side)."""

    full: _System
    markets: Markets
    policy: Policy
    sig_d: np.ndarray
    lp: np.ndarray
    iterations: int
    fast: _Sparse | None  # the evaluator of the whole system (None: not built)

    def put(self, sink: _Sink, xs: slice, ms: slice) -> tuple[int, float]:
        """Every market's figures at the final prices, written into rows ``xs``
        and ``ms`` of ``sink``; the iterations and the largest residual."""
        fast = self.fast or _Sparse(
            self.full, self.markets, self.policy, len(self.sig_d), self.sig_d
        )
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            values, residual = fast.final(self.lp)
        sink.put(values, xs, ms)
        return self.iterations, residual


_CHUNK_WORK = 2_000_000  # flows × draws solved side by side in one chunk


def _workers() -> int:
    """Threads for the chunks of draws: one per CPU, at most 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


def _one_blas_thread() -> AbstractContextManager[object]:
    """BLAS on one thread while solving: the dense phase solves hundreds of small
    per-product systems, where OpenBLAS's thread hand-off costs more than the
    arithmetic (3× the whole solve on a busy 2-core machine)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


_DIAGONAL_ITER = 40  # then the stubborn products get a full Newton
_LP_BOUND = 60.0  # log prices stay within e^±60 (the residual check still applies)


def _clip_lp(lp: np.ndarray) -> np.ndarray:
    return np.clip(lp, -_LP_BOUND, _LP_BOUND)


@dataclass
class _Eval:
    """The model at one set of prices."""

    p: np.ndarray  # per exporter market
    f: np.ndarray  # log demand − log supply (0 where not live)
    rel: np.ndarray  # |demand − supply| / X0
    capped: np.ndarray
    own_slope: np.ndarray  # ∂ log demand / ∂ log p_e (own price)
    dem_val: np.ndarray  # p_e Σ_m M[e,m]
    pm: np.ndarray  # p_e M[e,m] per flow
    shr: np.ndarray  # s[e,m]: e's share of m's spending per flow
    c: np.ndarray  # σ + dlogQ/dlogP per importer market

    def subset(self, keep_x: np.ndarray) -> _Eval:
        """The exporter-market fields of the kept x (phase 1 needs no others)."""
        none = np.empty(0)
        return _Eval(
            self.p[keep_x],
            self.f[keep_x],
            self.rel[keep_x],
            self.capped[keep_x],
            self.own_slope[keep_x],
            self.dem_val[keep_x],
            none,
            none,
            none,
        )


@dataclass
class _System:
    """The stacked arrays of one solve (products × draws) and the model on them.

    Index spaces: exporter markets ``x``, importer markets ``m``, flows, products
    ``k`` (product × draw). :meth:`subset` cuts out some products, reindexed.
    """

    # per exporter market
    x0: np.ndarray
    capacity: np.ndarray
    sig_x: np.ndarray
    eps_x: np.ndarray
    x_live: np.ndarray  # has a flow that is not banned
    kx: np.ndarray  # product of each x (local)
    kx_global: np.ndarray  # product of each x (in the full system)
    # per importer market
    v: np.ndarray
    sig_m: np.ndarray
    eta_m: np.ndarray
    member_m: np.ndarray
    res_cap: np.ndarray
    km: np.ndarray
    # per flow
    fx: np.ndarray
    fm: np.ndarray
    a: np.ndarray  # θ τ^(1−σ) (0: banned)
    b: np.ndarray  # 1/τ (0: banned)
    tau: np.ndarray
    target: np.ndarray  # the policy acts on this flow
    concern_f: np.ndarray
    # scalars
    n_k: int
    c_r: float
    s_max: float | None  # the cap policy's share; None for other policies
    trivial: bool

    @property
    def nx(self) -> int:
        return len(self.x0)

    @property
    def nm(self) -> int:
        return len(self.v)

    @classmethod
    def build(
        cls,
        mk: Markets,
        policy: Policy,
        nd: int,
        sig_d: np.ndarray,
        eta_d: np.ndarray,
        eps_d: np.ndarray,
        cap_d: np.ndarray,
        *,
        tiled: bool = True,
    ) -> _System:
        """The stacked system; ``tiled=False`` keeps the flow arrays of one draw
        (the sparse phase and :meth:`draw` need no more: draws × flows copies
        took gigabytes for 200 draws)."""
        nx1, nm1 = len(mk.x0), len(mk.v)
        concern_c = mk.country_mask(policy.concern)
        member_c = mk.country_mask(policy.coalition)
        eligible_c = mk.country_mask(policy.eligible) & ~concern_c
        expansion_c = np.where(eligible_c, policy.capacity_expansion, 0.0)
        for code, value in policy.capacity_by_supplier.items():
            expansion_c = np.where(
                (mk.countries == code) & eligible_c, value, expansion_c
            )
        xdraw = np.repeat(np.arange(nd), nx1)
        mdraw = np.repeat(np.arange(nd), nm1)
        x0 = np.tile(mk.x0, nd)
        v = np.tile(mk.v, nd)
        sig_m = sig_d[mdraw]
        member_m = np.tile(member_c[mk.m_country], nd)
        nf = nd if tiled else 1
        fx = _tile_index(mk.flow_x, nx1, nf)
        fm = _tile_index(mk.flow_m, nm1, nf)
        theta = np.tile(mk.theta, nf)
        concern_f = np.tile(concern_c[mk.x_country][mk.flow_x], nf)
        target = concern_f & member_m[fm]
        tau = np.ones(len(fx))
        # w = θ (τ p)^(1−σ) = a · p^(1−σ); p_e M[e,m] = Q P^σ · w · b with b = 1/τ
        # (0 where banned); τ ≠ 1 on the policy's flows only, so the powers are
        # taken there alone
        a = theta.copy()
        b = np.ones(len(fx))
        x_live = np.ones(nx1 * nf, dtype=bool)
        if policy.kind == "ban":
            tau[target] = np.inf
            a[target] = 0.0
            b[target] = 0.0
            # an exporter market is dead when the ban takes every flow it has
            # (only the concern's markets can be)
            cfx = fx[concern_f]
            has = np.bincount(cfx, minlength=nx1 * nf) > 0
            left = np.bincount(cfx, ~target[concern_f], minlength=nx1 * nf) > 0
            x_live = ~has | left
        elif policy.kind == "tariff":
            t = np.flatnonzero(target)
            tau[t] = 1.0 + policy.tariff
            a[t] *= tau[t] ** (1.0 - sig_m[fm[t]])
            b[t] = 1.0 / tau[t]
        kx = np.tile(mk.x_product, nd) + xdraw * len(mk.products)
        cap = policy.kind == "cap"
        return cls(
            x0=x0,
            capacity=x0 * (1.0 + np.tile(expansion_c[mk.x_country], nd) * cap_d[xdraw]),
            sig_x=sig_d[xdraw],
            eps_x=eps_d[xdraw],
            x_live=np.tile(x_live, nd // nf),
            kx=kx,
            kx_global=kx,
            v=v,
            sig_m=sig_m,
            eta_m=eta_d[mdraw],
            member_m=member_m,
            res_cap=np.where(member_m, policy.reshoring * v, 0.0),
            km=np.tile(mk.m_product, nd) + mdraw * len(mk.products),
            fx=fx,
            fm=fm,
            a=a,
            b=b,
            tau=tau,
            target=target,
            concern_f=concern_f,
            n_k=len(mk.products) * nd,
            c_r=policy.reshoring_cost,
            s_max=policy.max_concern_share if cap else None,
            trivial=(
                not np.any(target)
                or (policy.kind == "tariff" and policy.tariff == 0)
                or (cap and policy.max_concern_share >= 1)
            ),
        )

    def subset(self, keep_k: np.ndarray) -> tuple[_System, np.ndarray]:
        """The system of the products ``keep_k`` (mask), and which x it keeps."""
        xk, mk_ = keep_k[self.kx], keep_k[self.km]
        fk = xk[self.fx]
        x_new = np.cumsum(xk) - 1
        m_new = np.cumsum(mk_) - 1
        k_new = np.cumsum(keep_k) - 1
        sub = _System(
            x0=self.x0[xk],
            capacity=self.capacity[xk],
            sig_x=self.sig_x[xk],
            eps_x=self.eps_x[xk],
            x_live=self.x_live[xk],
            kx=k_new[self.kx[xk]],
            kx_global=self.kx_global[xk],
            v=self.v[mk_],
            sig_m=self.sig_m[mk_],
            eta_m=self.eta_m[mk_],
            member_m=self.member_m[mk_],
            res_cap=self.res_cap[mk_],
            km=k_new[self.km[mk_]],
            fx=x_new[self.fx[fk]],
            fm=m_new[self.fm[fk]],
            a=self.a[fk],
            b=self.b[fk],
            tau=self.tau[fk],
            target=self.target[fk],
            concern_f=self.concern_f[fk],
            n_k=int(keep_k.sum()),
            c_r=self.c_r,
            s_max=self.s_max,
            trivial=self.trivial,
        )
        return sub, np.flatnonzero(xk)

    def weights(
        self, lp: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """p, w = θ (τ p)^(1−σ) and 1/τ per flow, and τ per importer market (the
        cap policy's member rates; 1 otherwise)."""
        p = np.where(self.x_live, np.exp(lp), 0.0)
        p1s = np.where(self.x_live, np.exp(lp * (1.0 - self.sig_x)), 0.0)
        w = np.where(self.a > 0, self.a * p1s[self.fx], 0.0)
        b = self.b
        tau_m = np.ones(self.nm)
        if self.s_max is not None:
            t1s, tau_m = self._cap_tau(w)
            t = self.target
            w = np.where(t, w * t1s[self.fm], w)
            b = np.where(t, np.where(t1s[self.fm] > 0, 1.0 / tau_m[self.fm], 0.0), b)
        return p, w, b, tau_m

    def _cap_tau(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each member market's τ_m^(1−σ) and τ_m ≥ 1, so that the concern's share
        of its imports at the prices it pays is at most ``s_max``.

        With A the concern's and B the others' Σ θ p^(1−σ):
        τ^(1−σ) A / (τ^(1−σ) A + B) ≤ s ⇔ τ^(1−σ) ≤ s B / ((1 − s) A).
        """
        s = float(self.s_max or 0.0)
        conc = np.bincount(self.fm, np.where(self.target, w, 0.0), minlength=self.nm)
        rest = np.bincount(self.fm, np.where(self.target, 0.0, w), minlength=self.nm)
        if s <= 0:
            t1s = np.where(conc > 0, 0.0, 1.0)
        else:
            safe = np.where(conc > 0, (1.0 - s) * conc, 1.0)
            t1s = np.where(conc > 0, np.minimum(1.0, s * rest / safe), 1.0)
        tau_m = np.where(t1s > 0, t1s ** (1.0 / (1.0 - self.sig_m)), np.inf)
        return t1s, tau_m

    def markets_at(self, big_a: np.ndarray) -> tuple[np.ndarray, ...]:
        """P, D, S, Q and σ + dlogQ/dlogP per importer market from Σ w."""
        return self.markets_log(big_a)[:5]

    def markets_log(self, big_a: np.ndarray) -> tuple[np.ndarray, ...]:
        """:meth:`markets_at` and log P (powers as exp of logs: numpy's exp and
        log are vectorised, its pow is not, and this runs every iteration)."""
        sig, eta, c_r, res = self.sig_m, self.eta_m, self.c_r, self.res_cap
        none = big_a <= 0  # every variety banned
        log_p = np.where(none, np.inf, np.log(big_a) / (1.0 - sig))
        price_idx = np.exp(log_p)
        dem = np.where(
            none, np.where(eta > 0, 0.0, self.v), self.v * np.exp(-eta * log_p)
        )
        frac = np.where(none, 1.0, np.clip((price_idx - 1.0) / (c_r - 1.0), 0.0, 1.0))
        rs = np.minimum(dem, res * frac)
        q = np.where(none, 0.0, dem - rs)
        ramp = (price_idx > 1.0) & (price_idx < c_r) & (rs < dem) & (res > 0)
        d_s = np.where(ramp, res * price_idx / (c_r - 1.0), 0.0)
        c = sig + np.where(q > 0, (-eta * dem - d_s) / q, 0.0)
        return price_idx, dem, rs, q, c, log_p

    def evaluate(self, lp: np.ndarray) -> _Eval:
        p, w, b, _ = self.weights(lp)
        fx, fm = self.fx, self.fm
        big_a = np.bincount(fm, w, minlength=self.nm)  # P^(1−σ)
        price_idx, _, _, q, c = self.markets_at(big_a)
        qp = np.where(q > 0, q * price_idx**self.sig_m, 0.0)  # Q P^σ
        pm = qp[fm] * w * b
        dem_val = np.bincount(fx, pm, minlength=self.nx)
        shr = np.where(big_a > 0, 1.0 / big_a, 0.0)[fm] * w
        own = np.bincount(fx, pm * (c[fm] * shr), minlength=self.nx)
        demand = np.where(p > 0, dem_val / p, 0.0)
        free = self.x0 * p**self.eps_x
        capped = free >= self.capacity
        sup = np.where(self.x_live, np.where(capped, self.capacity, free), 0.0)
        rel = np.where(self.x_live, np.abs(demand - sup) / self.x0, 0.0)
        f = np.where(self.x_live, np.log(np.maximum(demand, 1e-300) / sup), 0.0)
        own_slope = np.where(dem_val > 0, own / dem_val, 0.0) - self.sig_x
        return _Eval(p, f, rel, capped, own_slope, dem_val, pm, shr, c)


class _Sparse:
    """The model over the flows as sparse mat-vecs with constant data (phase 1).

    For a flow the policy leaves alone (τ = 1), ``w = θ p_e^(1−σ)`` and
    ``p_e M[e,m] = θ p_e^(1−σ) · Q_m P_m^σ``: with Θ (rows importer markets m,
    columns exporter markets x) and ``x_e = p_e^(1−σ)``, ``y_m = Q_m P_m^σ``,

        P_m^(1−σ) = (Θ x)_m                 p_e D_e = x_e (Θᵀ y)_e
        own-price term  x_e² (Θ²ᵀ (y c / A))_e

    The flows the policy touches (concern → coalition member) sit in a second,
    small matrix scaled per importer market by τ_m^(1−σ) and τ_m^(−σ). Neither
    matrix changes between iterations, so an iteration is three compiled passes
    over the flows (scipy CSR), not a dozen numpy gathers and bincounts; draws
    share the matrices (sparse × dense with one column per draw).
    """

    def __init__(
        self, full: _System, mk: Markets, policy: Policy, nd: int, sig_d: np.ndarray
    ) -> None:
        from scipy.sparse import csr_array

        nx1, nm1 = len(mk.x0), len(mk.v)
        self.sys, self.nd, self.nx1, self.nm1 = full, nd, nx1, nm1
        self.sig = sig_d[:, None]  # (draws, 1)
        target = full.target[: mk.n_flows]  # the same in every draw
        fm, fx, theta = mk.flow_m, mk.flow_x, mk.theta
        if len(fm) > 1 and np.any(fm[1:] < fm[:-1]):  # rows of a CSR: by m
            order = np.argsort(fm, kind="stable")
            fm, fx, theta, target = fm[order], fx[order], theta[order], target[order]

        # one index dtype for both arrays, or scipy converts (copies) them
        ix = np.int32 if len(fm) < 2**31 - 1 else np.int64

        def matrix(
            rows: np.ndarray, cols: np.ndarray, d: np.ndarray
        ) -> tuple[Any, Any]:
            ptr = np.zeros(nm1 + 1, dtype=ix)
            np.cumsum(np.bincount(rows, minlength=nm1), out=ptr[1:])
            idx = cols.astype(ix)
            a = csr_array((d, idx, ptr), shape=(nm1, nx1))
            a2 = csr_array((d * d, idx, ptr), shape=(nm1, nx1))
            return a, a2

        any_t = bool(target.any())
        # the policy's flows stay in Θ as explicit zeros (cutting them out copied
        # every flow array) and sit in a second, small matrix
        self.big, self.big2 = matrix(fm, fx, theta * ~target if any_t else theta)
        self.tgt: Any = None  # the flows the policy touches (None: no such flow)
        self.tgt2: Any = None
        if any_t:
            self.tgt, self.tgt2 = matrix(fm[target], fx[target], theta[target])
        self.kind = policy.kind
        self.tariff = 1.0 + policy.tariff
        self.live = full.x_live.reshape(nd, nx1)
        self.m_prod, self.x_prod = mk.m_product, mk.x_product
        self.n_prod = len(mk.products)
        self._t: dict[int, Any] = {}
        # the per-market arrays only: subsets never copy the flows
        none_i, none_f = np.empty(0, dtype=np.int64), np.empty(0)
        self.sys = replace(
            full,
            fx=none_i,
            fm=none_i,
            a=none_f,
            b=none_f,
            tau=none_f,
            target=np.empty(0, dtype=bool),
            concern_f=np.empty(0, dtype=bool),
        )
        self._prepare()

    def subset(self, keep_prod: np.ndarray) -> tuple[_Sparse, np.ndarray, np.ndarray]:
        """The products ``keep_prod`` (in every draw): the new evaluator, the kept
        k (product × draw) and the kept x, as masks over this one's."""
        from scipy.sparse import csr_array

        keep_k = np.tile(keep_prod, self.nd)
        lite, _ = self.sys.subset(keep_k)
        keep_m, keep_x = keep_prod[self.m_prod], keep_prod[self.x_prod]
        rows = np.flatnonzero(keep_m)
        new_x = (np.cumsum(keep_x) - 1).astype(self.big.indices.dtype)
        shape = (len(rows), int(keep_x.sum()))

        def cut(a: Any, a2: Any) -> tuple[Any, Any]:
            if a is None:
                return None, None
            sub = a[rows]
            idx, ptr = new_x[sub.indices], sub.indptr
            return (
                csr_array((sub.data, idx, ptr), shape=shape),
                csr_array((sub.data * sub.data, idx, ptr), shape=shape),
            )

        new = object.__new__(_Sparse)
        new.__dict__.update(self.__dict__)
        new.big, new.big2 = cut(self.big, self.big2)
        new.tgt, new.tgt2 = cut(self.tgt, self.tgt2)
        new.nm1, new.nx1 = shape
        new.sys = lite
        new._t = {}
        new.live = lite.x_live.reshape(self.nd, new.nx1)
        k_new = np.cumsum(keep_prod) - 1
        new.m_prod, new.x_prod = k_new[self.m_prod[keep_m]], k_new[self.x_prod[keep_x]]
        new.n_prod = int(keep_prod.sum())
        new._prepare()
        return new, keep_k, np.tile(keep_x, self.nd)

    def _mul(self, a: Any, v: np.ndarray) -> np.ndarray:
        """``a @ v`` per draw: v is (draws, n) → (draws, rows)."""
        if self.nd == 1:
            return (a @ v[0])[None, :]
        return np.ascontiguousarray((a @ np.ascontiguousarray(v.T)).T)

    def _mul_t(self, a: Any, v: np.ndarray) -> np.ndarray:
        """``aᵀ @ v`` per draw (the transpose made once: scipy copies the index
        arrays each time ``.T`` is taken)."""
        at = self._t.get(id(a))
        if at is None:
            at = self._t[id(a)] = a.T
        if self.nd == 1:
            return (at @ v[0])[None, :]
        return np.ascontiguousarray((at @ np.ascontiguousarray(v.T)).T)

    def _prepare(self) -> None:
        """Per-draw constants, and the importer markets that need the whole
        model (members: reshoring, bans); every other market has S = 0 and
        P > 0, so y = V P^(σ−η) and σ + dlogQ/dlogP = σ − η there."""
        sys, nd, nm1 = self.sys, self.nd, self.nm1
        eta = sys.eta_m.reshape(nd, nm1)[:, :1] if nm1 else np.zeros((nd, 1))
        self.v1 = sys.v[:nm1]
        self.k1 = (self.sig - eta) / (1.0 - self.sig)
        self.c1 = self.sig - eta
        self.all_live = bool(self.live.all())
        # 1 / 0 per exporter market with / without a flow left: masks applied as
        # products (np.where costs four multiplications on this path)
        self.live_f = self.live.astype(np.float64)
        self.dead_f = (~sys.x_live).astype(np.float64)
        mem = np.flatnonzero(sys.member_m[:nm1] | (sys.res_cap[:nm1] > 0))
        self.mem = mem

        def cols(a: np.ndarray) -> np.ndarray:
            return a.reshape(nd, nm1)[:, mem].ravel()

        self.mem_sys = replace(
            sys,
            v=cols(sys.v),
            sig_m=cols(sys.sig_m),
            eta_m=cols(sys.eta_m),
            res_cap=cols(sys.res_cap),
            member_m=cols(sys.member_m),
        )

    def evaluate(self, lp: np.ndarray) -> _Eval:
        sys, nd, sig = self.sys, self.nd, self.sig
        lp2 = lp.reshape(nd, self.nx1)
        if self.all_live:
            p = np.exp(lp2)
            xs = np.exp(lp2 * (1.0 - sig))
        else:  # a market without flows: p = 0, and no power of its price
            lp2 = lp2 * self.live_f
            p = np.exp(lp2) * self.live_f
            xs = np.exp(lp2 * (1.0 - sig)) * self.live_f
        big_a = self._mul(self.big, xs)
        t1s = yt_scale = None
        if self.tgt is not None and self.kind != "ban":
            conc = self._mul(self.tgt, xs)
            if self.kind == "tariff":
                t1s = np.broadcast_to(self.tariff ** (1.0 - sig), conc.shape)
            else:
                s = float(sys.s_max or 0.0)
                if s <= 0:
                    t1s = np.where(conc > 0, 0.0, 1.0)
                else:
                    safe = np.where(conc > 0, (1.0 - s) * conc, 1.0)
                    t1s = np.where(conc > 0, np.minimum(1.0, s * big_a / safe), 1.0)
            # τ^(−σ) = (τ^(1−σ))^(σ/(σ−1)); 0 where the concern is shut out
            yt_scale = np.where(t1s > 0, t1s ** (sig / (sig - 1.0)), 0.0)
            big_a = big_a + t1s * conc
        self.last_a, self.last_t1s = big_a, t1s  # for final()
        # y = Q P^σ and z = y (σ + dlogQ/dlogP) / P^(1−σ) per importer market
        y = self.v1 * np.exp(self.k1 * np.log(big_a))
        z = y * (self.c1 / big_a)
        if len(self.mem):
            a_mem = big_a[:, self.mem]
            _, _, _, q, c, log_p = self.mem_sys.markets_log(a_mem.ravel())
            ok = q > 0
            y_mem = np.where(ok, q * np.exp(self.mem_sys.sig_m * log_p), 0.0)
            y_mem = y_mem.reshape(nd, -1)
            y[:, self.mem] = y_mem
            z[:, self.mem] = np.where(
                a_mem > 0,
                y_mem * c.reshape(nd, -1) / np.where(a_mem > 0, a_mem, 1.0),
                0.0,
            )
        bad = ~(big_a > 0)
        if bad.any():
            y[bad] = 0.0
            z[bad] = 0.0
        dem_val = self._mul_t(self.big, y)
        own = self._mul_t(self.big2, z)
        if yt_scale is not None and t1s is not None:
            dem_val += self._mul_t(self.tgt, y * yt_scale)
            own += self._mul_t(self.tgt2, z * yt_scale * t1s)
        dem_val = (xs * dem_val).ravel()
        own = (xs * xs * own).ravel()
        p = p.ravel()
        free = sys.x0 * np.exp(sys.eps_x * lp)
        capped = free >= sys.capacity
        sup = np.minimum(free, sys.capacity)
        if self.all_live:
            demand = dem_val / p
            rel = np.abs(demand - sup) / sys.x0
            f = np.log(np.maximum(demand, 1e-300) / sup)
        else:  # a market without flows: demand 0, supply 0, rel 0, f = log 1 = 0
            dead = self.dead_f
            sup *= self.live_f.ravel()
            demand = dem_val / (p + dead)
            rel = np.abs(demand - sup) / sys.x0
            f = np.log((np.maximum(demand, 1e-300) + dead) / (sup + dead))
        # own / dem_val, 0 where no demand is left (own is 0 there too)
        own_slope = own / (dem_val + (dem_val <= 0)) - sys.sig_x
        none = np.empty(0)
        return _Eval(p, f, rel, capped, own_slope, dem_val, none, none, none)

    def final(self, lp: np.ndarray) -> tuple[dict[str, np.ndarray], float]:
        """Every market's figures at log prices ``lp`` (every draw): the arrays
        a :class:`Solution` holds, and the largest clearing residual
        ``|D − X| / X0`` (the model evaluated once more, on every product)."""
        ev = self.evaluate(lp)
        sys = self.sys
        price_idx, dem, rs, q, _ = sys.markets_at(self.last_a.ravel())
        supply = np.minimum(sys.x0 * np.exp(sys.eps_x * lp), sys.capacity)
        values = {
            "price": ev.p,
            "supply": np.where(sys.x_live, supply, 0.0),
            "capacity": sys.capacity,
            "price_index": price_idx,
            "demand": dem,
            "reshored": rs,
            "imports": q,
            "member": sys.member_m,
        }
        if sys.s_max is not None:  # the cap's rate per importer market (1: none)
            t1s = (
                np.ones(len(price_idx))
                if self.last_t1s is None
                else np.broadcast_to(self.last_t1s, self.last_a.shape).ravel()
            )
            values["tau_m"] = np.where(
                t1s > 0, t1s ** (1.0 / (1.0 - sys.sig_m)), np.inf
            )
        return values, float(ev.rel.max(initial=0.0))


def _newton(
    sys: _System, lp: np.ndarray, tol: float, iterations: int, max_iter: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Newton on log prices with each product's dense Jacobian
    ``J = U Sᵀ − diag(σ + ε·uncapped)``, ``U[e,m] = (p M[e,m] / p D_e)(σ + g_m)``,
    ``S[e,m] = s[e,m]`` (the price-index feedback through every importer), and a
    backtracking line search on ``‖f‖²`` per product (caps are kinks)."""
    done = np.zeros(sys.n_k, dtype=bool)
    t = np.ones(sys.n_k)
    ev = sys.evaluate(lp)
    blocks = _Blocks(sys)
    while iterations < max_iter:
        done |= np.bincount(sys.kx, ev.rel > tol, minlength=sys.n_k) == 0
        if done.all():
            break
        # An exporter with no demand at all (its buyers' imports crowded out by
        # reshoring) sits on a plateau: it walks its price down outside the search.
        flat = sys.x_live & (ev.dem_val <= 0) & ~done[sys.kx]
        dx = blocks.steps(sys, ev, done)
        dx[flat] = -_MAX_STEP
        f0 = np.where(flat, 0.0, ev.f)
        merit = np.bincount(sys.kx, f0 * f0, minlength=sys.n_k)
        t[:] = 1.0
        for _ in range(20):  # backtracking, per product
            trial = _clip_lp(lp + np.where(flat, 1.0, t[sys.kx]) * dx)
            ev_t = sys.evaluate(trial)
            ft = np.where(flat, 0.0, ev_t.f)
            m_t = np.bincount(sys.kx, ft * ft, minlength=sys.n_k)
            bad = ~done & ~(m_t <= (1.0 - 1e-4 * t) * merit) & (merit > 0)
            if not bad.any():
                break
            t = np.where(bad, t * 0.5, t)
        else:
            # No descent along the Newton direction (a kink or a plateau the
            # Jacobian cannot see): those products take a diagonal step instead.
            slope = ev.own_slope - np.where(ev.capped, 0.0, sys.eps_x)
            diag = np.clip(-ev.f / slope, -_MAX_STEP, _MAX_STEP)
            diag = np.where(np.isfinite(diag), diag, 0.0)
            trial = np.where(bad[sys.kx], _clip_lp(lp + diag), trial)
        lp = np.where(done[sys.kx], lp, trial)
        ev = sys.evaluate(lp)
        iterations += 1
    return lp, done, iterations


class _Blocks:
    """Each product's exporters and importers, for its dense Jacobian."""

    def __init__(self, sys: _System) -> None:
        order = np.argsort(sys.kx[sys.fx], kind="stable")
        kf = sys.kx[sys.fx][order]
        self.order = order
        self.lo = np.searchsorted(kf, np.arange(sys.n_k), side="left")
        self.hi = np.searchsorted(kf, np.arange(sys.n_k), side="right")
        self.ex: list[np.ndarray] = []
        self.xi: list[np.ndarray] = []
        self.mi: list[np.ndarray] = []
        self.nm: list[int] = []
        for k in range(sys.n_k):
            idx = order[self.lo[k] : self.hi[k]]
            ex, xi = np.unique(sys.fx[idx], return_inverse=True)
            im, mi = np.unique(sys.fm[idx], return_inverse=True)
            self.ex.append(ex)
            self.xi.append(xi)
            self.mi.append(mi)
            self.nm.append(len(im))

    def steps(self, sys: _System, ev: _Eval, done: np.ndarray) -> np.ndarray:
        """The full Newton step of every product not yet cleared (0 elsewhere)."""
        dx = np.zeros(sys.nx)
        for k in np.flatnonzero(~done):
            idx = self.order[self.lo[k] : self.hi[k]]
            if not len(idx):
                continue
            ex, xi, mi = self.ex[k], self.xi[k], self.mi[k]
            u = np.zeros((len(ex), self.nm[k]))
            s = np.zeros((len(ex), self.nm[k]))
            dv = ev.dem_val[ex]
            inv = np.where(dv > 0, 1.0 / np.where(dv > 0, dv, 1.0), 0.0)
            # one flow per (exporter, importer) of a product: plain assignment
            u[xi, mi] = ev.pm[idx] * ev.c[sys.fm[idx]] * inv[xi]
            s[xi, mi] = ev.shr[idx]
            jac = u @ s.T
            diag = sys.sig_x[ex] + np.where(ev.capped[ex], 0.0, sys.eps_x[ex])
            jac[np.diag_indices_from(jac)] -= diag
            lv = np.flatnonzero(sys.x_live[ex])
            j = jac[np.ix_(lv, lv)]
            rhs = -ev.f[ex[lv]]
            if not (np.all(np.isfinite(j)) and np.all(np.isfinite(rhs))):
                continue
            try:
                step = np.linalg.solve(j, rhs)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(j, rhs, rcond=None)[0]
            dx[ex[lv]] = np.clip(step, -_NEWTON_STEP, _NEWTON_STEP)
        return dx


class _Segments:
    """Sums over each product's exporter markets, and a product's value spread
    back over them: ``reduceat`` / ``repeat`` over contiguous runs when the
    markets are in product order (as the system builds them), ``bincount`` and a
    gather otherwise."""

    def __init__(self, kx: np.ndarray, n_k: int) -> None:
        self.kx, self.n_k = kx, n_k
        self.counts = np.bincount(kx, minlength=n_k)
        self.runs = bool(
            len(kx) and np.all(kx[1:] >= kx[:-1]) and np.all(self.counts > 0)
        )
        self.starts = np.cumsum(self.counts) - self.counts

    def any(self, w: np.ndarray) -> np.ndarray:
        """Per product: is ``w`` (bool) true on any of its markets."""
        if self.runs:
            return np.logical_or.reduceat(w, self.starts)
        return np.bincount(self.kx, w, minlength=self.n_k) > 0

    def sum(self, w: np.ndarray) -> np.ndarray:
        """Per product: the sum of ``w`` over its markets."""
        if self.runs:
            return np.add.reduceat(w, self.starts)
        return np.bincount(self.kx, w, minlength=self.n_k)

    def sum_rows(self, w: np.ndarray) -> np.ndarray:
        """``(r, nx)`` → ``(n_k, r)``: :meth:`sum` of every row."""
        if self.runs:
            return np.add.reduceat(w, self.starts, axis=1).T
        return np.stack([self.sum(row) for row in w], axis=1)

    def spread(self, g: np.ndarray) -> np.ndarray:
        """``(r, n_k)`` → ``(r, nx)``: each product's values on its markets."""
        if self.runs:
            return np.repeat(g, self.counts, axis=1)
        return g[:, self.kx]


class _Anderson:
    """Anderson acceleration of the diagonal-Newton map, one small least-squares
    problem per product market (Walker & Ni 2011, "Anderson acceleration for
    fixed-point iterations", SIAM J. Numer. Anal. 49(4)).

    With the last ``depth`` differences of iterates ΔX and of steps ΔF, each
    product takes ``x + f − (ΔX + ΔF) γ`` with γ minimising ``‖f − ΔF γ‖`` over
    its exporter markets. A product whose step grew restarts its history (caps
    are kinks the extrapolation must not jump across twice): its older columns
    are masked out. The columns sit in a ring of ``depth`` rows; per product the
    Gram matrix ΔFᵀΔF and ΔFᵀf are kept, so an iteration sums one row of products
    for the newest column (ΔFᵀ f follows from f = f_prev + Δf_newest) and one
    for the newest column's ΔFᵀf.
    """

    def __init__(self, kx: np.ndarray, n_k: int, depth: int = 5) -> None:
        self.kx, self.n_k, self.depth = kx, n_k, depth
        self.seg = _Segments(kx, n_k)
        # float32: the history only chooses the step (the residual is computed in
        # float64 every iteration); half the bytes took a tenth off the G7 solve
        self.df = np.zeros((depth, len(kx)), dtype=np.float32)  # ΔF per column
        self.dxf = np.zeros((depth, len(kx)), dtype=np.float32)  # ΔX + ΔF
        self.stamp = np.full(depth, -1, dtype=np.int64)  # iteration of each column
        self.gram = np.zeros((n_k, depth, depth))  # ΔFᵀΔF per product
        self.rhs = np.zeros((n_k, depth))  # ΔFᵀ f (the last f) per product
        self.since = np.zeros(n_k, dtype=np.int64)  # a product's last restart
        self.it = 0
        self.prev: tuple[np.ndarray, np.ndarray] | None = None
        self.norm = np.full(n_k, np.inf)

    def subset(
        self, keep_x: np.ndarray, keep_k: np.ndarray, kx: np.ndarray
    ) -> _Anderson:
        """The history of the kept products (masks over x and k), reindexed."""
        new = _Anderson(kx, int(keep_k.sum()), self.depth)
        new.df = self.df[:, keep_x]
        new.dxf = self.dxf[:, keep_x]
        new.stamp = self.stamp.copy()
        new.gram = self.gram[keep_k]
        new.rhs = self.rhs[keep_k]
        new.since = self.since[keep_k]
        new.it = self.it
        if self.prev is not None:
            new.prev = (self.prev[0][keep_x], self.prev[1][keep_x])
        new.norm = self.norm[keep_k]
        return new

    def next(self, x: np.ndarray, f: np.ndarray, active: np.ndarray) -> np.ndarray:
        seg = self.seg
        self.it += 1
        norm = seg.sum(f * f)
        restart = norm > 4.0 * self.norm  # the step grew: drop the history
        self.norm = norm
        self.since[restart] = self.it
        if self.prev is not None:
            px, pf = self.prev
            slot = (self.it - 2) % self.depth
            d_f = f - pf
            self.df[slot] = d_f
            self.dxf[slot] = (x - px) + d_f
            self.stamp[slot] = self.it
            g = seg.sum_rows(self.df * d_f)  # (n_k, depth): Δf_i · Δf_new
            self.gram[:, slot, :] = g
            self.gram[:, :, slot] = g
            self.rhs += g  # Δf_i · f = Δf_i · f_prev + Δf_i · Δf_new
            self.rhs[:, slot] = seg.sum(d_f * f)
        self.prev = (x, f)
        if self.it == 1:
            return x + f
        # a column made before a product's last restart is not in its history
        valid = self.stamp[None, :] > self.since[:, None]
        gram = self.gram * (valid[:, :, None] & valid[:, None, :])
        rhs = self.rhs * valid
        trace = np.trace(gram, axis1=1, axis2=2)
        reg = 1e-10 * trace + 1e-300
        gram += reg[:, None, None] * np.eye(self.depth)
        use = active & (trace > 0)
        gamma = np.zeros((self.n_k, self.depth))
        if use.any():
            gamma[use] = np.linalg.solve(gram[use], rhs[use][:, :, None])[:, :, 0]
        step = seg.spread(np.ascontiguousarray(gamma.T))
        step *= self.dxf
        return x + f - step.sum(axis=0)


def _tile_index(idx: np.ndarray, size: int, n: int) -> np.ndarray:
    """``idx`` repeated for ``n`` draws, shifted by ``size`` per draw."""
    if n == 1:
        return idx
    return (idx[None, :] + (np.arange(n) * size)[:, None]).ravel()


def _label(labels: np.ndarray, codes: np.ndarray, n: int) -> pl.Series:
    """``labels[codes]`` repeated for ``n`` draws, as a polars String column.

    A gather from the few labels, not a numpy array of strings: turning a numpy
    str array of every flow into a polars column costs more than the solve.
    """
    idx = np.tile(codes, n) if n > 1 else codes
    return pl.Series(labels.tolist(), dtype=pl.String).gather(idx)


def _dense_ids(key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct keys and each key's position among them (what
    ``np.unique(key, return_inverse=True)`` gives) through a table of ``size``
    slots: O(n), where the sort of np.unique took seconds over 10 M flows."""
    if not len(key) or size > 8 * len(key) + 1_000_000:
        return np.unique(key, return_inverse=True)
    seen = np.zeros(size, dtype=bool)
    seen[key] = True
    slot = np.cumsum(seen, dtype=np.int64) - 1
    return np.flatnonzero(seen), slot[key]


def _codes(values: pl.Series, labels: pl.Series) -> np.ndarray:
    """Positions of ``values`` in the sorted unique ``labels``."""
    return labels.search_sorted(values).to_numpy().astype(np.int64)
