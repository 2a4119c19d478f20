"""Coalition league tables and partner suggestions (issue 19), checked against an
independent solve written here: a damped fixed point on each product's exporter
prices, p ← p (demand / supply)^(1/(σ + ε)) (DESIGN.md, "Scenario model"), loop
by loop over plain dicts, sharing no code with the package's solver."""

from __future__ import annotations

import hashlib
import io
import json
import math
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from friendshore import report
from friendshore.engines.scenarios import coalitions
from friendshore.engines.scenarios.coalitions import (
    SKIP_CONCERN,
    SKIP_NO_TRADE,
    Basket,
    Partners,
    Settings,
    league_table,
    partner_table,
    resolve_coalitions,
)
from friendshore.engines.scenarios.solver import Elasticities, Policy, solve
from friendshore.errors import ParameterError, UnknownNameError
from friendshore.reference.registry import load_registry
from friendshore.store import Store
from friendshore.store.writes import Writer

from .conftest import run_cli

SIGMA, ETA, EPS, EXPANSION = 3.0, 0.5, 1.0, 0.5
CONCERN = ("CHN",)

# Two real products of the batteries basket (graphite 250410, cobalt oxides 282200);
# CHN sells to every importer. Values in USD.
FLOWS: dict[tuple[str, str, str], float] = {
    # product 250410
    ("250410", "CHN", "USA"): 60_000.0,
    ("250410", "CHN", "FRA"): 40_000.0,
    ("250410", "CHN", "IND"): 25_000.0,
    ("250410", "CHN", "BRA"): 15_000.0,
    ("250410", "DEU", "USA"): 10_000.0,
    ("250410", "DEU", "FRA"): 20_000.0,
    ("250410", "DEU", "IND"): 5_000.0,
    ("250410", "JPN", "USA"): 30_000.0,
    ("250410", "JPN", "IND"): 8_000.0,
    ("250410", "KOR", "FRA"): 12_000.0,
    ("250410", "KOR", "BRA"): 9_000.0,
    ("250410", "USA", "GBR"): 14_000.0,
    ("250410", "CHN", "GBR"): 11_000.0,
    ("250410", "CHN", "KOR"): 7_000.0,
    ("250410", "DEU", "KOR"): 3_000.0,
    # product 282200
    ("282200", "CHN", "DEU"): 50_000.0,
    ("282200", "CHN", "JPN"): 35_000.0,
    ("282200", "CHN", "BRA"): 20_000.0,
    ("282200", "USA", "DEU"): 15_000.0,
    ("282200", "USA", "JPN"): 5_000.0,
    ("282200", "KOR", "JPN"): 25_000.0,
    ("282200", "KOR", "DEU"): 10_000.0,
    ("282200", "FRA", "BRA"): 6_000.0,
    ("282200", "FRA", "DEU"): 4_000.0,
    ("282200", "IND", "USA"): 18_000.0,
    ("282200", "CHN", "USA"): 22_000.0,
}

COALITIONS = {
    "west": ("DEU", "FRA", "GBR", "USA"),
    "asia": ("IND", "JPN", "KOR"),
    "south": ("BRA", "IND"),
}


def _frame(flows: dict[tuple[str, str, str], float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "hs6": [k for k, _, _ in flows],
            "exporter": [e for _, e, _ in flows],
            "importer": [m for _, _, m in flows],
            "value_usd": list(flows.values()),
        }
    )


def _basket(flows: dict[tuple[str, str, str], float] = FLOWS) -> Basket:
    return Basket.from_frame(
        _frame(flows), year=2022, concern_members=CONCERN, label="fixture"
    )


SETTINGS = Settings(
    elasticities=Elasticities(SIGMA, ETA, EPS), capacity_expansion=EXPANSION
)


# -- the independent route ---------------------------------------------------------------


