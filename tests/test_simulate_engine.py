"""The scenario engine on plain Polars frames: hand-worked cases and properties.

Golden numbers are worked by hand in the comments (exact fractions where the
arithmetic is not round); the property test checks the engine against an
independent, loop-based water-fill written here.
"""

from __future__ import annotations

from fractions import Fraction as Fr

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from friendshore.reallocate import (
    make_draws,
    reallocate,
    rollup,
    summarise_draws,
    world_exports,
)
from friendshore.simulate import members_frame

Y = 2022


def flows(
    rows: list[tuple], scenario: str = "s", importer: str = "USA"
) -> pl.DataFrame:
    """(hs6, exporter, value_usd, quantity_t) rows of one importer."""
    return pl.DataFrame(
        [(scenario, importer, Y, h, e, v, q) for h, e, v, q in rows],
        schema={
            "scenario": pl.String,
            "importer": pl.String,
            "year": pl.Int32,
            "hs6": pl.String,
            "exporter": pl.String,
            "value_usd": pl.Float64,
            "quantity_t": pl.Float64,
        },
        orient="row",
    )


def world(rows: list[tuple]) -> pl.DataFrame:
    """(hs6, exporter, value_usd, unit_value) rows."""
    return pl.DataFrame(
        [(Y, h, e, v, u) for h, e, v, u in rows],
        schema={
            "year": pl.Int32,
            "hs6": pl.String,
            "exporter": pl.String,
            "value_usd": pl.Float64,
            "unit_value": pl.Float64,
        },
        orient="row",
    )


def setting(m: float, r: float = 0.0, e: float = 0.25, scenario: str = "s") -> dict:
    return {
        "scenario": scenario,
        "max_concern_share": m,
        "reshoring": r,
        "capacity_expansion": e,
    }


def members(
    concern: list[str],
    eligible: list[str],
    allies: list[str] = (),  # type: ignore[assignment]
    overrides: dict[str, float] | None = None,
    scenario: str = "s",
) -> pl.DataFrame:
    return members_frame(scenario, concern, allies, eligible, overrides or {})


def run(f, w, s, m, draws=None) -> dict:
    out = reallocate(f, w, pl.DataFrame(s if isinstance(s, list) else [s]), m, draws)
    assert out.height == 1
    return out.row(0, named=True)


def test_a_capped_supplier_hands_its_remainder_on() -> None:
    # USA imports 100: CHN 90 (9 t, so 10 USD/t), DEU 10. Cap the PRC at 30 %:
    # displaced = 90 − 0.3 × 100 = 60; no reshoring.
    # Eligible by world exports: JPN 100 (override 0.1 → cap 10), KOR 300 (cap 75),
    # DEU 40 (cap 10). Proportional fill 60/440 = 0.136 > JPN's 0.1, so JPN caps at
    # 10 and hands on: the other 50 go to KOR and DEU by 300:40, λ = 50/340 = 5/34 <
    # 0.25 — KOR gets 750/17, DEU 100/17. Placed 60, unmet 0; only JPN binds.
    f = flows(
        [("850511", "CHN", 90.0, 9.0), ("850511", "DEU", 10.0, None)],
    )
    w = world(
        [
            ("850511", "JPN", 100.0, 12.0),
            ("850511", "KOR", 300.0, 11.0),
            ("850511", "DEU", 40.0, None),
            ("850511", "CHN", 5000.0, 10.0),
        ]
    )
    m = members(
        ["CHN"],
        ["JPN", "KOR", "DEU"],
        allies=["JPN", "KOR", "DEU"],
        overrides={"JPN": 0.1},
    )
    row = run(f, w, setting(0.3), m)
    assert row["displaced_usd"] == pytest.approx(60.0)
    assert row["reshored_usd"] == 0.0
    assert row["placed_usd"] == pytest.approx(60.0)
    assert row["unmet_usd"] == pytest.approx(0.0, abs=1e-9)
    assert row["binding_suppliers"] == ["JPN"]
    assert row["n_binding"] == 1
    assert row["baseline_prc_share"] == pytest.approx(0.9)
    assert row["scenario_prc_share"] == pytest.approx(0.3)
    # After: CHN 30, DEU 10 + 100/17 = 270/17, JPN 10, KOR 750/17, over 100.
    hhi = (Fr(30) ** 2 + Fr(270, 17) ** 2 + Fr(10) ** 2 + Fr(750, 17) ** 2) / 100**2
    assert row["baseline_hhi"] == pytest.approx((90**2 + 10**2) / 100**2)
    assert row["scenario_hhi"] == pytest.approx(float(hhi))
    assert row["baseline_ally_share"] == pytest.approx(0.1)
    assert row["scenario_ally_share"] == pytest.approx(0.7)
    # Premium: JPN 10 × (12/10 − 1) = 2; KOR 750/17 × (11/10 − 1) = 75/17; DEU has no
    # unit value, priced at the known average: 60 × (2 + 75/17) / (10 + 750/17)
    # = 60 × 109/920.
    assert row["cost_premium_usd"] == pytest.approx(60 * 109 / 920)
    assert row["cost_premium_pct"] == pytest.approx(60 * 109 / 920)  # V = 100


