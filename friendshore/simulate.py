"""Friend-shoring and reshoring scenarios against the store (issue 5).

This module pins each :class:`~friendshore.scenario.Scenario` to data — the year
and source, the products (industry map, in the store's HS revision), the registry
groups as of the year — fetches the baseline and world exports with the named
queries ``queries/simulate_*.sql``, and hands plain Polars frames to the engine in
:mod:`friendshore.reallocate`. Scenarios that share a year and source run in one
engine call; the result is one table with a ``scenario`` column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from friendshore import countries
from friendshore._assets import query_sql
from friendshore.errors import ParameterError
from friendshore.flow_selection import select_flows
from friendshore.industries import IndustryMap, load_industries
from friendshore.reallocate import (
    FLOWS,
    KEY,
    MEMBERS,
    SETTINGS,
    WORLD,
    make_draws,
    reallocate,
    reallocate_sums,
    roles,
    rollup,
    summarise_draws,
)
from friendshore.registry import Registry, load_registry
from friendshore.scenario import ALL, Scenario, check_names, locate

if TYPE_CHECKING:
    from friendshore.store import Store

Level = Literal["product", "industry"]

# Frames the simulate_*baseline queries read, registered for the query's duration.
WORLD_TABLE = "_simulate_world"
ROLES_TABLE = "_simulate_roles"

HS_LIST_LABEL = "(hs list)"  # the ``industry`` of a scenario given as HS codes
ALL_PRODUCTS_LABEL = "(all products)"


@dataclass(frozen=True)
class Pinned:
    """A scenario pinned to the store: the loads of its year, HS revision, products."""

    scenario: Scenario
    year: int
    selection: dict[str, Any]  # flow_selection.params(): all_loads, keys, years
    hs_revision: str
    products: tuple[str, ...]  # empty: every six-digit product the store holds
    labels: pl.DataFrame  # hs6, industry (empty for HS lists / all products)

    @property
    def batch(self) -> tuple[int, tuple[int, ...]]:
        """Scenarios reading the same loads run in one engine call."""
        return (self.year, tuple(self.selection["keys"]))

    def hs_params(self) -> dict[str, Any]:
        """``all_hs`` / ``hs`` query parameters."""
        return {"all_hs": not self.products, "hs": list(self.products)}


def simulate(
    store: Store,
    scenarios: Sequence[Scenario],
    *,
    registry: Registry | None = None,
    industries: IndustryMap | None = None,
    level: Level = "product",
    source: str | None = None,
) -> pl.DataFrame:
    """Run scenarios side by side; one table with a ``scenario`` column.

    Parameters
    ----------
    store
        An open store (read-only is enough).
    scenarios
        Validated scenarios (:func:`friendshore.scenario.load_scenario`); names must
        be distinct.
    registry, industries
        Default: the bundled registry and industry map.
    level
        ``product`` (one row per importer × HS6) or ``industry`` (import-value-
        weighted roll-up per importer × industry).
    source
        Trade source to read (``baci``, ``comtrade``, ``table:…``); default: the
        exposure metrics' choice per year (:mod:`friendshore.flow_selection`: BACI,
        then Comtrade, then tables; the newest BACI revision).

    Returns
    -------
    polars.DataFrame
        Keys ``scenario, importer, year, hs6`` (or ``industry``), the metrics of
        :data:`friendshore.reallocate.METRICS` and ``binding_suppliers``. When any
        scenario has ``[uncertainty]``, three rows per key with ``stat`` = p5 / p50 /
        p95 (a scenario without draws has the three equal).

    Raises
    ------
    ParameterError
        Duplicate scenario names, a year or source the store does not hold, an
        override for a supplier that is not eligible.
    """
    registry = load_registry() if registry is None else registry
    industries = load_industries() if industries is None else industries
    seen: set[str] = set()
    for sc in scenarios:
        check_names(sc, groups=registry.group_names(), industries=industries.names())
        if sc.name in seen:
            raise ParameterError(f"{sc.source}: two scenarios are named {sc.name!r}")
        seen.add(sc.name)

    pinned = [_pin(store, sc, source, industries) for sc in scenarios]
    batches: dict[tuple[int, tuple[int, ...]], list[Pinned]] = {}
    for p in pinned:
        batches.setdefault(p.batch, []).append(p)
    products = [_run_batch(store, registry, batch) for batch in batches.values()]
    table = pl.concat(products) if products else _empty_products()
    keys = KEY
    if level == "industry":
        table = rollup(table, _labels(pinned, table))
        keys = ["scenario", "importer", "year", "industry"]
    if any(sc.uncertainty is not None for sc in scenarios):
        return summarise_draws(table, keys)
    return table.drop("draw")


def _empty_products() -> pl.DataFrame:
    return reallocate(
        pl.DataFrame(schema=FLOWS),
        pl.DataFrame(schema=WORLD),
        pl.DataFrame(schema=SETTINGS),
        pl.DataFrame(schema=MEMBERS),
    )


def _pin(
    store: Store, sc: Scenario, source: str | None, industries: IndustryMap
) -> Pinned:
    """The loads of the scenario's year (as the exposure metrics choose them), and
    its products in their HS revision."""
    try:
        selection = select_flows(
            store, None if sc.year is None else [sc.year], source=source
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
    return Pinned(sc, year, selection.params(), revision, products, labels)


def _labels(pinned: Sequence[Pinned], products: pl.DataFrame) -> pl.DataFrame:
    """``scenario, hs6, industry`` for the roll-up (an HS6 may feed several)."""
    parts = []
    for p in pinned:
        name = p.scenario.name
        if p.scenario.industry is not None:
            parts.append(
                p.labels.select(pl.lit(name).alias("scenario"), "hs6", "industry")
            )
        else:
            label = ALL_PRODUCTS_LABEL if p.scenario.all_products else HS_LIST_LABEL
            parts.append(
                products.filter(pl.col("scenario") == name)
                .select("scenario", "hs6")
                .unique()
                .with_columns(pl.lit(label).alias("industry"))
            )
    return (
        pl.concat(parts)
        if parts
        else pl.DataFrame(
            schema={"scenario": pl.String, "hs6": pl.String, "industry": pl.String}
        )
    )


def _run_batch(
    store: Store, registry: Registry, batch: Sequence[Pinned]
) -> pl.DataFrame:
    """One engine call for the scenarios that read the same loads."""
    year, selection = batch[0].year, batch[0].selection
    if any(not p.products for p in batch):
        hs: dict[str, Any] = {"all_hs": True, "hs": []}
    else:
        hs = {"all_hs": False, "hs": sorted({c for p in batch for c in p.products})}
    # A native temp table: simulate_baseline joins every flow to it.
    store.temp_table(WORLD_TABLE, query_sql("simulate_world"), selection | hs)
    sums, settings, members, draws = [], [], [], []
    try:
        world = store.pl(f"SELECT * FROM {WORLD_TABLE}")
        exporters = world["exporter"].unique().sort().to_list()
        for p in batch:
            sc = p.scenario
            importers, bloc_members = _importers(sc, registry, year)
            mb = _members(sc, registry, year, exporters, bloc_members)
            sums.append(_sums(store, p, mb, importers, bloc_members))
            members.append(mb)
            settings.append(
                {
                    "scenario": sc.name,
                    "max_concern_share": sc.max_concern_share,
                    "reshoring": sc.reshoring,
                    "capacity_expansion": sc.capacity_expansion,
                }
            )
            unc = sc.uncertainty
            draws.append(
                make_draws(
                    sc.name,
                    unc.draws if unc else 1,
                    unc.seed if unc else 0,
                    capacity_expansion=sc.capacity_expansion,
                    capacity_range=unc.capacity_expansion if unc else None,
                    unit_value_range=unc.unit_value_scale if unc else None,
                )
            )
    finally:
        store.drop_temp(WORLD_TABLE)
    return reallocate_sums(
        pl.concat(sums),
        world,
        pl.DataFrame(settings),
        pl.concat(members),
        pl.concat(draws),
    )


def _importers(
    sc: Scenario, registry: Registry, year: int
) -> tuple[list[str], list[str]]:
    """(importers to select, bloc members): ``[]`` importers means every one."""
    if sc.bloc is not None:
        members = list(registry.members(sc.bloc, year))
        if not members:
            raise ParameterError(
                f"{locate(sc, 'bloc')}: group {sc.bloc!r} has no members in {year}"
            )
        return members, members
    if sc.importer == ALL:
        return [], []
    return [str(sc.importer)], []


def _sums(
    store: Store,
    p: Pinned,
    members: pl.DataFrame,
    importers: list[str],
    bloc_members: list[str],
) -> pl.DataFrame:
    """The one-pass baseline sums of one scenario (``simulate_baseline``)."""
    sc = p.scenario
    params = p.selection | p.hs_params()
    rl = roles(members).select("iso3", "grp", "ally").collect()
    if not bloc_members:
        params |= {"all_importers": not importers, "importers": importers}
        params |= _role_lookup(store, rl)
        frame = store.pl(query_sql("simulate_baseline"), params)
        # Without overrides the list column is all null: re-made after the sort
        # rather than gathered through it.
        ov = frame.get_column("override_vw")
        if ov.null_count() == frame.height:
            frame = frame.drop("override_vw").sort("sort_key")
            frame = frame.with_columns(
                pl.lit(None, dtype=ov.dtype).alias("override_vw")
            )
        else:
            frame = frame.sort("sort_key")
        return frame.drop("sort_key").with_columns(pl.lit(sc.name).alias("scenario"))
    store.register(ROLES_TABLE, rl)
    try:
        params |= {"members": bloc_members, "bloc": sc.bloc}
        frame = store.pl(query_sql("simulate_bloc_baseline"), params)
    finally:
        store.unregister(ROLES_TABLE)
    return frame.with_columns(pl.lit(sc.name).alias("scenario"))


def _role_lookup(store: Store, rl: pl.DataFrame) -> dict[str, Any]:
    """``role_codes``, ``ally_codes`` and ``names`` by country id (simulate_baseline).

    Role codes: 1 concern, 2 eligible without an override, 3 eligible with one, 0
    any other supplier — looked up per flow instead of joining a roles table.
    """
    grp = pl.col("grp")
    coded = rl.select(
        "iso3",
        pl.when(grp == "C")
        .then(1)
        .when(grp == "")
        .then(2)
        .when(grp.is_not_null())
        .then(3)
        .otherwise(0)
        .cast(pl.Int8)
        .alias("role"),
        pl.col("ally").fill_null(False),
    )
    full = store.country_positions().join(coded, on="iso3", how="left").sort("id")
    return {
        "role_codes": full["role"].fill_null(0).to_list(),
        "ally_codes": full["ally"].fill_null(False).to_list(),
        "names": full["iso3"].to_list(),
        "name_rank": full["iso3"].rank("ordinal").fill_null(0).to_list(),
    }


def _members(
    sc: Scenario,
    registry: Registry,
    year: int,
    exporters: Sequence[str],
    bloc_members: Sequence[str],
) -> pl.DataFrame:
    """Per country: concern, ally, eligible and the capacity override, as of year."""
    concern = set(registry.members(sc.concern, year))
    tiers = registry.tiers(year, concern=sc.concern)
    allies = set(tiers.filter(pl.col("tier") == "ally")["iso3"].to_list())
    if sc.eligible is None:
        # Default: every non-concern supplier that is a country (not an
        # unspecified area such as X899 or the rest of the world).
        eligible = {
            c
            for c in exporters
            if (entry := countries.lookup(c)) is not None and entry.kind == "country"
        }
    else:
        eligible = set()
        for group in sc.eligible:
            eligible.update(registry.members(group, year))
    eligible -= concern | set(bloc_members)
    overrides: Mapping[str, float] = dict(sc.capacity_expansion_by_supplier)
    for iso3 in overrides:
        if iso3 not in eligible:
            why = "a concern member" if iso3 in concern else "not an eligible supplier"
            raise ParameterError(
                f"{locate(sc, f'capacity_expansion_by_supplier.{iso3}')}: "
                f"{iso3} is {why} in {year}"
            )
    return members_frame(sc.name, concern, allies, eligible, overrides)


def members_frame(
    scenario: str,
    concern: Iterable[str],
    allies: Iterable[str],
    eligible: Iterable[str],
    overrides: Mapping[str, float],
) -> pl.DataFrame:
    """The engine's member table: one row per country the scenario names."""
    concern, allies, eligible = set(concern), set(allies), set(eligible)
    codes = sorted(concern | allies | eligible)
    return pl.DataFrame(
        {
            "scenario": [scenario] * len(codes),
            "iso3": codes,
            "concern": [c in concern for c in codes],
            "ally": [c in allies for c in codes],
            "eligible": [c in eligible for c in codes],
            "capacity_expansion": [overrides.get(c) for c in codes],
        },
        schema={
            "scenario": pl.String,
            "iso3": pl.String,
            "concern": pl.Boolean,
            "ally": pl.Boolean,
            "eligible": pl.Boolean,
            "capacity_expansion": pl.Float64,
        },
    )