def _clear(
    flows: dict[tuple[str, str], float],
    tau: dict[tuple[str, str], float],
    cap: dict[str, float],
) -> tuple[dict[str, float], dict[str, float], dict[tuple[str, str], float]]:
    """One product: exporter prices, importer price indices, bilateral quantities.

    Damped fixed point p_e ← p_e (D_e / X_e)^(1/(σ+ε)) from the baseline, until
    every market clears to 1e-13 of its baseline exports.
    """
    exporters = sorted({e for e, _ in flows})
    importers = sorted({m for _, m in flows})
    v_m = {m: sum(v for (_, i), v in flows.items() if i == m) for m in importers}
    x0 = {e: sum(v for (x, _), v in flows.items() if x == e) for e in exporters}
    price = dict.fromkeys(exporters, 1.0)

    def state() -> tuple[dict[str, float], dict[tuple[str, str], float]]:
        index: dict[str, float] = {}
        qty: dict[tuple[str, str], float] = {}
        for m in importers:
            live = [
                (e, v / v_m[m], tau.get((e, m), 1.0) * price[e])
                for (e, i), v in flows.items()
                if i == m and math.isfinite(tau.get((e, m), 1.0))
            ]
            total = sum(th * tp ** (1 - SIGMA) for _, th, tp in live)
            index[m] = total ** (1 / (1 - SIGMA)) if total > 0 else math.inf
            q = v_m[m] * index[m] ** (-ETA) if total > 0 else 0.0
            for e, th, tp in live:
                qty[(e, m)] = th * q * (tp / index[m]) ** (-SIGMA)
        return index, qty

    for _ in range(200_000):
        index, qty = state()
        worst = 0.0
        for e in exporters:
            dem = sum(q for (x, _), q in qty.items() if x == e)
            sup = min(x0[e] * price[e] ** EPS, cap.get(e, 1.0) * x0[e])
            worst = max(worst, abs(dem - sup) / x0[e])
            price[e] *= (dem / sup) ** (1 / (SIGMA + EPS))
        if worst < 1e-13:
            return price, index, qty
    raise AssertionError("reference did not converge")


def _reference(
    members: set[str],
    eligible: set[str],
    report: set[str] | None = None,
    flows: dict[tuple[str, str, str], float] = FLOWS,
) -> dict[str, float]:
    """The figures (module docstring of coalitions.py) by hand: ``members`` ban
    the concern, figures are summed over the importers in ``report`` (default
    the members)."""
    report = members if report is None else report
    tot = dict.fromkeys(
        ("v", "dp", "q", "cs", "c0", "x0c", "pxc", "c_out0", "c_out1"), 0.0
    )
    for k in sorted({k for k, _, _ in flows}):
        f = {(e, m): v for (kk, e, m), v in flows.items() if kk == k}
        tau = {(e, m): math.inf for (e, m) in f if e in CONCERN and m in members}
        cap = {e: 1.0 + EXPANSION for e, _ in f if e in eligible}
        price, index, qty = _clear(f, tau, cap)
        for m in {m for _, m in f} & report:
            v = sum(val for (_, i), val in f.items() if i == m)
            big_p = index[m]
            tot["v"] += v
            tot["dp"] += v * (big_p - 1)
            tot["q"] += v * big_p ** (-ETA)
            tot["cs"] += -v * (big_p ** (1 - ETA) - 1) / (1 - ETA)
        for (e, m), val in f.items():
            if e in CONCERN:
                if m in report:
                    tot["c0"] += val
                else:
                    tot["c_out0"] += val
                    tot["c_out1"] += qty.get((e, m), 0.0)
        for e in {e for e, _ in f} & set(CONCERN):
            x0 = sum(val for (x, _), val in f.items() if x == e)
            tot["x0c"] += x0
            tot["pxc"] += price[e] * min(x0 * price[e] ** EPS, cap.get(e, 1.0) * x0)
    return {
        "import_value_usd": tot["v"],
        "import_price_change_pct": 100 * tot["dp"] / tot["v"],
        "import_quantity_change_pct": 100 * (tot["q"] / tot["v"] - 1),
        "consumer_surplus_change_usd": tot["cs"],
        "concern_share": tot["c0"] / tot["v"],
        "concern_export_value_change_pct": 100 * (tot["pxc"] / tot["x0c"] - 1),
        "diverted_share": (tot["c_out1"] - tot["c_out0"]) / tot["c0"],
    }