def test_every_supplier_capped_leaves_unmet_demand() -> None:
    # CHN 80 of 100, cap at 20 % → displaced 60; reshoring 5 % → 5; 55 left.
    # Caps: JPN 0.25 × 100 = 25, KOR 0.25 × 50 = 12.5, DEU override 0.5 × 20 = 10:
    # 47.5 placed, 7.5 unmet. All three bind, largest capacity first.
    f = flows(
        [
            ("850511", "CHN", 80.0, 8.0),
            ("850511", "JPN", 10.0, 1.0),
            ("850511", "DEU", 10.0, 1.0),
        ]
    )
    w = world(
        [
            ("850511", "JPN", 100.0, 12.0),
            ("850511", "DEU", 20.0, None),
            ("850511", "KOR", 50.0, 10.0),
        ]
    )
    m = members(
        ["CHN"],
        ["JPN", "DEU", "KOR"],
        allies=["JPN", "DEU", "KOR"],
        overrides={"DEU": 0.5},
    )
    row = run(f, w, setting(0.2, r=0.05), m)
    assert (row["displaced_usd"], row["reshored_usd"]) == (60.0, 5.0)
    assert row["placed_usd"] == pytest.approx(47.5)
    assert row["unmet_usd"] == pytest.approx(7.5)
    assert row["unmet_share"] == pytest.approx(0.075)
    assert row["binding_suppliers"] == ["JPN", "KOR", "DEU"]
    # Supplied 92.5: CHN 20, JPN 35, DEU 20, KOR 12.5, domestic 5 (one supplier).
    assert row["scenario_prc_share"] == pytest.approx(20 / 92.5)
    assert row["scenario_hhi"] == pytest.approx(
        (20**2 + 35**2 + 20**2 + 12.5**2 + 5**2) / 92.5**2
    )
    assert row["scenario_ally_share"] == pytest.approx((20 + 47.5) / 92.5)
    # Premium: JPN 25 × 0.2 = 5, KOR 0; DEU at the known rate: 47.5 × 5 / 37.5.
    assert row["cost_premium_usd"] == pytest.approx(47.5 * 5 / 37.5)


def test_reshoring_comes_first() -> None:
    # CHN 50 of 100, cap 20 % → displaced 30. Reshoring 10 % of V = 10 first,
    # then KOR (cap 0.25 × 1000 = 250) takes the other 20.
    f = flows([("280530", "CHN", 50.0, None), ("280530", "FRA", 50.0, None)])
    w = world([("280530", "KOR", 1000.0, None)])
    m = members(["CHN"], ["KOR"])
    row = run(f, w, setting(0.2, r=0.1), m)
    assert row["reshored_usd"] == 10.0
    assert row["placed_usd"] == 20.0
    assert row["unmet_usd"] == 0.0
    # After: CHN 20, FRA 50, KOR 20, domestic 10 over 100.
    assert row["scenario_hhi"] == pytest.approx((20**2 + 50**2 + 20**2 + 10**2) / 1e4)
    # Unknown unit values: the premium is null, not zero.
    assert row["cost_premium_usd"] is None
    # Reshoring larger than the displacement takes all of it; nothing is placed.
    row = run(f, w, setting(0.2, r=0.5), m)
    assert (row["reshored_usd"], row["placed_usd"], row["unmet_usd"]) == (30.0, 0, 0)
    assert row["cost_premium_usd"] == 0.0


