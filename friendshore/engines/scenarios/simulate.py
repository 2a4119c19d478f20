"""Scenarios against the store: the baseline, the coalition, the result tables.

Each :class:`~friendshore.engines.scenarios.model.Scenario` is pinned to data — the year
and loads (as the exposure metrics choose them), the products (industry map, in
the store's HS revision), the registry groups as of the year. Every flow of those
products in that year is fetched once, coded (``queries/simulate_markets.sql``), into a
:class:`~friendshore.engines.scenarios.solver.Markets` shared by the scenarios that read
the same data, and :func:`~friendshore.engines.scenarios.solver.solve` clears every
product's world market under the scenario's policy. The result is one table with
a ``scenario`` column: one row per coalition member × product (or industry), or
with ``by="exporter"`` one row per exporter × product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from friendshore._assets import query_sql
from friendshore.engines.scenarios.model import ALL, Scenario, check_names, locate
from friendshore.engines.scenarios.solver import (
    Draws,
    Elasticities,
    Markets,
    NoEquilibrium,
    Policy,
    Solution,
    _dense_ids,
    solve,
)
from friendshore.errors import ParameterError
from friendshore.reference import countries
from friendshore.reference.industries import IndustryMap, load_industries
from friendshore.reference.registry import Registry, load_registry
from friendshore.selection import Selection

if TYPE_CHECKING:
    from friendshore.store import Store

Level = Literal["product", "industry"]
By = Literal["importer", "exporter"]

HS_LIST_LABEL = "(hs list)"  # the ``industry`` of a scenario given as HS codes
ALL_PRODUCTS_LABEL = "(all products)"
ADVERSARIES = "foreign-adversaries"  # never eligible by default

IMPORTER_KEY = ["scenario", "coalition", "importer", "year", "hs6"]
EXPORTER_KEY = ["scenario", "coalition", "exporter", "year", "hs6"]
# Result columns (DESIGN.md, "Scenario model"); USD and tonnes sum in a roll-up,
# the rest are weighted by the baseline value.
IMPORTER_USD = [
    "import_value_usd",
    "scenario_import_value_usd",
    "consumer_surplus_change_usd",
    "reshored_usd",
    "quota_rent_usd",
    "import_t",
    "scenario_import_t",
]
IMPORTER_RATES = [
    "import_price_change_pct",
    "import_quantity_change_pct",
    "concern_share",
    "scenario_concern_share",
    "hhi",
    "scenario_hhi",
]
EXPORTER_USD = [
    "export_value_usd",
    "scenario_export_value_usd",
    "producer_surplus_change_usd",
    "export_t",
    "scenario_export_t",
]
EXPORTER_RATES = ["price_change_pct", "export_quantity_change_pct"]
STATS = (("p5", 0.05), ("p50", 0.5), ("p95", 0.95))


@dataclass(frozen=True)
class Pinned:
    """A scenario pinned to the store: the loads of its year, HS revision, products."""

    scenario: Scenario
    year: int
    selection: dict[str, Any]  # Selection.loads.params(): all_loads, keys, years
    hs_revision: str
    products: tuple[str, ...]  # empty: every six-digit product the store holds
    labels: pl.DataFrame  # hs6, industry (empty for HS lists / all products)

    @property
    def batch(self) -> tuple[Any, ...]:
        """Scenarios reading the same loads and products share one baseline."""
        return (self.year, tuple(self.selection["keys"]), self.products)


def simulate(
    store: Store,
    scenarios: Sequence[Scenario],
    *,
    registry: Registry | None = None,
    industries: IndustryMap | None = None,
    level: Level = "product",
    by: By = "importer",
    source: str | None = None,
) -> pl.DataFrame:
    """Run scenarios side by side; one table with a ``scenario`` column.

    Parameters
    ----------
    store
        An open store (read-only is enough).
    scenarios
        Validated scenarios (:func:`friendshore.engines.scenarios.model.load_scenario`);
        names must be distinct.
    registry, industries
        Default: the bundled registry and industry map.
    level
        ``product`` (one row per HS6) or ``industry`` (value-weighted roll-up).
    by
        ``importer``: one row per coalition member; ``exporter``: one row per
        exporter of the products (what the policy does to suppliers, the concern
        included).
    source
        Trade source to read (``baci``, ``comtrade``, ``table:…``); default: the
        exposure metrics' choice per year.

    Returns
    -------
    polars.DataFrame
        Keys ``scenario, coalition, importer|exporter, year, hs6|industry`` and the
        result columns of DESIGN.md. With ``[uncertainty]`` three rows per key with
        ``stat`` = p5 / p50 / p95 (a scenario without draws has the three equal).

    Raises
    ------
    ParameterError
        Duplicate names, a year or source the store does not hold, a coalition that
        names the concern, an override for a supplier that is not eligible.
    """
    registry = load_registry() if registry is None else registry
    industries = load_industries() if industries is None else industries
    seen: set[str] = set()
    for sc in scenarios:
        check_names(sc, groups=registry.group_names(), industries=industries.names())
        if sc.name in seen:
            raise ParameterError(f"{sc.source}: two scenarios are named {sc.name!r}")
        seen.add(sc.name)
    pinned = [_pin(store, sc, source, registry, industries) for sc in scenarios]
    baselines: dict[tuple[Any, ...], tuple[Markets, np.ndarray]] = {}
    parts = []
    for p in pinned:
        if p.batch not in baselines:
            baselines[p.batch] = baseline(store, p)
        markets, units = baselines[p.batch]
        if markets.n_flows == 0:
            continue  # named on stderr by the CLI (no flows, no rows)
        sol = run(p.scenario, markets, registry, p.year)
        table = (
            importer_table(sol, p.scenario, p.year, units)
            if by == "importer"
            else exporter_table(sol, p.scenario, p.year, units)
        )
        if level == "industry":
            table = _rollup(table, _labels(p, table), by)
        parts.append(table)
    out = pl.concat(parts, how="vertical") if parts else _empty(by, level)
    keys = _keys(by, level)
    if any(sc.uncertainty is not None for sc in scenarios):
        return _summarise(out, keys)
    return out.drop("draw")


def _keys(by: By, level: Level) -> list[str]:
    keys = list(IMPORTER_KEY if by == "importer" else EXPORTER_KEY)
    if level == "industry":
        keys[-1] = "industry"
    return keys


def _empty(by: By, level: Level) -> pl.DataFrame:
    cols = (
        IMPORTER_USD + IMPORTER_RATES
        if by == "importer"
        else EXPORTER_USD + EXPORTER_RATES
    )
    schema: dict[str, Any] = dict.fromkeys(_keys(by, level), pl.String)
    schema["year"] = pl.Int64
    schema["draw"] = pl.Int32
    schema.update(dict.fromkeys(cols, pl.Float64))
    return pl.DataFrame(schema=schema)


def baseline(store: Store, p: Pinned) -> tuple[Markets, np.ndarray]:
    """The world markets of a pinned scenario's products and year, and each
    exporter market's unit value (USD per tonne; NaN where no tonnes are
    reported).

    The store hands over coded rows (``queries/simulate_markets.sql``: hs key and
    country ids, no strings, no aggregation); labels are looked up for the few
    distinct products and countries only. Sorted by key, the products and the
    importer markets are runs of the key's leading parts; the exporter markets go
    through a lookup table. Every pass over the flows makes as few flow-sized
    arrays as it can: fresh memory costs more than the arithmetic here (a page
    fault per 4 KiB, ~40 ms per 10 M doubles).
    """
    rows = _coded_rows(
        store.pl(query_sql("simulate_markets"), p.selection | _hs_params(p))
    )
    key, value, tonnes = rows["key"], rows["value_usd"], rows["quantity_t"]
    n = len(key)
    # products: runs of the hs part (key >> 32)
    hs = key >> 32
    new_k = _run_starts(hs)
    prod_codes = hs[new_k]
    del hs
    k = np.cumsum(new_k, dtype=np.int32)
    k -= 1
    # importer markets: runs of the (hs, importer) part (key >> 16)
    hm = key >> 16
    new_m = _run_starts(hm)
    m_first = np.flatnonzero(new_m)
    imp_ids = hm[m_first] & 0xFFFF
    del hm
    flow_m = np.cumsum(new_m, dtype=np.int64)
    flow_m -= 1
    del new_m
    # countries: the ids that trade, by id
    ids = store.country_positions()  # row r: id r + 1
    iso3 = ids["iso3"].fill_null("").to_numpy()
    exp_ids = key & 0xFFFF
    used = np.zeros(len(iso3) + 1, dtype=bool)
    used[imp_ids] = True
    used[exp_ids] = True
    pos = (np.cumsum(used) - 1).astype(np.int32)
    countries = iso3[np.flatnonzero(used) - 1]
    nc, nk = max(len(countries), 1), len(prod_codes)
    # exporter markets: (product, exporter) numbered through a lookup table
    xkey = pos[exp_ids]
    del exp_ids
    key_dtype = np.dtype(np.int32 if nk * nc < 2**31 else np.int64)
    xkey = xkey.astype(key_dtype, copy=False)
    xkey += np.multiply(k, nc, dtype=key_dtype)  # k itself stays the product index
    x_keys, flow_x = _dense_ids(xkey, nk * nc)
    del xkey
    # V per importer market, and θ = value / V of its market per flow
    v = np.add.reduceat(value, m_first) if n else np.zeros(0)
    theta = np.repeat(v, np.diff(np.append(m_first, n)))
    np.divide(value, theta, out=theta)
    x0 = np.bincount(flow_x, value, minlength=len(x_keys))
    labels = (
        store.pl(query_sql("hs_labels"), {"codes": prod_codes.tolist()})
        if nk
        else pl.DataFrame({"hs6": []}, schema={"hs6": pl.String})
    )
    markets = Markets(
        products=np.asarray(labels["hs6"].to_numpy(), dtype=str),
        countries=np.asarray(countries, dtype=str),
        flow_x=flow_x.astype(np.int64, copy=False),
        flow_m=flow_m,
        value=value,
        x_product=(x_keys // nc).astype(np.int64),
        x_country=(x_keys % nc).astype(np.int64),
        m_product=k[m_first].astype(np.int64),
        m_country=pos[imp_ids].astype(np.int64),
        x0=x0,
        v=v,
        theta=theta,
    )
    # unit value per exporter market over the rows that report tonnes (NaN: none)
    nx = len(x0)
    value_q = rows.get("value_q_usd")
    vq = np.bincount(
        flow_x, value * (tonnes > 0) if value_q is None else value_q, minlength=nx
    )
    qt = np.bincount(flow_x, tonnes, minlength=nx)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = vq / qt
    units = np.where(np.isfinite(unit) & (unit > 0), unit, np.nan)
    return markets, units


def _run_starts(a: np.ndarray) -> np.ndarray:
    """Per element of a sorted array: does a new value start there."""
    new = np.empty(len(a), dtype=bool)
    new[:1] = True
    np.not_equal(a[1:], a[:-1], out=new[1:])
    return new


def _coded_rows(rows: pl.DataFrame) -> dict[str, np.ndarray]:
    """The coded rows sorted by ``key`` (hs × 2^32 + importer id × 2^16 +
    exporter id), one entry per key, with ``value_usd`` and ``quantity_t``; a key
    that several loads hold is summed, and then ``value_q_usd`` (the value of the
    rows that report tonnes, for unit values) comes too. One in-memory sort of
    the int64 key (0.3 s over 10 M rows) replaces DuckDB's GROUP BY and ORDER BY
    (2 s)."""
    key = rows["key"].to_numpy()
    order = np.argsort(key)
    key = key[order]
    value = rows["value_usd"].to_numpy()[order]
    tonnes = rows["quantity_t"].to_numpy()[order]
    del order
    cols = {"value_usd": value, "quantity_t": tonnes}
    if len(key) and not np.all(key[1:] != key[:-1]):
        starts = np.flatnonzero(_run_starts(key))
        cols["value_q_usd"] = value * (tonnes > 0)
        key = key[starts]
        cols = {name: np.add.reduceat(col, starts) for name, col in cols.items()}
    return {"key": key, **cols}


def _hs_params(p: Pinned) -> dict[str, Any]:
    return {"all_hs": not p.products, "hs": list(p.products)}


def resolve_policy(
    sc: Scenario, markets: Markets, registry: Registry, year: int
) -> Policy:
    """The scenario's coalition, concern and eligible suppliers as of ``year``.

    Residual areas (``XRW``, ``X…`` "nes" codes) are never coalition members,
    concern members or eligible suppliers: they are trade of unknown partners.
    """
    concern = frozenset(registry.members(sc.concern, year))
    traders = [str(c) for c in markets.countries]
    named = {c for c in traders if _is_country(c)}
    coalition: set[str] = set()
    for item in sc.coalition:
        if item == ALL:
            coalition |= named - concern
        elif countries.lookup(item) is not None:
            coalition.add(item)
        else:
            members = registry.members(item, year)
            if not members:
                raise ParameterError(
                    f"{locate(sc, 'coalition')}: group {item!r} has no members in {year}"
                )
            coalition.update(members)
    if both := sorted(coalition & concern):
        raise ParameterError(
            f"{locate(sc, 'coalition')}: the coalition names the concern "
            f"({', '.join(both)} in {sc.concern!r} in {year})"
        )
    if sc.eligible is None:
        eligible = named - concern - set(registry.members(ADVERSARIES, year))
    else:
        eligible = set()
        for group in sc.eligible:
            eligible.update(registry.members(group, year))
        eligible = {c for c in eligible if _is_country(c)} - concern
    overrides = dict(sc.capacity_expansion_by_supplier)
    for iso3 in overrides:
        if iso3 not in eligible:
            why = "a concern member" if iso3 in concern else "not an eligible supplier"
            raise ParameterError(
                f"{locate(sc, f'capacity_expansion_by_supplier.{iso3}')}: "
                f"{iso3} is {why} in {year}"
            )
    return Policy(
        coalition=frozenset(c for c in coalition if _is_country(c)),
        concern=frozenset(concern),
        kind=sc.policy,  # type: ignore[arg-type]
        tariff=sc.tariff,
        max_concern_share=sc.max_concern_share,
        eligible=frozenset(eligible),
        capacity_expansion=sc.capacity_expansion,
        capacity_by_supplier=overrides,
        reshoring=sc.reshoring,
        reshoring_cost=sc.reshoring_cost,
    )


def _is_country(code: str) -> bool:
    """A named country: not a residual area (countries.is_residual), not an aggregate."""
    entry = countries.lookup(code)
    return (
        entry is not None
        and entry.kind == "country"
        and not countries.is_residual(code)
    )


def draws_of(sc: Scenario) -> Draws | None:
    """Seeded uniform draws over the scenario's ranges (None without any)."""
    unc = sc.uncertainty
    if unc is None:
        return None
    rng = np.random.default_rng(unc.seed)
    n = unc.draws

    def draw(rng_: tuple[float, float] | None, fixed: float) -> np.ndarray:
        if rng_ is None:
            return np.full(n, fixed)
        return rng.uniform(rng_[0], rng_[1], n)

    sigma = draw(unc.substitution, sc.substitution)
    eta = draw(unc.demand, sc.demand)
    eps = draw(unc.supply, sc.supply)
    expansion = draw(unc.capacity_expansion, sc.capacity_expansion)
    # Each draw scales every supplier's expansion (overrides included); from a zero
    # base the drawn value is the expansion itself (run() sets the base to 1).
    base = sc.capacity_expansion
    return Draws(sigma, eta, eps, expansion / base if base > 0 else expansion)