# Settings(eligible="all"): every supplier but the concern may add capacity.
ELIGIBLE = {e for _, e, _ in FLOWS} | {m for _, _, m in FLOWS}
ELIGIBLE -= set(CONCERN)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-6)


def test_reference_reproduces_the_issue_15_worked_case() -> None:
    """The independent route itself, on the scenario issue's published numbers."""
    flows = {
        ("CHN", "USA"): 60_000.0,
        ("CHN", "FRA"): 40_000.0,
        ("DEU", "USA"): 10_000.0,
        ("DEU", "FRA"): 20_000.0,
        ("JPN", "USA"): 30_000.0,
    }
    price, index, _ = _clear(
        flows, {("CHN", "USA"): math.inf}, {"DEU": 1.5, "JPN": 1.5}
    )
    assert 100 * (index["USA"] - 1) == pytest.approx(253.9915, abs=5e-5)
    assert 100 * (index["FRA"] - 1) == pytest.approx(-16.0129, abs=5e-5)
    assert 100 * (price["CHN"] - 1) == pytest.approx(-28.6904, abs=5e-5)


# -- the league table ----------------------------------------------------------------------


def test_three_coalitions_ranking_and_every_figure_match_the_reference() -> None:
    table = league_table(_basket(), COALITIONS, SETTINGS)
    expected = {n: _reference(set(m), set(m)) for n, m in COALITIONS.items()}
    order = sorted(expected, key=lambda n: expected[n]["import_price_change_pct"])
    assert table["coalition"].to_list() == order
    assert table["rank"].to_list() == [1, 2, 3]
    # The fixture is built so the ranking is not the order of the input.
    assert order != list(COALITIONS)
    for row in table.iter_rows(named=True):
        want = expected[row["coalition"]]
        for key, value in want.items():
            assert _close(row[key], value), (row["coalition"], key, row[key], value)
        assert row["members"] == sorted(COALITIONS[row["coalition"]])
        assert row["scenario_concern_share"] == 0.0  # a ban leaves no concern share


def test_every_supplier_eligible_matches_the_reference() -> None:
    """``eligible="all"``: capacity from every supplier but the concern."""
    settings = Settings(
        elasticities=Elasticities(SIGMA, ETA, EPS),
        capacity_expansion=EXPANSION,
        eligible="all",
    )
    table = league_table(_basket(), COALITIONS, settings)
    for row in table.iter_rows(named=True):
        want = _reference(set(COALITIONS[row["coalition"]]), ELIGIBLE)
        for key, value in want.items():
            assert _close(row[key], value), (row["coalition"], key, row[key], value)
    # More capacity than the members' own: a smaller price rise for every coalition.
    own = league_table(_basket(), COALITIONS, SETTINGS).sort("coalition")
    wider = table.sort("coalition")
    assert (wider["import_price_change_pct"] < own["import_price_change_pct"]).all()


def test_a_coalition_of_one_equals_the_single_importer_scenario() -> None:
    basket = _basket()
    row = league_table(basket, {"USA": ("USA",)}, SETTINGS).row(0, named=True)
    sol = solve(
        basket.markets,
        Policy(
            coalition=frozenset({"USA"}),
            concern=frozenset(CONCERN),
            eligible=frozenset({"USA"}),
            capacity_expansion=EXPANSION,
        ),
        Elasticities(SIGMA, ETA, EPS),
    )
    usa = sol.importers().filter(pl.col("importer") == "USA")
    v = usa["import_value_usd"]
    price = (v * (usa["price_index"] - 1)).sum() / v.sum()
    assert row["import_value_usd"] == pytest.approx(v.sum(), rel=1e-12)
    assert row["import_price_change_pct"] == pytest.approx(100 * price, rel=1e-12)
    assert row["scenario_concern_share"] == 0.0
    ref = _reference({"USA"}, {"USA"})
    assert _close(
        row["consumer_surplus_change_usd"], ref["consumer_surplus_change_usd"]
    )


