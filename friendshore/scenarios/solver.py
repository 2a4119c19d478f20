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
iteration on ``log demand − log supply`` with the exact own-price derivative of
each exporter market (the diagonal of the Jacobian, price-index feedback
included); cross effects make it converge linearly, in a few dozen iterations for
real trade years. All products (and all uncertainty draws, stacked as copies of
the markets) are solved side by side in flat numpy arrays over the flows: one
iteration costs a few gathers and ``bincount`` sums over the flows, and products
that have cleared drop out of the working set. It stops when every exporter's
market clears to ``tol`` of that exporter's baseline exports.

The public surface is :class:`Markets` (the baseline, built once),
:class:`Policy`, :class:`Elasticities`, :class:`Draws`, :func:`solve` and the
:class:`Solution` it returns; :mod:`friendshore.scenarios.simulate` builds the
baseline from the store and the result tables from a solution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl

PolicyKind = Literal["ban", "tariff", "cap"]

TOL = 1e-9  # every exporter market clears to this fraction of its baseline exports
MAX_ITER = 2000
_MAX_STEP = 2.0  # largest change of a log price in one iteration


class NoEquilibrium(RuntimeError):
    """The iteration did not reach the tolerance within ``max_iter``."""


@dataclass(frozen=True)
class Elasticities:
    """σ (substitution between origins, > 1), η (total demand, ≥ 0), ε (export
    supply, ≥ 0). Defaults and their sources: :mod:`friendshore.scenarios.model`."""

    substitution: float = 4.0
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

    products: np.ndarray  # labels, object
    countries: np.ndarray  # labels, object
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
        products = np.asarray(products, dtype=object)
        countries = np.asarray(countries, dtype=object)
        k = np.asarray(product, dtype=np.int64)
        e = np.asarray(exporter, dtype=np.int64)
        i = np.asarray(importer, dtype=np.int64)
        val = np.asarray(value, dtype=np.float64)
        nc = max(len(countries), 1)
        xkey, flow_x = np.unique(k * nc + e, return_inverse=True)
        mkey, flow_m = np.unique(k * nc + i, return_inverse=True)
        x0 = np.bincount(flow_x, val, minlength=len(xkey))
        v = np.bincount(flow_m, val, minlength=len(mkey))
        return cls(
            products=products,
            countries=countries,
            flow_x=flow_x.astype(np.int64),
            flow_m=flow_m.astype(np.int64),
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
        return np.isin(self.countries, np.asarray(sorted(codes), dtype=object))


@dataclass(frozen=True, eq=False)
class Solution:
    """The equilibrium of every market (per draw when solved with draws).

    Arrays are stacked by draw: exporter-market arrays have ``draws × len(x0)``
    entries (draw-major), importer-market arrays ``draws × len(v)``, flow arrays
    ``draws × n_flows``. Quantities are in baseline USD.
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
    tau: np.ndarray  # τ per flow (inf: banned)
    quantity: np.ndarray  # M[e,m] per flow
    member: np.ndarray  # per importer market: is the importer a coalition member
    concern_flow: np.ndarray  # per flow: exporter in the concern group
    iterations: int
    max_residual: float  # largest |Σ_m M − X| / X0 over exporter markets

    def importers(self) -> pl.DataFrame:
        """One row per (draw, product, importer): baseline and scenario figures.

        Columns: draw, product, importer, member, import_value_usd,
        scenario_import_value_usd, price_index, import_quantity_usd (Q),
        reshored_quantity_usd (S), concern_value_usd, scenario_concern_value_usd,
        sum_sq_usd, scenario_sum_sq_usd (Σ of squared supplier values, for HHI),
        quota_rent_usd.
        """
        mk = self.markets
        nm = len(mk.v)
        d = self.draws
        fm = _tile_index(mk.flow_m, nm, d)
        fx = _tile_index(mk.flow_x, len(mk.x0), d)
        p = self.price[fx]
        tau = np.where(np.isfinite(self.tau), self.tau, 1.0)
        paid = tau * p * self.quantity  # at the prices the importer pays
        base = np.tile(mk.value, d)
        conc = self.concern_flow
        size = nm * d
        cv = np.bincount(fm, np.where(conc, base, 0.0), minlength=size)
        scv = np.bincount(fm, np.where(conc, paid, 0.0), minlength=size)
        rent = np.bincount(fm, (tau - 1.0) * p * self.quantity, minlength=size)
        return pl.DataFrame(
            {
                "draw": np.repeat(np.arange(d, dtype=np.int32), nm),
                "product": np.tile(mk.products[mk.m_product], d),
                "importer": np.tile(mk.countries[mk.m_country], d),
                "member": self.member,
                "import_value_usd": np.tile(mk.v, d),
                "scenario_import_value_usd": np.bincount(fm, paid, minlength=size),
                "price_index": self.price_index,
                "import_quantity_usd": self.imports,
                "reshored_quantity_usd": self.reshored,
                "concern_value_usd": cv,
                "scenario_concern_value_usd": scv,
                "sum_sq_usd": np.bincount(fm, base * base, minlength=size),
                "scenario_sum_sq_usd": np.bincount(fm, paid * paid, minlength=size),
                "quota_rent_usd": rent,
            },
            nan_to_null=False,
        )

    def exporters(self) -> pl.DataFrame:
        """One row per (draw, product, exporter): draw, product, exporter,
        export_value_usd (X0), price (p), export_quantity_usd (X), capacity_usd (K)."""
        mk = self.markets
        nx, d = len(mk.x0), self.draws
        return pl.DataFrame(
            {
                "draw": np.repeat(np.arange(d, dtype=np.int32), nx),
                "product": np.tile(mk.products[mk.x_product], d),
                "exporter": np.tile(mk.countries[mk.x_country], d),
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
                "product": np.tile(mk.products[mk.x_product[mk.flow_x]], d),
                "exporter": np.tile(mk.countries[mk.x_country[mk.flow_x]], d),
                "importer": np.tile(mk.countries[mk.m_country[mk.flow_m]], d),
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

    Raises
    ------
    ValueError
        An elasticity or policy the model cannot take (σ ≤ 1, negative values, a
        coalition naming the concern, reshoring_cost ≤ 1).
    NoEquilibrium
        The iteration did not converge within ``max_iter``.
    """
    policy.check()
    if draws is None:
        elasticities.check(ban=policy.kind == "ban")
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
            Elasticities(float(s), float(h), float(e)).check(ban=policy.kind == "ban")
        if np.any(cap_d < 0):
            raise ValueError("capacity scale must not be negative")
    mk = markets
    nx, nm = len(mk.x0), len(mk.v)

    # --- per-market data, stacked over draws ------------------------------------
    concern_c = mk.country_mask(policy.concern)
    member_c = mk.country_mask(policy.coalition)
    eligible_c = mk.country_mask(policy.eligible) & ~concern_c
    expansion_c = np.where(eligible_c, policy.capacity_expansion, 0.0)
    for code, value in policy.capacity_by_supplier.items():
        hit = mk.countries == code
        expansion_c = np.where(hit & eligible_c, value, expansion_c)

    x0 = np.tile(mk.x0, nd)
    xdraw = np.repeat(np.arange(nd), nx)
    capacity = x0 * (1.0 + np.tile(expansion_c[mk.x_country], nd) * cap_d[xdraw])
    eps_x = eps_d[xdraw]
    v = np.tile(mk.v, nd)
    mdraw = np.repeat(np.arange(nd), nm)
    sig_m, eta_m = sig_d[mdraw], eta_d[mdraw]
    member_m = np.tile(member_c[mk.m_country], nd)
    res_cap = np.where(member_m, policy.reshoring * v, 0.0)
    c_r = policy.reshoring_cost

    fx = _tile_index(mk.flow_x, nx, nd)
    fm = _tile_index(mk.flow_m, nm, nd)
    theta = np.tile(mk.theta, nd)
    sig_f = sig_m[fm]
    concern_f = np.tile(concern_c[mk.x_country[mk.flow_x]], nd)
    target = concern_f & member_m[fm]  # flows the policy acts on

    # τ per flow and the constant factors of the flow terms.
    tau = np.ones(len(fx))
    if policy.kind == "ban":
        tau[target] = np.inf
    elif policy.kind == "tariff":
        tau[target] = 1.0 + policy.tariff
    live = np.isfinite(tau)
    # w = θ (τ p)^(1−σ) = a · p^(1−σ); M = Q P^σ (τ p)^(−σ) θ = Q P^σ w / (τ p)
    tau_l = np.where(live, tau, 1.0)
    a = np.where(live, theta * tau_l ** (1.0 - sig_f), 0.0)
    b = np.where(live, 1.0 / tau_l, 0.0)
    cap_policy = policy.kind == "cap"
    if cap_policy:
        s_max = policy.max_concern_share
        cap_flows = np.flatnonzero(target)
        is_cap = np.zeros(len(fx), dtype=bool)
        is_cap[cap_flows] = True

    # Exporter markets with no flow left end at price 0 and export 0.
    x_live = np.bincount(fx, live.astype(np.float64), minlength=nx * nd) > 0
    lp = np.zeros(nx * nd)  # log prices
    sig_x = sig_d[xdraw]

    # Products (× draws) still iterating; a product is cleared when all its
    # exporter markets are within tol.
    kx = np.tile(mk.x_product, nd) + xdraw * len(mk.products)
    n_mk = len(mk.products) * nd
    active_f = np.arange(len(fx))
    tau_m = np.ones(nm * nd)
    iterations = 0
    # Nothing to solve: no flow is targeted (or a zero tariff) → the baseline.
    trivial = (
        not np.any(target)
        or (policy.kind == "tariff" and policy.tariff == 0)
        or (cap_policy and s_max >= 1)
    )
    done_k = np.zeros(n_mk, dtype=bool)
    if trivial:
        done_k[:] = True
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        while True:
            f_ = active_f
            afx, afm = fx[f_], fm[f_]
            p = np.where(x_live, np.exp(lp), 0.0)
            p1s = np.where(x_live, np.exp(lp * (1.0 - sig_x)), 0.0)
            w = a[f_] * p1s[afx]
            if cap_policy:
                t1s, tau_m = _cap_tau(
                    s_max, p1s, a, fx, fm, f_, w, cap_flows, sig_m, nm * nd
                )
                cf = is_cap[f_]
                w = np.where(cf, w * t1s[afm], w)
                bf = np.where(cf, np.where(t1s[afm] > 0, 1.0 / tau_m[afm], 0.0), b[f_])
            else:
                bf = b[f_]
            big_a = np.bincount(afm, w, minlength=nm * nd)  # P^(1−σ)
            none = big_a <= 0
            price_idx = np.where(none, np.inf, big_a ** (1.0 / (1.0 - sig_m)))
            dem = np.where(none & (eta_m > 0), 0.0, v * price_idx ** (-eta_m))
            dem = np.where(none & (eta_m == 0), v, dem)
            frac = np.clip((price_idx - 1.0) / (c_r - 1.0), 0.0, 1.0)
            frac = np.where(none, 1.0, frac)
            rs = np.minimum(dem, res_cap * frac)
            q = np.where(none, 0.0, dem - rs)
            # Demand slope of Q in log P: g = dlogQ/dlogP.
            in_ramp = (price_idx > 1.0) & (price_idx < c_r) & (rs < dem) & (res_cap > 0)
            d_s = np.where(in_ramp, res_cap * price_idx / (c_r - 1.0), 0.0)
            g = np.where(q > 0, (-eta_m * dem - d_s) / q, 0.0)
            qp = np.where(none, 0.0, q * price_idx**sig_m)  # Q P^σ
            # M / (τ p) … M = qp · w / (τ p): per flow value at exporter price p·M = qp·w·b
            pm = qp[afm] * w * bf  # p_e M[e,m]
            dem_val = np.bincount(afx, pm, minlength=nx * nd)  # p_e Σ_m M
            shr = np.where(none, 0.0, 1.0 / big_a)[afm] * w  # s[e,m]
            own = np.bincount(afx, pm * ((sig_m + g)[afm] * shr), minlength=nx * nd)
            demand_x = np.where(p > 0, dem_val / p, 0.0)
            sup_free = x0 * p**eps_x
            capped = sup_free >= capacity
            sup = np.where(capped, capacity, sup_free)
            sup = np.where(x_live, sup, 0.0)
            resid = np.where(x_live, np.abs(demand_x - sup), 0.0)
            rel = np.where(x0 > 0, resid / x0, 0.0)
            bad = rel > tol
            if not trivial:
                done_k = np.bincount(kx, bad, minlength=n_mk) == 0
            if done_k.all() or iterations >= max_iter:
                break
            # Newton step on f = log D − log X with the exact diagonal.
            dlog = np.log(demand_x) - np.log(sup)
            slope_d = np.where(dem_val > 0, own / dem_val, 0.0) - sig_x
            slope = slope_d - np.where(capped, 0.0, eps_x)
            step = np.clip(-dlog / slope, -_MAX_STEP, _MAX_STEP)
            step = np.where(x_live & ~done_k[kx] & np.isfinite(step), step, 0.0)
            lp = lp + step
            iterations += 1
            # Drop cleared products' flows from the working set when it pays.
            keep = ~done_k[kx[fx[active_f]]]
            if keep.mean() < 0.6:
                active_f = active_f[keep]
                if not len(active_f):
                    active_f = np.arange(len(fx))
                    done_k[:] = True
                    break
    if not done_k.all() and not trivial:
        raise NoEquilibrium(
            f"no equilibrium to {tol:g} after {iterations} iterations "
            f"(largest residual {float(rel.max(initial=0.0)):.3g} of a market)"
        )
    # Final pass over every flow at the converged prices.
    return _finish(
        mk,
        policy,
        nd,
        lp,
        x_live,
        sig_x,
        sig_m,
        eta_m,
        eps_x,
        x0,
        capacity,
        v,
        member_m,
        res_cap,
        c_r,
        fx,
        fm,
        a,
        b,
        tau,
        concern_f,
        target,
        tau_m if cap_policy else None,
        iterations,
    )


def _finish(
    mk: Markets, policy: Policy, nd: int, lp: np.ndarray, x_live: np.ndarray,
    sig_x: np.ndarray, sig_m: np.ndarray, eta_m: np.ndarray, eps_x: np.ndarray,
    x0: np.ndarray, capacity: np.ndarray, v: np.ndarray, member_m: np.ndarray,
    res_cap: np.ndarray, c_r: float, fx: np.ndarray, fm: np.ndarray, a: np.ndarray,
    b: np.ndarray, tau: np.ndarray, concern_f: np.ndarray, target: np.ndarray,
    tau_m: np.ndarray | None, iterations: int,
) -> Solution:  # fmt: skip
    """Every quantity at the final prices, over all flows."""
    nx, nm = len(mk.x0) * nd, len(mk.v) * nd
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        p = np.where(x_live, np.exp(lp), 0.0)
        p1s = np.where(x_live, np.exp(lp * (1.0 - sig_x)), 0.0)
        w = a * p1s[fx]
        tau = tau.copy()
        if tau_m is not None:
            all_f = np.arange(len(fx))
            _, tau_m = _cap_tau(
                policy.max_concern_share,
                p1s,
                a,
                fx,
                fm,
                all_f,
                w,
                np.flatnonzero(target),
                sig_m,
                nm,
            )
            t = tau_m[fm]
            tau = np.where(target, t, tau)
            fin = np.isfinite(t)
            w = np.where(target, np.where(fin, w * t ** (1.0 - sig_m[fm]), 0.0), w)
            b = np.where(target, np.where(fin, 1.0 / t, 0.0), b)
        big_a = np.bincount(fm, w, minlength=nm)
        none = big_a <= 0
        price_idx = np.where(none, np.inf, big_a ** (1.0 / (1.0 - sig_m)))
        dem = np.where(none & (eta_m > 0), 0.0, v * price_idx ** (-eta_m))
        dem = np.where(none & (eta_m == 0), v, dem)
        frac = np.where(none, 1.0, np.clip((price_idx - 1.0) / (c_r - 1.0), 0.0, 1.0))
        rs = np.minimum(dem, res_cap * frac)
        q = np.where(none, 0.0, dem - rs)
        qp = np.where(none, 0.0, q * price_idx**sig_m)
        pm = qp[fm] * w * b  # p_e M
        quantity = np.where(p[fx] > 0, pm / p[fx], 0.0)
        demand_x = np.bincount(fx, quantity, minlength=nx)
        sup = np.where(x_live, np.minimum(x0 * p**eps_x, capacity), 0.0)
        rel = np.where(x0 > 0, np.abs(demand_x - sup) / x0, 0.0)
    return Solution(
        markets=mk,
        policy=policy,
        draws=nd,
        price=p,
        supply=sup,
        capacity=capacity,
        price_index=price_idx,
        demand=dem,
        reshored=rs,
        imports=q,
        tau=tau,
        quantity=quantity,
        member=member_m,
        concern_flow=concern_f,
        iterations=iterations,
        max_residual=float(rel.max(initial=0.0)),
    )


def _cap_tau(
    s_max: float, p1s: np.ndarray, a: np.ndarray, fx: np.ndarray, fm: np.ndarray,
    f_: np.ndarray, w: np.ndarray, cap_flows: np.ndarray, sig_m: np.ndarray, nm: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Each member market's τ_m^(1−σ) and τ_m ≥ 1, so that the concern's share of
    its imports at the prices it pays is at most ``s_max`` (given exporter prices).

    With A the concern's and B the others' Σ θ p^(1−σ): τ^(1−σ) A / (τ^(1−σ) A + B)
    ≤ s ⇔ τ^(1−σ) ≤ s B / ((1 − s) A).
    """
    ms = fm[cap_flows]
    conc = np.bincount(ms, a[cap_flows] * p1s[fx[cap_flows]], minlength=nm)
    rest = np.bincount(fm[f_], w, minlength=nm) - conc
    t1s = np.ones(nm)
    members = np.unique(ms)
    c, r = conc[members], np.maximum(rest[members], 0.0)
    if s_max <= 0:
        t1s[members] = np.where(c > 0, 0.0, 1.0)
    else:
        ratio = np.where(
            c > 0, s_max * r / np.where(c > 0, (1.0 - s_max) * c, 1.0), 1.0
        )
        t1s[members] = np.minimum(1.0, ratio)
    tau_m = np.where(t1s > 0, t1s ** (1.0 / (1.0 - sig_m)), np.inf)
    return t1s, tau_m


def _tile_index(idx: np.ndarray, size: int, n: int) -> np.ndarray:
    """``idx`` repeated for ``n`` draws, shifted by ``size`` per draw."""
    if n == 1:
        return idx
    return (idx[None, :] + (np.arange(n) * size)[:, None]).ravel()


def _codes(values: pl.Series, labels: pl.Series) -> np.ndarray:
    """Positions of ``values`` in the sorted unique ``labels``."""
    return labels.search_sorted(values).to_numpy().astype(np.int64)