def run(sc: Scenario, markets: Markets, registry: Registry, year: int) -> Solution:
    """Solve one scenario on a baseline (a bad combination → ParameterError)."""
    policy = resolve_policy(sc, markets, registry, year)
    draws = draws_of(sc)
    if draws is not None and sc.capacity_expansion == 0:
        policy = replace(policy, capacity_expansion=1.0)
    try:
        return solve(
            markets,
            policy,
            Elasticities(sc.substitution, sc.demand, sc.supply),
            draws=draws,
        )
    except ValueError as exc:
        raise ParameterError(f"{sc.source}: {exc}") from None
    except NoEquilibrium as exc:
        raise NoEquilibrium(f"{sc.source}: scenario {sc.name!r}: {exc}") from None


def importer_table(
    sol: Solution, sc: Scenario, year: int, units: np.ndarray | None = None
) -> pl.DataFrame:
    """One row per draw × coalition member × product (DESIGN.md result names).

    ``units``: USD per tonne per exporter market (:func:`baseline`; NaN: none).
    The HHI counts named suppliers only: a residual area is not one supplier.
    """
    eta = _per_draw(sol, sc, "demand")
    named = np.array([_is_country(str(c)) for c in sol.markets.countries], dtype=bool)
    t = sol.importers(members_only=True, named=named, unit_value=units)
    if units is None:
        t = t.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("import_t"),
            pl.lit(None, dtype=pl.Float64).alias("scenario_import_t"),
        )
    t = t.join(eta, on="draw")
    v, sv = pl.col("import_value_usd"), pl.col("scenario_import_value_usd")
    big_p = pl.col("price_index")
    eta_c = pl.col("eta")
    cs = (
        pl.when((eta_c - 1.0).abs() < 1e-12)
        .then(-v * big_p.log())
        .otherwise(-v * (big_p.pow(1.0 - eta_c) - 1.0) / (1.0 - eta_c))
    )
    return t.select(
        *_key_columns(sc, "importer", year),
        v,
        sv,
        (100.0 * (big_p - 1.0)).alias("import_price_change_pct"),
        (100.0 * (pl.col("import_quantity_usd") / v - 1.0)).alias(
            "import_quantity_change_pct"
        ),
        (pl.col("concern_value_usd") / v).alias("concern_share"),
        _ratio(pl.col("scenario_concern_value_usd"), sv).alias(
            "scenario_concern_share"
        ),
        (pl.col("sum_sq_usd") / v**2).alias("hhi"),
        _ratio(pl.col("scenario_sum_sq_usd"), sv**2).alias("scenario_hhi"),
        cs.alias("consumer_surplus_change_usd"),
        (pl.col("reshored_quantity_usd") * big_p).alias("reshored_usd"),
        "quota_rent_usd",
        "import_t",
        "scenario_import_t",
    ).sort("importer", "hs6", "draw")