def test_adding_a_country_with_no_trade_changes_nothing() -> None:
    table = league_table(
        _basket(),
        {"west": COALITIONS["west"], "west+ISL": (*COALITIONS["west"], "ISL")},
        SETTINGS,
    )
    a, b = (table.filter(pl.col("coalition") == n) for n in ("west", "west+ISL"))
    figures = [
        c
        for c in table.columns
        if c not in ("coalition", "members", "n_members", "rank")
    ]
    assert a.select(figures).to_dicts() == b.select(figures).to_dicts()
    assert b["n_members"].item() == 5


def test_a_coalition_naming_the_concern_is_refused() -> None:
    with pytest.raises(ParameterError, match=r"contains the concern \(CHN\)"):
        league_table(_basket(), {"bad": ("USA", "CHN")}, SETTINGS)


def test_a_tariff_of_zero_is_the_baseline() -> None:
    table = league_table(
        _basket(), COALITIONS, Settings(policy="tariff", tariff=0.0)
    ).sort("coalition")
    assert table["import_price_change_pct"].to_list() == [0.0, 0.0, 0.0]
    assert table["consumer_surplus_change_usd"].to_list() == [0.0, 0.0, 0.0]
    assert table["diverted_share"].to_list() == [0.0, 0.0, 0.0]


# -- partner suggestions -------------------------------------------------------------------


@pytest.mark.parametrize("subset_share", [0.0, 1.0])
def test_partners_match_the_reference_and_rank_by_the_reduction(
    monkeypatch: pytest.MonkeyPatch, subset_share: float
) -> None:
    """Both routes: every candidate on the whole basket (0.0), or on the products
    its joining changes only (1.0)."""
    monkeypatch.setattr(coalitions, "SUBSET_SHARE", subset_share)
    members = COALITIONS["west"]
    table = partner_table(
        _basket(),
        "west",
        members,
        SETTINGS,
        candidates=["BRA", "IND", "JPN", "KOR", "CHN", "ISL", "USA"],
    )
    ran = table.filter(pl.col("skipped").is_null())
    assert sorted(ran["candidate"]) == ["BRA", "IND", "JPN", "KOR"]  # USA: a member
    skipped = dict(
        table.filter(pl.col("skipped").is_not_null())
        .select("candidate", "skipped")
        .iter_rows()
    )
    assert skipped == {"CHN": SKIP_CONCERN, "ISL": SKIP_NO_TRADE}
    alone = _reference(set(members), set(members))
    for row in ran.iter_rows(named=True):
        cand = row["candidate"]
        joined = set(members) | {cand}
        # The original members' figures with the candidate in the coalition.
        mine = _reference(joined, joined, report=set(members))
        for key in (
            "import_price_change_pct",
            "consumer_surplus_change_usd",
            "concern_export_value_change_pct",
        ):
            assert _close(row[key], mine[key]), (cand, key)
        assert _close(
            row["diverted_share"], _reference(joined, joined)["diverted_share"]
        )
        assert _close(
            row["coalition_price_change_pct"], alone["import_price_change_pct"]
        )
        assert _close(
            row["price_change_reduction_pp"],
            alone["import_price_change_pct"] - mine["import_price_change_pct"],
        )
        own = _reference(joined, joined, report={cand})
        outside = _reference(set(members), set(members), report={cand})
        assert _close(row["candidate_price_change_pct"], own["import_price_change_pct"])
        assert _close(
            row["candidate_price_change_outside_pct"],
            outside["import_price_change_pct"],
        )
    reductions = ran["price_change_reduction_pp"].to_list()
    assert reductions == sorted(reductions, reverse=True)
    # KOR brings capacity in both products and helps; the pure importers cost.
    assert ran["candidate"][0] == "KOR" and reductions[0] > 0 > reductions[-1]
    assert ran["rank"].to_list() == list(range(1, ran.height + 1))