def test_nothing_eligible_leaves_all_unmet() -> None:
    # CHN 60, DEU 40; PRC to 0 with nobody eligible: 60 unmet; supplied 40, all DEU.
    f = flows([("811292", "CHN", 60.0, 1.0), ("811292", "DEU", 40.0, 1.0)])
    w = world([("811292", "DEU", 500.0, 5.0)])
    m = members(["CHN"], [])
    row = run(f, w, setting(0.0), m)
    assert row["displaced_usd"] == 60.0
    assert row["placed_usd"] == 0.0
    assert row["unmet_usd"] == 60.0
    assert row["unmet_share"] == 0.6
    assert row["scenario_prc_share"] == 0.0
    assert row["scenario_hhi"] == 1.0
    assert row["binding_suppliers"] == []
    assert row["cost_premium_usd"] == 0.0
    # Everything from the concern and nothing eligible: no supply left, shares null.
    row = run(flows([("811292", "CHN", 60.0, 1.0)]), w, setting(0.0), m)
    assert row["unmet_share"] == 1.0
    assert row["scenario_prc_share"] is None and row["scenario_hhi"] is None


def test_the_importer_never_supplies_itself() -> None:
    # USA is eligible and the largest world exporter, but it is the importer: all
    # 40 displaced go to KOR (cap 0.25 × 400 = 100).
    f = flows([("850511", "CHN", 40.0, None), ("850511", "KOR", 60.0, None)])
    w = world([("850511", "USA", 10_000.0, None), ("850511", "KOR", 400.0, None)])
    m = members(["CHN"], ["USA", "KOR"])
    row = run(f, w, setting(0.0), m)
    assert row["placed_usd"] == 40.0
    assert row["scenario_hhi"] == 1.0  # KOR alone: 60 + 40
    # USA capped alone (e.g. a tiny override elsewhere) would not appear either.
    assert "USA" not in row["binding_suppliers"]


def test_concern_members_are_never_eligible() -> None:
    # HKG is listed eligible but is a concern member: nothing goes there.
    f = flows([("850511", "CHN", 50.0, None), ("850511", "JPN", 50.0, None)])
    w = world([("850511", "HKG", 1e6, None), ("850511", "JPN", 100.0, None)])
    m = pl.concat(
        [
            members(["CHN", "HKG"], ["JPN"]),
        ]
    ).with_columns(
        pl.when(pl.col("iso3") == "HKG")
        .then(True)
        .otherwise("eligible")
        .alias("eligible")
    )
    row = run(f, w, setting(0.0), m)
    # JPN's cap is 25 of the 50 displaced; the rest is unmet, not sent to HKG.
    assert row["placed_usd"] == 25.0
    assert row["unmet_usd"] == 25.0


@pytest.mark.parametrize("m", [0.5, 0.8, 1.0])
def test_a_no_op_scenario_returns_the_baseline_exactly(m: float) -> None:
    # CHN share is 80/100 = 0.8: a cap at or above it displaces nothing.
    f = flows(
        [
            ("850511", "CHN", 80.0, 8.0),
            ("850511", "JPN", 15.0, 1.0),
            ("850511", "DEU", 5.0, None),
        ]
    )
    w = world([("850511", "JPN", 100.0, 12.0)])
    mb = members(["CHN"], ["JPN"], allies=["JPN", "DEU"])
    rows = reallocate(f, w, pl.DataFrame([setting(m, r=0.3)]), mb)
    if m < 0.8:
        assert rows["displaced_usd"][0] > 0
        return
    row = rows.row(0, named=True)
    assert row["scenario_prc_share"] == row["baseline_prc_share"]
    assert row["scenario_hhi"] == row["baseline_hhi"]
    assert row["scenario_ally_share"] == row["baseline_ally_share"]
    for col in ("displaced_usd", "reshored_usd", "placed_usd", "unmet_usd"):
        assert row[col] == 0.0
    assert row["cost_premium_usd"] == 0.0
    assert row["binding_suppliers"] == []