def exporter_table(
    sol: Solution, sc: Scenario, year: int, units: np.ndarray | None = None
) -> pl.DataFrame:
    """One row per draw × exporter × product: what the policy does to suppliers.
    ``units``: USD per tonne per exporter market (:func:`baseline`; NaN: none)."""
    eps = _per_draw(sol, sc, "supply")
    uv_col = (
        pl.Series("unit_value", np.tile(units, sol.draws), nan_to_null=True)
        if units is not None
        else pl.lit(None, dtype=pl.Float64).alias("unit_value")
    )
    ex = sol.exporters().with_columns(uv_col).join(eps, on="draw")
    x0, p, x = (
        pl.col("export_value_usd"),
        pl.col("price"),
        pl.col("export_quantity_usd"),
    )
    e1 = pl.col("eps") + 1.0
    cap = pl.col("capacity_usd")
    # ∫_1^p min(X0 q^ε, K) dq: the uncapped part up to the kink, then K per unit.
    kink = (
        pl.when(pl.col("eps") > 0)
        .then((cap / x0).pow(1.0 / pl.col("eps")))
        .otherwise(float("inf"))
    )
    upto = pl.min_horizontal(p, kink)
    ps = x0 * (upto.pow(e1) - 1.0) / e1 + pl.when(p > kink).then(cap * (p - kink))
    ps = ps.fill_null(x0 * (upto.pow(e1) - 1.0) / e1)
    uv = pl.col("unit_value")
    return ex.select(
        *_key_columns(sc, "exporter", year),
        x0,
        (p * x).alias("scenario_export_value_usd"),
        (100.0 * (p - 1.0)).alias("price_change_pct"),
        (100.0 * (x / x0 - 1.0)).alias("export_quantity_change_pct"),
        ps.alias("producer_surplus_change_usd"),
        (x0 / uv).alias("export_t"),
        (x / uv).alias("scenario_export_t"),
    ).sort("exporter", "hs6", "draw")