def test_a_candidate_changing_one_product_keeps_the_other_as_it_was() -> None:
    """GBR imports only 250410 and exports nothing: joining "asia" re-solves that
    product alone; the figures still equal the reference's whole solve."""
    members = COALITIONS["asia"]
    row = (
        partner_table(_basket(), "asia", members, SETTINGS, candidates=["GBR"])
        .filter(pl.col("candidate") == "GBR")
        .row(0, named=True)
    )
    joined = set(members) | {"GBR"}
    mine = _reference(joined, joined, report=set(members))
    for key in ("import_price_change_pct", "consumer_surplus_change_usd"):
        assert _close(row[key], mine[key]), key
    own = _reference(joined, joined, report={"GBR"})
    assert _close(row["candidate_price_change_pct"], own["import_price_change_pct"])


def test_every_candidate_outside_is_considered_by_default() -> None:
    table = partner_table(_basket(), "asia", COALITIONS["asia"], SETTINGS)
    ran = set(table.filter(pl.col("skipped").is_null())["candidate"])
    assert ran == {"BRA", "DEU", "FRA", "GBR", "USA"}
    assert table.filter(pl.col("candidate") == "CHN")["skipped"].item() == SKIP_CONCERN
    assert table.filter(pl.col("candidate") == "NOR")["skipped"].item() == SKIP_NO_TRADE


def test_partners_notes_ranked_rows_and_empty_note() -> None:
    """The rules partners suggest prints (the library's): the skipped candidates,
    then the coalition's own price rise (the first ranked row's), the --top rows
    of the candidates that ran, and the note when none ran."""
    members = COALITIONS["west"]
    table = partner_table(
        _basket(), "west", members, SETTINGS, candidates=["KOR", "IND", "CHN", "ISL"]
    )
    found = Partners("west", table, "fixture")
    alone = _reference(set(members), set(members))["import_price_change_pct"]
    assert found.notes == (
        "skipped 1 candidate(s), members of the concern group: CHN",
        "skipped 1 candidate(s), no trade in fixture: ISL",
        f"west alone: members' import price {alone:+.2f} %",
    )
    top = found.ranked(1)
    assert top["candidate"].to_list() == ["KOR"] and "skipped" not in top.columns
    assert found.ranked()["candidate"].to_list() == ["KOR", "IND"]
    nobody = Partners("west", table.filter(pl.col("skipped").is_not_null()), "HS 1")
    assert nobody.ranked().is_empty()
    assert nobody.notes[-1] == "skipped 1 candidate(s), no trade in HS 1: ISL"
    assert nobody.empty_note == "no candidate outside west trades in HS 1"


def test_settings_from_flat_options() -> None:
    got = Settings.of(policy="cap", max_concern_share=0.2, substitution=2.0)
    assert got == Settings(
        policy="cap",
        max_concern_share=0.2,
        elasticities=Elasticities(2.0, 0.6, 1.5),  # η and ε: the scenario defaults
    )
    with pytest.raises(ParameterError, match="--policy tariff needs --tariff above"):
        Settings.of(policy="tariff")
    assert Settings.of(policy="tariff", tariff=0.25).tariff == 0.25


# -- which coalitions ----------------------------------------------------------------------


def test_default_coalitions_are_alliances_and_partnerships_of_two_or_more() -> None:
    reg = load_registry()
    chosen = resolve_coalitions(reg, 2022, None)
    assert "quad" in chosen.members and "nato" in chosen.members
    assert "prc" not in chosen.members and "us-fta" not in chosen.members  # agreement
    assert all(len(m) >= 2 for m in chosen.members.values())
    assert chosen.members["quad"] == ("AUS", "IND", "JPN", "USA")


def test_unknown_group_has_a_did_you_mean() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'quad'"):
        resolve_coalitions(load_registry(), 2022, ["qaud"])


def test_a_concern_group_or_member_is_not_a_coalition() -> None:
    reg = load_registry()
    with pytest.raises(ParameterError, match="group of concern"):
        resolve_coalitions(reg, 2022, ["prc"])
    with pytest.raises(ParameterError, match="contains the concern"):
        resolve_coalitions(reg, 2022, ["CHN"])