def test_scenarios_and_importers_run_side_by_side() -> None:
    # Two scenarios × two importers in one call equal four separate calls.
    rows = [
        ("850511", "CHN", 70.0, 7.0),
        ("850511", "KOR", 30.0, 3.0),
        ("280530", "CHN", 10.0, None),
        ("280530", "JPN", 90.0, None),
    ]
    w = world(
        [
            ("850511", "JPN", 120.0, 9.0),
            ("850511", "KOR", 80.0, 11.0),
            ("850511", "USA", 50.0, 10.0),
            ("850511", "DEU", 200.0, 10.0),
            ("280530", "JPN", 50.0, None),
            ("280530", "USA", 10.0, None),
        ]
    )
    parts, sets, mbs = [], [], []
    for sc, m in (("a", 0.0), ("b", 0.5)):
        for imp in ("USA", "DEU"):
            parts.append(flows(rows, scenario=sc, importer=imp))
        sets.append(setting(m, r=0.02, scenario=sc))
        mbs.append(
            members(
                ["CHN"],
                ["JPN", "KOR", "USA", "DEU"],
                overrides={"KOR": 0.1},
                scenario=sc,
            )
        )
    together = reallocate(pl.concat(parts), w, pl.DataFrame(sets), pl.concat(mbs))
    assert together.height == 2 * 2 * 2
    for sc, m in (("a", 0.0), ("b", 0.5)):
        mb = members(
            ["CHN"], ["JPN", "KOR", "USA", "DEU"], overrides={"KOR": 0.1}, scenario=sc
        )
        for imp in ("USA", "DEU"):
            alone = reallocate(
                flows(rows, scenario=sc, importer=imp),
                w,
                pl.DataFrame([setting(m, r=0.02, scenario=sc)]),
                mb,
            )
            got = together.filter(pl.col("scenario") == sc, pl.col("importer") == imp)
            assert got.equals(alone)


# -- property: conservation and an independent water-fill -------------------------
def water_fill(
    demand: float, caps: dict[str, float], weights: dict[str, float]
) -> dict:
    """Loop-based water-filling: proportional shares, re-spread what caps refuse."""
    given_: dict[str, float] = dict.fromkeys(caps, 0.0)
    open_ = {k for k in caps if caps[k] > 0 and weights[k] > 0}
    left = demand
    while left > 1e-9 and open_:
        total_w = sum(weights[k] for k in open_)
        offer = {k: left * weights[k] / total_w for k in open_}
        capped = {k for k in open_ if given_[k] + offer[k] >= caps[k]}
        if not capped:
            for k in open_:
                given_[k] += offer[k]
            left = 0.0
            break
        for k in capped:
            left -= caps[k] - given_[k]
            given_[k] = caps[k]
        open_ -= capped
    return given_


# USD amounts: zero or at least a cent (sub-cent and subnormal values are not trade).
def usd(hi: float) -> st.SearchStrategy[float]:
    return st.one_of(st.just(0.0), st.floats(0.01, hi))