def _key_columns(sc: Scenario, who: str, year: int) -> list[pl.Expr]:
    """The key of a result row (:data:`IMPORTER_KEY` / :data:`EXPORTER_KEY`,
    ``who`` the importer or exporter column) and its draw."""
    return [
        pl.lit(sc.name).alias("scenario"),
        pl.lit(sc.coalition_label).alias("coalition"),
        pl.col(who),
        pl.lit(year, dtype=pl.Int64).alias("year"),
        pl.col("product").alias("hs6"),
        pl.col("draw"),
    ]


def _per_draw(sol: Solution, sc: Scenario, which: str) -> pl.DataFrame:
    """``draw`` → η (``demand``) or ε (``supply``) of that draw."""
    name = {"demand": "eta", "supply": "eps"}[which]
    d = draws_of(sc)
    values = np.full(sol.draws, getattr(sc, which)) if d is None else getattr(d, which)
    return pl.DataFrame(
        {"draw": np.arange(sol.draws, dtype=np.int32), name: values[: sol.draws]}
    )


def _sum_or_null(name: str) -> pl.Expr:
    """Σ of a column, null when every value is null (tonnes without quantities)."""
    c = pl.col(name)
    return pl.when(c.is_not_null().any()).then(c.sum()).alias(name)


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num / den)