# -- through the store and the CLI ---------------------------------------------------------

USER_GROUPS = """
[groups.west]
members = ["DEU", "FRA", "GBR", "USA"]
[groups.asia]
members = ["IND", "JPN", "KOR"]
[groups.south]
members = ["BRA", "IND"]
[groups.with-china]
members = ["USA", "CHN"]
[groups.nordic]
members = ["ISL", "NOR"]
"""


def _store(path: Path, flows: dict[tuple[str, str, str], float] = FLOWS) -> None:
    """A store whose trade_flows hold ``flows`` in 2022 (one load)."""
    table = pa.table(
        {
            "exporter": [e for _, e, _ in flows],
            "importer": [m for _, _, m in flows],
            "hs6": [k for k, _, _ in flows],
            "value_usd": list(flows.values()),
        }
    )

    def insert(w: Writer, load_id: int) -> tuple[int, tuple[int, ...]]:
        w.flow_rows(
            pl.from_arrow(table).with_columns(  # type: ignore[union-attr]
                year=pl.lit(2022, pl.Int16),
                hs_revision=pl.lit("HS2017"),
                quantity_t=pl.lit(None, pl.Float64),
                basis=pl.lit("baci"),
            ),
            source="baci",
        )
        return len(flows), (2022,)

    with Store(path) as store:
        store.record_load(
            source="baci",
            file_name="coalitions.csv",
            file_path="coalitions.csv",
            sha256=hashlib.sha256(repr(flows).encode()).hexdigest(),
            dataset_key="HS17:2022",
            target="trade_flows",
            insert=insert,
        )


MODEL = ["--substitution", "3", "--demand", "0.5", "--supply", "1"]
MODEL += ["--capacity-expansion", "0.5"]


@pytest.fixture
def groups_file(tmp_path: Path) -> Path:
    path = tmp_path / "groups.toml"
    path.write_text(USER_GROUPS)
    return path