suppliers = st.lists(
    st.tuples(
        st.sampled_from(["JPN", "KOR", "DEU", "AUS", "CAN", "FRA", "USA"]),
        usd(1e6),  # import value into USA
        usd(1e7),  # world exports
        st.one_of(st.none(), st.floats(0, 2)),  # per-supplier override
        st.booleans(),  # eligible
    ),
    max_size=6,
    unique_by=lambda t: t[0],
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    concern=usd(1e7),
    others=suppliers,
    m=st.floats(0, 1),
    r=st.floats(0, 1),
    e=st.floats(0, 2),
)
@example(concern=100.0, others=[], m=0.0, r=0.0, e=0.25)  # nothing but the concern
@example(concern=0.0, others=[("JPN", 10.0, 10.0, None, True)], m=0.0, r=0.0, e=0.25)
def test_conservation_and_water_fill(concern, others, m, r, e) -> None:
    rows = [("850511", "CHN", concern, None)]
    rows += [("850511", c, v, None) for c, v, *_ in others if c != "USA"]
    if all(v == 0 for _, _, v, _ in rows):
        return  # no imports: no row to check
    w = world([("850511", c, wv, None) for c, _, wv, _, _ in others])
    eligible = [c for c, _, _, _, ok in others if ok]
    overrides = {c: o for c, _, _, o, ok in others if ok and o is not None}
    mb = members(["CHN"], eligible, overrides=overrides)
    row = run(flows(rows), w, setting(m, r=r, e=e), mb)
    total = row["reshored_usd"] + row["placed_usd"] + row["unmet_usd"]
    assert total == pytest.approx(row["displaced_usd"], abs=0.005)  # to the cent
    assert row["unmet_usd"] >= 0 and row["placed_usd"] >= 0
    if row["unmet_usd"] == 0:
        assert row["scenario_prc_share"] <= m + 1e-12
    # Independent water-fill (the importer, USA, never receives).
    caps = {
        c: (overrides.get(c, e)) * wv
        for c, _, wv, _, ok in others
        if ok and c != "USA" and (overrides.get(c, e)) > 0
    }
    weights = {c: wv for c, _, wv, _, _ in others if c in caps}
    demand = row["displaced_usd"] - row["reshored_usd"]
    got = water_fill(demand, caps, weights)
    assert row["placed_usd"] == pytest.approx(sum(got.values()), rel=1e-9, abs=1e-6)
    # The post-scenario HHI from the independent per-supplier placement.
    values = {c: v for _, c, v, _ in rows if v > 0}
    if row["displaced_usd"] > 0 and concern > 0:
        values["CHN"] = concern - row["displaced_usd"]
    for c, x in got.items():
        values[c] = values.get(c, 0.0) + x
    values["domestic"] = row["reshored_usd"]
    supplied = sum(values.values())
    if supplied > 1e-6 * max(1.0, concern):
        hhi = sum(v * v for v in values.values()) / supplied**2
        assert row["scenario_hhi"] == pytest.approx(hhi, rel=1e-6, abs=1e-9)


# -- draws -----------------------------------------------------------------------
def _draw_case(draws: pl.DataFrame) -> pl.DataFrame:
    f = flows(
        [
            ("850511", "CHN", 80.0, 8.0),
            ("850511", "JPN", 20.0, 2.0),
            ("280530", "CHN", 50.0, 5.0),
            ("280530", "KOR", 50.0, 5.0),
        ]
    )
    w = world(
        [
            ("850511", "JPN", 100.0, 12.0),
            ("850511", "KOR", 60.0, 9.0),
            ("280530", "KOR", 300.0, 11.0),
            ("280530", "AUS", 30.0, 15.0),
        ]
    )
    mb = members(["CHN"], ["JPN", "KOR", "AUS"], overrides={"AUS": 1.0})
    return reallocate(f, w, pl.DataFrame([setting(0.0)]), mb, draws)


def test_make_draws_is_seeded_and_within_ranges() -> None:
    a = make_draws(
        "s",
        200,
        7,
        capacity_expansion=0.25,
        capacity_range=(0.1, 0.5),
        unit_value_range=(0.9, 1.2),
    )
    b = make_draws(
        "s",
        200,
        7,
        capacity_expansion=0.25,
        capacity_range=(0.1, 0.5),
        unit_value_range=(0.9, 1.2),
    )
    c = make_draws(
        "s",
        200,
        8,
        capacity_expansion=0.25,
        capacity_range=(0.1, 0.5),
        unit_value_range=(0.9, 1.2),
    )
    assert a.equals(b) and not a.equals(c)
    assert a["capacity_expansion"].is_between(0.1, 0.5).all()
    assert a["unit_value_scale"].is_between(0.9, 1.2).all()
    # Leaving the capacity range out keeps the scenario's value and does not move
    # the unit-value draws.
    d = make_draws("s", 200, 7, capacity_expansion=0.25, unit_value_range=(0.9, 1.2))
    assert (d["capacity_expansion"] == 0.25).all()
    assert d["unit_value_scale"].equals(a["unit_value_scale"])


