"""Scenarios against a store (issue 15): the issue's worked case through the SQL
path, residual areas, coalitions, tonnes, draws, industry roll-up."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from friendshore.engines.scenarios.model import Scenario
from friendshore.engines.scenarios.simulate import simulate
from friendshore.errors import ParameterError
from friendshore.reference.industries import load_industries
from friendshore.reference.registry import load_registry
from friendshore.store import Store
from friendshore.store.writes import Writer

from .test_scenarios_solver import _reference

Y = 2022

# (exporter, importer, hs6, value_usd, quantity_t): the worked case in
# 811292, with tonnes for CHN (USD 2,000/t) and DEU (USD 5,000/t) but none for JPN.
FLOWS = [
    ("CHN", "USA", "811292", 60_000.0, 30.0),
    ("CHN", "FRA", "811292", 40_000.0, 20.0),
    ("DEU", "USA", "811292", 10_000.0, 2.0),
    ("DEU", "FRA", "811292", 20_000.0, 4.0),
    ("JPN", "USA", "811292", 30_000.0, None),
]
WORKED_KW = {
    "hs": ("811292",),
    "year": Y,
    "policy": "ban",
    "capacity_expansion": 0.5,
    "substitution": 3.0,
    "demand": 0.5,
    "supply": 1.0,
}


def build_store(path: Path, rows: list[tuple], source: str = "baci") -> None:
    """A store whose trade_flows hold ``rows`` (one load, as a loader records it)."""
    table = pa.table(
        {
            "exporter": [r[0] for r in rows],
            "importer": [r[1] for r in rows],
            "hs6": [r[2] for r in rows],
            "value_usd": [r[3] for r in rows],
            "quantity_t": pa.array([r[4] for r in rows], pa.float64()),
        }
    )

    def insert(w: Writer, load_id: int) -> tuple[int, tuple[int, ...]]:
        w.flow_rows(
            pl.from_arrow(table).with_columns(  # type: ignore[union-attr]
                year=pl.lit(Y, pl.Int16),
                hs_revision=pl.lit("HS2017"),
                basis=pl.lit(source),
            ),
            source=source,
        )
        return len(rows), (Y,)

    digest = hashlib.sha256(repr(rows).encode()).hexdigest()
    with Store(path) as store:
        store.record_load(
            source=source,
            file_name="synthetic.csv",
            file_path="synthetic.csv",
            sha256=digest,
            dataset_key=f"HS17:{Y}",
            target="trade_flows",
            insert=insert,
        )


@pytest.fixture(scope="module")
def reg():  # type: ignore[no-untyped-def]
    return load_registry()


@pytest.fixture(scope="module")
def ind():  # type: ignore[no-untyped-def]
    return load_industries()


@pytest.fixture
def flows_store(db_path: Path) -> Path:
    build_store(db_path, FLOWS)
    return db_path


def run(path: Path, reg, ind, *scenarios: Scenario, **kw) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    with Store(path, read_only=True) as store:
        return simulate(store, list(scenarios), registry=reg, industries=ind, **kw)


def worked(name: str = "ban", **kw) -> Scenario:  # type: ignore[no-untyped-def]
    args = {"coalition": ("USA",), **WORKED_KW, **kw}
    return Scenario(name=name, **args)


def test_the_worked_case_through_the_store(flows_store, reg, ind) -> None:
    [usa] = run(flows_store, reg, ind, worked()).to_dicts()
    assert (usa["importer"], usa["hs6"], usa["coalition"]) == ("USA", "811292", "USA")
    assert usa["import_value_usd"] == 100_000.0
    assert usa["import_price_change_pct"] == pytest.approx(253.9915, abs=5e-5)
    assert usa["import_quantity_change_pct"] == pytest.approx(-46.8500, abs=5e-5)
    assert usa["consumer_surplus_change_usd"] == pytest.approx(-176_293.26, abs=0.01)
    assert usa["concern_share"] == pytest.approx(0.6)
    assert usa["scenario_concern_share"] == 0.0
    # Baseline HHI by hand: 0.6² + 0.1² + 0.3² = 0.46.
    assert usa["hhi"] == pytest.approx(0.46)
    assert 0.5 < usa["scenario_hhi"] < 1.0  # two suppliers left
    assert usa["quota_rent_usd"] == 0.0 and usa["reshored_usd"] == 0.0
    # Tonnes beside values where quantities exist: CHN 30 t, DEU 2 t; JPN has none.
    assert usa["import_t"] == pytest.approx(30.0 + 2.0)
    table = run(flows_store, reg, ind, worked(), by="exporter")
    ex = {r["exporter"]: r for r in table.to_dicts()}
    assert ex["CHN"]["price_change_pct"] == pytest.approx(-28.6904, abs=5e-5)
    assert ex["DEU"]["price_change_pct"] == pytest.approx(76.8012, abs=5e-5)
    assert ex["JPN"]["price_change_pct"] == pytest.approx(150.4938, abs=5e-5)
    # Both allies at their caps (+50 %), CHN diverts to FRA at a lower price.
    assert ex["DEU"]["export_quantity_change_pct"] == pytest.approx(50.0)
    assert ex["JPN"]["export_quantity_change_pct"] == pytest.approx(50.0)
    assert ex["CHN"]["export_t"] == pytest.approx(50.0)
    assert ex["JPN"]["export_t"] is None
    # Producer surplus, by hand: CHN ∫_1^p 100,000 q dq = 50,000 (p² − 1).
    p = 1 + ex["CHN"]["price_change_pct"] / 100
    assert ex["CHN"]["producer_surplus_change_usd"] == pytest.approx(
        50_000 * (p * p - 1), rel=1e-9
    )
    # DEU: uncapped up to the kink at 1.5, then 45,000 per unit of price.
    p = 1 + ex["DEU"]["price_change_pct"] / 100
    assert ex["DEU"]["producer_surplus_change_usd"] == pytest.approx(
        15_000 * (1.5**2 - 1) + 45_000 * (p - 1.5), rel=1e-9
    )


def test_the_cap_variant_holds_the_share(flows_store, reg, ind) -> None:
    sc = worked("cap", policy="cap", max_concern_share=0.25)
    [usa] = run(flows_store, reg, ind, sc).to_dicts()
    assert usa["scenario_concern_share"] == pytest.approx(0.25, abs=1e-9)
    assert usa["import_price_change_pct"] == pytest.approx(95.9598, abs=5e-5)
    assert usa["quota_rent_usd"] > 0


def test_residual_areas_are_never_importer_rows_nor_eligible(db_path, reg, ind) -> None:
    # BACI's "nes" area X899 trades, but is never an importer row and never adds
    # capacity: its exports stay at baseline volume at most.
    rows = [
        *FLOWS,
        ("X899", "USA", "811292", 5_000.0, None),
        ("DEU", "X899", "811292", 1_000.0, None),
    ]
    build_store(db_path, rows)
    sc = worked(coalition=("all",))
    table = run(db_path, reg, ind, sc)
    assert sorted(table["importer"].to_list()) == ["FRA", "USA"]
    ex = run(db_path, reg, ind, sc, by="exporter")
    nes = ex.filter(pl.col("exporter") == "X899").row(0, named=True)
    assert nes["export_quantity_change_pct"] <= 1e-9
    assert nes["price_change_pct"] > 0  # it still sells, at the higher price


def test_a_coalition_naming_the_concern_is_refused(flows_store, reg, ind) -> None:
    with pytest.raises(ParameterError, match=r"the coalition names the concern \(CHN"):
        run(flows_store, reg, ind, worked(coalition=("USA", "CHN")))


def test_foreign_adversaries_are_not_eligible_by_default(db_path, reg, ind) -> None:
    build_store(db_path, [*FLOWS, ("RUS", "USA", "811292", 10_000.0, None)])
    ex = run(db_path, reg, ind, worked(), by="exporter")
    rus = ex.filter(pl.col("exporter") == "RUS").row(0, named=True)
    assert rus["export_quantity_change_pct"] == pytest.approx(0.0, abs=1e-7)
    assert rus["price_change_pct"] > 0


def test_the_store_route_equals_an_independent_newton(db_path, reg, ind) -> None:
    # Another structure, solved by the dense Newton of test_scenarios_solver.
    extra = {
        ("CHN", "USA"): 5_000.0,
        ("CHN", "JPN"): 8_000.0,
        ("CHN", "KOR"): 6_000.0,
        ("KOR", "USA"): 3_000.0,
        ("KOR", "JPN"): 1_000.0,
        ("DEU", "KOR"): 2_000.0,
        ("JPN", "KOR"): 4_000.0,
    }
    build_store(db_path, [(e, m, "811299", v, None) for (e, m), v in extra.items()])
    sc = worked(hs=("811299",), coalition=("USA", "JPN"))
    ex = run(db_path, reg, ind, sc, by="exporter")
    got = {r["exporter"]: 1 + r["price_change_pct"] / 100 for r in ex.to_dicts()}
    ref = _reference(
        extra,
        sigma=3.0,
        eta=0.5,
        eps=1.0,
        tau={("CHN", "USA"): math.inf, ("CHN", "JPN"): math.inf},
        cap={"KOR": 1.5, "DEU": 1.5, "JPN": 1.5},
    )
    for e, p in ref.items():
        assert got[e] == pytest.approx(p, rel=1e-8)


def test_industry_level_rolls_up_by_value(flows_store, reg, ind) -> None:
    products = run(flows_store, reg, ind, worked())
    rolled = run(flows_store, reg, ind, worked(), level="industry")
    assert rolled["industry"].to_list() == ["(hs list)"]
    assert rolled["import_value_usd"][0] == products["import_value_usd"].sum()
    assert rolled["import_price_change_pct"][0] == pytest.approx(
        products["import_price_change_pct"][0]
    )


def test_draws_give_ordered_quantiles(flows_store, reg, ind) -> None:
    from friendshore.engines.scenarios.model import Uncertainty

    sc = worked(uncertainty=Uncertainty(draws=50, seed=3, substitution=(2.0, 6.0)))
    t = run(flows_store, reg, ind, sc)
    assert t["stat"].to_list() == ["p5", "p50", "p95"]
    price = t["import_price_change_pct"].to_list()
    assert price[0] <= price[1] <= price[2]
    assert price[0] < price[2]


def test_a_year_the_store_does_not_hold(flows_store, reg, ind) -> None:
    with pytest.raises(ParameterError, match="year"):
        run(flows_store, reg, ind, worked(year=2019))


def test_duplicate_names(flows_store, reg, ind) -> None:
    with pytest.raises(ParameterError, match="two scenarios are named 'ban'"):
        run(flows_store, reg, ind, worked(), worked())


def test_a_coalition_without_imports_of_the_products_adds_no_rows(
    flows_store, reg, ind
) -> None:
    # JPN imports no 811292 in this store: its scenario has no importer rows, and
    # run beside one that has rows it must not break the combined table (its
    # empty columns came out as integers and the concatenation failed).
    both = run(flows_store, reg, ind, worked(), worked(name="jpn", coalition=("JPN",)))
    assert both["scenario"].to_list() == ["ban"]
    assert both.schema["scenario_import_value_usd"] == pl.Float64
    alone = run(flows_store, reg, ind, worked(name="jpn", coalition=("JPN",)))
    assert alone.height == 0
    assert alone.schema["scenario_import_value_usd"] == pl.Float64