def test_cli_league_table_equals_the_reference(
    db_path: Path, groups_file: Path
) -> None:
    _store(db_path)
    hs = ["--hs", "250410", "--hs", "282200"]
    res = run_cli(
        "coalitions", *hs, "--year", "2022", "--registry", groups_file,
        "--groups", "west", "asia", "south", *MODEL, "--format", "json",
        db=db_path,
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    rows = json.loads(res.stdout)
    expected = {n: _reference(set(m), set(m)) for n, m in COALITIONS.items()}
    order = sorted(expected, key=lambda n: expected[n]["import_price_change_pct"])
    assert [r["coalition"] for r in rows] == order
    for row in rows:
        for key, value in expected[row["coalition"]].items():
            assert _close(row[key], value), (row["coalition"], key)
    table = run_cli(
        "coalitions", *hs, "--registry", groups_file, "--groups", "west",
        "--groups", "asia", db=db_path,
    )  # fmt: skip
    assert table.exit_code == 0, table.stderr
    assert "price %" in table.stdout and "west" in table.stdout


def test_cli_partners_suggest_ranks_and_names_the_skipped(
    db_path: Path, groups_file: Path
) -> None:
    _store(db_path)
    res = run_cli(
        "partners", "suggest", "--coalition", "west", "--hs", "250410",
        "--hs", "282200", "--registry", groups_file, *MODEL, "--top", "2",
        "--format", "csv", db=db_path,
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    got = pl.read_csv(io.StringIO(res.stdout))
    assert got.height == 2 and got["rank"].to_list() == [1, 2]
    assert "members of the concern group: CHN, HKG, MAC" in res.stderr
    assert "no trade in HS 250410, 282200" in res.stderr
    assert "west alone: members' import price" in res.stderr
    api = partner_table(_basket(), "west", COALITIONS["west"], SETTINGS)
    best = api.filter(pl.col("rank") <= 2)
    assert got["candidate"].to_list() == best["candidate"].to_list()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["coalitions", "--hs", "250410", "--groups", "qaud"], "Did you mean 'quad'?"),
        (
            ["coalitions", "--hs", "250410", "--groups", "with-china"],
            "--groups with-china: the coalition contains the concern (CHN, prc)",
        ),
        (["coalitions", "--hs", "250410", "--groups", "prc"], "group of concern"),
        (
            ["coalitions", "--hs", "811292", "--groups", "west"],
            "HS 811292 (HS2017) in 2022: no trade flows matched",
        ),
        (
            ["partners", "suggest", "--coalition", "west", "--hs", "811292"],
            "no trade flows matched",
        ),
        (
            ["partners", "suggest", "--coalition", "wset", "--hs", "250410"],
            "Did you mean 'west'?",
        ),
        (["coalitions", "--hs", "250410", "--substitution", "1"], "substitution"),
        (["coalitions", "--groups", "west"], "give --industry or --hs"),
        (["coalitions", "--hs", "000000"], "unknown HS6 code '000000'"),
        (["coalitions", "--industry", "batteris"], "Did you mean 'batteries'?"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    db_path: Path, groups_file: Path, args: list[str], message: str
) -> None:
    _store(db_path)
    res = run_cli(*args, "--registry", groups_file, db=db_path)
    assert res.exit_code == 2, (res.stdout, res.stderr)
    assert res.stderr.startswith("Error: ") and len(res.stderr.splitlines()) == 1
    assert message in res.stderr


def test_cli_parquet_carries_provenance(
    db_path: Path, groups_file: Path, tmp_path: Path
) -> None:
    _store(db_path)
    out = tmp_path / "league.parquet"
    res = run_cli(
        "coalitions", "--hs", "250410", "--registry", groups_file,
        "--groups", "west", "--format", "parquet", "--out", out, db=db_path,
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    meta = pq.read_schema(out).metadata
    assert meta[b"friendshore.command"] == b"coalitions"
    assert pl.read_parquet(out)["coalition"].to_list() == ["west"]


# -- the report section --------------------------------------------------------------------


def test_report_has_the_league_table_and_its_chart(
    db_path: Path, tmp_path: Path
) -> None:
    """The fixture's codes are defense-basket inputs (batteries: graphite 250410,
    cobalt oxides 282200), so the report's basket finds the flows."""
    flows = FLOWS
    _store(db_path, flows)
    with Store(db_path, read_only=True) as store:
        data = report.build_report(store, importer="USA", coalitions=True)
    league = data.tables["coalitions"]
    want = league_table(
        _basket(flows), {"quad": ("AUS", "IND", "JPN", "USA")}, Settings()
    )
    got = league.filter(pl.col("coalition") == "quad")
    for key in ("import_value_usd", "import_price_change_pct", "diverted_share"):
        assert got[key].item() == pytest.approx(want[key].item(), rel=1e-12)
    out = tmp_path / "report"
    report.write_report(data, out)
    written = pq.read_table(out / "coalitions.parquet").to_pylist()
    assert [r["coalition"] for r in written] == league["coalition"].to_list()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="coalition-league"' in page
    start = page.index('id="spec-coalition-league">') + len(
        'id="spec-coalition-league">'
    )
    spec = json.loads(page[start : page.index("</script>", start)])
    (values,) = spec["datasets"].values()  # altair names its one inline dataset
    labels = [v["label"] for v in values]
    ranked = league.filter(pl.col("rank").is_not_null())
    assert labels[: ranked.height] == [
        f"{r}. {c}" for r, c in ranked.select("rank", "coalition").iter_rows()
    ]


def test_report_without_basket_trade_says_so(db_path: Path) -> None:
    _store(db_path, {("010121", "CHN", "USA"): 1.0})  # horses: no defense input
    with Store(db_path, read_only=True) as store:
        data = report.build_report(store, coalitions=True)
    assert "coalitions" not in data.tables
    assert any(n.startswith("No coalition league table:") for n in data.notes)


def test_cli_json_is_strict_json_when_a_member_is_cut_off(
    db_path: Path, groups_file: Path
) -> None:
    """BRA buys 260500 only from CHN: banned, its price index is unbounded; JSON
    has no infinity, so the figure is null there and cut_off_usd says why."""
    _store(db_path, {**FLOWS, ("260500", "CHN", "BRA"): 1_000.0})
    res = run_cli(
        "coalitions", "--hs", "250410", "--hs", "260500", "--registry", groups_file,
        "--groups", "south", "--format", "json", db=db_path,
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    (row,) = json.loads(res.stdout, parse_constant=_no_constants)
    assert row["import_price_change_pct"] is None
    assert row["cut_off_usd"] == 1_000.0
    assert row["supplied_price_change_pct"] > 0
    csv = run_cli(
        "coalitions", "--hs", "250410", "--hs", "260500", "--registry", groups_file,
        "--groups", "south", "--format", "csv", db=db_path,
    )  # fmt: skip
    assert (
        pl.read_csv(io.StringIO(csv.stdout))["import_price_change_pct"][0] == math.inf
    )


def _no_constants(name: str) -> None:
    raise AssertionError(f"not strict JSON: {name}")


def test_cli_a_coalition_without_trade_is_named_on_stderr(
    db_path: Path, groups_file: Path
) -> None:
    _store(db_path)
    res = run_cli(
        "coalitions", "--hs", "250410", "--registry", groups_file,
        "--groups", "west", "nordic", "--format", "csv", db=db_path,
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert "no member of nordic imports HS 250410 (HS2017) in 2022" in res.stderr
    got = pl.read_csv(io.StringIO(res.stdout))
    assert got["coalition"].to_list() == ["west", "nordic"]
    assert got["rank"].to_list() == [1, None]


@pytest.mark.slow
def test_the_league_chart_draws_in_a_browser_on_bundled_data(tmp_path: Path) -> None:
    """report --coalitions on the bundled Comtrade records, opened offline in
    headless Chromium: the league chart draws bars and logs no error."""
    from friendshore import sources

    from .conftest import SOURCES
    from .test_report_browser import Charts, chromium, console_lines

    with Store(tmp_path / "store.duckdb") as store:
        sources.load(store, "comtrade", sorted((SOURCES / "comtrade").glob("*.csv")))
        data = report.build_report(store, importer="USA", coalitions=True)
    assert data.tables["coalitions"].height >= 8
    out = tmp_path / "report"
    report.write_report(data, out)
    run = chromium(tmp_path / "profile", "--dump-dom", (out / "report.html").as_uri())
    dom = Charts()
    dom.feed(run.stdout)
    attrs = dom.charts["spec-coalition-league"]
    assert attrs.get("data-rendered") == "true", attrs.get("data-error")
    assert dom.marks.get("spec-coalition-league", 0) > 0
    assert console_lines(run.stderr) == []


def test_cli_a_coalition_of_one_equals_friendshore_simulate(
    db_path: Path, groups_file: Path
) -> None:
    """The same ban through both commands, at the defaults both share (every
    country but the concern may add capacity: --eligible all)."""
    _store(db_path)
    hs = ["--hs", "250410", "--hs", "282200"]
    sim = run_cli(
        "simulate", "--importer", "USA", *hs, "--policy", "ban", "--level",
        "industry", "--format", "json", db=db_path,
    )  # fmt: skip
    assert sim.exit_code == 0, sim.stderr
    (want,) = json.loads(sim.stdout)
    got = run_cli(
        "coalitions", *hs, "--groups", "USA", "--eligible", "all", "--format",
        "json", db=db_path,
    )  # fmt: skip
    assert got.exit_code == 0, got.stderr
    (row,) = json.loads(got.stdout)
    for key in (
        "import_value_usd",
        "import_price_change_pct",
        "import_quantity_change_pct",
        "consumer_surplus_change_usd",
        "concern_share",
        "scenario_concern_share",
    ):
        assert row[key] == pytest.approx(want[key], rel=1e-9), key