def test_draws_are_reproducible_and_ordered() -> None:
    spec = {"capacity_range": (0.05, 0.6), "unit_value_range": (0.8, 1.3)}
    d1 = make_draws("s", 300, 11, capacity_expansion=0.25, **spec)
    keys = ["scenario", "importer", "year", "hs6"]
    one = summarise_draws(_draw_case(d1), keys)
    two = summarise_draws(
        _draw_case(make_draws("s", 300, 11, capacity_expansion=0.25, **spec)), keys
    )
    assert one.equals(two)
    assert one["stat"].to_list() == ["p5", "p50", "p95"] * 2
    for hs6 in ("280530", "850511"):
        part = one.filter(pl.col("hs6") == hs6)
        for col in ("placed_usd", "unmet_usd", "scenario_hhi", "cost_premium_usd"):
            p5, p50, p95 = part[col].to_list()
            assert p5 <= p50 <= p95, (hs6, col)
    # The capacity draw matters: 850511 needs 80 from JPN+KOR (world 160), which a
    # 0.05 draw cannot cover (8) and a 0.6 draw can (96).
    magnets = one.filter(pl.col("hs6") == "850511")
    assert magnets["unmet_usd"][0] == 0.0 < magnets["unmet_usd"][2]


def test_a_single_draw_summary_equals_the_deterministic_run() -> None:
    det = _draw_case(None)
    summary = summarise_draws(det, ["scenario", "importer", "year", "hs6"])
    for stat in ("p5", "p50", "p95"):
        part = summary.filter(pl.col("stat") == stat)
        assert part["placed_usd"].equals(det["placed_usd"])
        assert part["scenario_hhi"].equals(det["scenario_hhi"])


# -- roll-up ---------------------------------------------------------------------
def test_industry_rollup_sums_usd_and_weights_shares_by_import_value() -> None:
    # 850511: V 100, CHN 80 → cap 0: displaced 80; JPN cap 0.25 × 100 = 25,
    #   KOR 0.25 × 60 = 15: placed 40, unmet 40.
    # 280530: V 100, CHN 50: displaced 50, KOR 0.25 × 300 = 75 ≥ 50: placed 50, and
    #   AUS (override 1.0, world 30) shares: λ = 50/330 < 0.25 → nothing binds.
    products = _draw_case(None)
    labels = pl.DataFrame(
        {
            "scenario": ["s", "s"],
            "hs6": ["850511", "280530"],
            "industry": ["mag", "mag"],
        }
    )
    ind = rollup(products, labels).row(0, named=True)
    assert ind["import_value_usd"] == 200.0
    assert ind["displaced_usd"] == 130.0
    assert ind["placed_usd"] == pytest.approx(90.0)
    assert ind["unmet_usd"] == pytest.approx(40.0)
    assert ind["unmet_share"] == pytest.approx(0.2)
    assert ind["baseline_prc_share"] == pytest.approx((0.8 * 100 + 0.5 * 100) / 200)
    # 850511 after: JPN 20 + 25, KOR 15 over 60 supplied → PRC 0; 280530: PRC 0.
    assert ind["scenario_prc_share"] == 0.0
    assert ind["binding_suppliers"] == ["JPN", "KOR"]


def test_world_exports_unit_values_use_only_rows_with_tonnes() -> None:
    # JPN sells 850511 to USA (60 USD, 4 t) and DEU (40 USD, no tonnes): world exports
    # 100 USD; the unit value is 60 / 4 = 15 USD/t, not 100 / 4. KOR reports no
    # tonnes at all: null.
    trade = pl.DataFrame(
        {
            "year": [Y, Y, Y],
            "hs6": ["850511"] * 3,
            "exporter": ["JPN", "JPN", "KOR"],
            "importer": ["USA", "DEU", "USA"],
            "value_usd": [60.0, 40.0, 10.0],
            "quantity_t": [4.0, None, None],
        }
    )
    got = world_exports(trade).sort("exporter")
    assert got["value_usd"].to_list() == [100.0, 10.0]
    assert got["unit_value"].to_list() == [15.0, None]