def _pin(
    store: Store,
    sc: Scenario,
    source: str | None,
    registry: Registry,
    industries: IndustryMap,
) -> Pinned:
    """The loads of the scenario's year (the one :class:`Selection` the exposure
    metrics build), and its products in their HS revision."""
    try:
        selection = Selection.build(
            store,
            year=sc.year,
            source=source,
            registry=registry,
            industries=industries,
        )
    except ParameterError as exc:
        where = locate(sc, "year") if sc.year is not None else sc.source
        raise ParameterError(f"{where}: {exc}") from None
    year = selection.years[-1]
    revision = max(selection.revisions)  # one revision per year; newest if mixed
    labels = pl.DataFrame(schema={"hs6": pl.String, "industry": pl.String})
    if sc.industry is not None:
        mapped = industries.products(
            None if sc.industry == ALL else sc.industry, hs_revision=revision
        )
        labels = mapped.select("hs6", "industry").unique().sort("industry", "hs6")
        # An industry with no codes in this revision selects nothing (never "all").
        products = tuple(sorted(set(labels["hs6"]))) or ("",)
    elif sc.all_products:
        products = ()
    else:
        products = sc.hs
    return Pinned(sc, year, selection.loads.params(), revision, products, labels)


def _labels(p: Pinned, table: pl.DataFrame) -> pl.DataFrame:
    """``hs6, industry`` for the roll-up (an HS6 may feed several industries)."""
    if p.scenario.industry is not None:
        return p.labels
    label = ALL_PRODUCTS_LABEL if p.scenario.all_products else HS_LIST_LABEL
    return table.select("hs6").unique().with_columns(pl.lit(label).alias("industry"))


def _rollup(table: pl.DataFrame, labels: pl.DataFrame, by: By) -> pl.DataFrame:
    """Industry level: USD and tonnes summed, rates weighted by baseline value
    (scenario shares by scenario value)."""
    who = "importer" if by == "importer" else "exporter"
    usd = IMPORTER_USD if by == "importer" else EXPORTER_USD
    rates = IMPORTER_RATES if by == "importer" else EXPORTER_RATES
    w0 = pl.col("import_value_usd" if by == "importer" else "export_value_usd")
    w1 = pl.col(
        "scenario_import_value_usd" if by == "importer" else "scenario_export_value_usd"
    )

    def weight(c: str) -> pl.Expr:
        w = w1 if c.startswith("scenario_") else w0
        return ((pl.col(c) * w).sum() / w.filter(pl.col(c).is_not_null()).sum()).alias(
            c
        )

    keys = ["scenario", "coalition", who, "year", "industry", "draw"]
    return (
        table.join(labels, on="hs6", how="inner")
        .group_by(keys)
        .agg(
            *[_sum_or_null(c) for c in usd],
            *[weight(c) for c in rates],
        )
        .select(*keys, *usd, *rates)
        .sort("industry", who, "draw")
    )


def _summarise(table: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """p5 / p50 / p95 of every result over the draws, one row per key and stat."""
    metrics = [c for c in table.columns if c not in (*keys, "draw")]
    parts = [
        table.group_by(keys, maintain_order=True)
        .agg(pl.col(metrics).quantile(q, interpolation="linear"))
        .with_columns(pl.lit(name).alias("stat"))
        for name, q in STATS
    ]
    return (
        pl.concat(parts)
        .select(*keys, "stat", *metrics)
        .sort([*keys, "stat"], maintain_order=True)
    )


def unmatched_notes(scenarios: Sequence[Scenario], table: pl.DataFrame) -> list[str]:
    """One note per scenario that found no trade flows (no rows in ``table``): the
    user hears of it, never a silent gap."""
    found = set(table.get_column("scenario").to_list())
    notes = []
    for sc in scenarios:
        if sc.name in found:
            continue
        products = (
            f"industry {sc.industry}"
            if sc.industry is not None
            else "every product"
            if sc.all_products
            else "HS " + ", ".join(sc.hs)
        )
        year = "the latest year" if sc.year is None else str(sc.year)
        notes.append(
            f"{sc.source}: scenario {sc.name!r} matched no trade flows "
            f"(coalition {sc.coalition_label}, {year}, {products}); "
            "`friendshore info` lists the loaded years and products"
        )
    return notes
