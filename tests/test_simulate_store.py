"""Scenarios against a store: hand-worked numbers through the SQL path, blocs, the
SQL/Polars differential, and the bundled real UN Comtrade records."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from friendshore.errors import ParameterError
from friendshore.industries import load_industries
from friendshore.reallocate import reallocate, world_exports
from friendshore.registry import load_registry
from friendshore.scenario import Scenario
from friendshore.simulate import simulate
from friendshore.store import Store, insert_flows

from .conftest import SOURCES

Y = 2022

# (exporter, importer, hs6, value_usd, quantity_t). The USA buys 850511 from CHN 60,
# JPN 30, FRA 10. World exports: JPN 30 + 70 = 100, FRA 10 + 40 = 50, KOR 200,
# CHN 60 + 500 = 560, USA 1000 (the importer itself), TWN 30 (an MNNA, not a treaty
# ally). DEU (EU with FRA) buys from CHN, JPN, KOR, USA and FRA (intra-EU).
FLOWS = [
    ("CHN", "USA", "850511", 60.0, 6.0),
    ("JPN", "USA", "850511", 30.0, 2.0),
    ("FRA", "USA", "850511", 10.0, None),
    ("JPN", "DEU", "850511", 70.0, 5.0),
    ("FRA", "DEU", "850511", 40.0, 4.0),
    ("KOR", "DEU", "850511", 200.0, 25.0),
    ("CHN", "DEU", "850511", 500.0, 50.0),
    ("USA", "DEU", "850511", 1000.0, None),
    ("TWN", "DEU", "850511", 30.0, 3.0),
]


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

    def insert(con, load_id):  # type: ignore[no-untyped-def]
        con.register("_rows", table)
        con.execute(
            """CREATE TEMP TABLE _flows_in AS
               SELECT $y AS year, exporter, importer, hs6, 'HS2017' AS hs_revision,
                      value_usd, quantity_t, $src AS source, $src AS basis,
                      $id AS load_id FROM _rows""",
            {"y": Y, "src": source, "id": load_id},
        ).fetchall()
        con.unregister("_rows")
        insert_flows(con)
        con.execute("DROP TABLE _flows_in").fetchall()
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


def test_a_hand_worked_scenario_through_the_store(flows_store, reg, ind) -> None:
    # V = 100, CHN 60: cap 20 % → displaced 40; reshoring 10 % → 10; 30 to place.
    # Eligible = US treaty allies with world exports: JPN 100, FRA 50, KOR 200 (TWN is
    # an MNNA, not a treaty ally; the USA is the importer). Caps at 0.25: 25, 12.5,
    # 50 (87.5 ≥ 30), so λ = 30 / 350 and nobody binds: JPN + 60/7, FRA + 30/7,
    # KOR + 120/7.
    sc = Scenario(
        name="magnets",
        importer="USA",
        hs=("850511",),
        year=Y,
        max_concern_share=0.2,
        eligible=("us-treaty-allies",),
        reshoring=0.1,
    )
    row = run(flows_store, reg, ind, sc).row(0, named=True)
    assert (row["scenario"], row["importer"], row["year"], row["hs6"]) == (
        "magnets",
        "USA",
        Y,
        "850511",
    )
    assert row["import_value_usd"] == 100.0
    assert row["displaced_usd"] == pytest.approx(40.0)
    assert row["reshored_usd"] == pytest.approx(10.0)
    assert row["placed_usd"] == pytest.approx(30.0)
    assert row["unmet_usd"] == 0.0
    assert row["binding_suppliers"] == []
    assert row["baseline_hhi"] == pytest.approx((60**2 + 30**2 + 10**2) / 100**2)
    after = [20, 30 + 60 / 7, 10 + 30 / 7, 120 / 7, 10]  # CHN, JPN, FRA, KOR, domestic
    assert row["scenario_hhi"] == pytest.approx(sum(v * v for v in after) / 100**2)
    assert row["baseline_ally_share"] == pytest.approx(0.4)  # JPN + FRA
    assert row["scenario_ally_share"] == pytest.approx(0.7)
    # Premium: CHN into the USA 10 USD/t; JPN's world unit value (30 + 70)/(2 + 5),
    # KOR 200/25 = 8, FRA 40/4 = 10 (only its row with tonnes counts).
    moved = {"JPN": 60 / 7, "FRA": 30 / 7, "KOR": 120 / 7}
    uv = {"JPN": 100 / 7, "FRA": 10.0, "KOR": 8.0}
    premium = sum(x * (uv[c] / 10 - 1) for c, x in moved.items())
    assert row["cost_premium_usd"] == pytest.approx(premium)
    assert row["cost_premium_pct"] == pytest.approx(premium)  # V = 100


def test_a_bloc_sums_members_and_excludes_intra_bloc_trade(
    flows_store, reg, ind
) -> None:
    # EU 2022 = … DEU, FRA …: its imports are DEU's from CHN 500, JPN 70, KOR 200,
    # USA 1000, TWN 30 (FRA → DEU is intra-EU) = 1800; CHN share 500/1800.
    # PRC to 0: 500 displaced; FRA and DEU never receive. Default eligibility: every
    # non-concern country: JPN 100, KOR 200, USA 1000, TWN 30 → caps 0.25 × 1330 =
    # 332.5 < 500: all bind, 167.5 unmet.
    sc = Scenario(name="eu", bloc="eu", hs=("850511",), year=Y, max_concern_share=0.0)
    row = run(flows_store, reg, ind, sc).row(0, named=True)
    assert row["importer"] == "eu"
    assert row["import_value_usd"] == 1800.0
    assert row["baseline_prc_share"] == pytest.approx(500 / 1800)
    assert row["placed_usd"] == pytest.approx(332.5)
    assert row["unmet_usd"] == pytest.approx(167.5)
    assert row["binding_suppliers"] == ["USA", "KOR", "JPN", "TWN"]
    assert row["n_binding"] == 4


def test_scenarios_side_by_side_and_the_industry_level(flows_store, reg, ind) -> None:
    a = Scenario(name="a", importer="USA", hs=("850511",), year=Y, max_concern_share=0)
    b = Scenario(
        name="b", importer="all", hs=("850511",), year=Y, max_concern_share=0.5
    )
    both = run(flows_store, reg, ind, a, b)
    assert both.select("scenario", "importer").rows() == [
        ("a", "USA"),
        ("b", "DEU"),
        ("b", "USA"),
    ]
    alone = run(flows_store, reg, ind, a)
    assert both.filter(pl.col("scenario") == "a").equals(alone)
    # An industry scenario rolls up over the industry's codes present in the store.
    mag = Scenario(
        name="m",
        importer="USA",
        industry="permanent-magnets",
        year=Y,
        max_concern_share=0,
    )
    ind_row = run(flows_store, reg, ind, mag, level="industry").row(0, named=True)
    assert ind_row["industry"] == "permanent-magnets"
    assert ind_row["import_value_usd"] == 100.0
    assert ind_row["displaced_usd"] == 60.0


def test_the_store_path_agrees_with_the_polars_engine(tmp_path, reg, ind) -> None:
    # A richer random-ish set (fixed numbers): three products, five importers.
    rows = []
    exporters = ["CHN", "HKG", "JPN", "KOR", "DEU", "FRA", "USA", "AUS", "VNM"]
    importers = ["USA", "DEU", "JPN", "IND", "BRA"]
    for p, hs6 in enumerate(["850511", "280530", "811292"]):
        for i, imp in enumerate(importers):
            for e, exp in enumerate(exporters):
                if exp == imp or (p + i + e) % 4 == 0:
                    continue
                value = float(((p + 3) * (i + 5) * (e + 7)) % 97 + 1) * 1000
                qty = None if (i + e) % 5 == 0 else value / (5 + e)
                rows.append((exp, imp, hs6, value, qty))
    path = tmp_path / "diff.duckdb"
    build_store(path, rows)
    sc = Scenario(
        name="d",
        importer="all",
        hs=("all",),
        year=Y,
        max_concern_share=0.1,
        reshoring=0.02,
        eligible=("us-treaty-allies",),
        capacity_expansion=0.05,
        capacity_expansion_by_supplier=(("JPN", 0.01), ("KOR", 0.5)),
    )
    got = run(path, reg, ind, sc)
    # The same through reallocate() on plain frames built by hand from the rows.
    trade = pl.DataFrame(
        [(Y, e, i, h, v, q) for e, i, h, v, q in rows],
        schema=["year", "exporter", "importer", "hs6", "value_usd", "quantity_t"],
        orient="row",
    )
    concern = reg.members("prc", Y)
    allies = reg.tiers(Y).filter(pl.col("tier") == "ally")["iso3"].to_list()
    eligible = set(reg.members("us-treaty-allies", Y)) - set(concern)
    codes = sorted(set(exporters) | set(allies) | set(concern))
    members = pl.DataFrame(
        {
            "scenario": "d",
            "iso3": codes,
            "concern": [c in concern for c in codes],
            "ally": [c in allies for c in codes],
            "eligible": [c in eligible for c in codes],
            "capacity_expansion": [{"JPN": 0.01, "KOR": 0.5}.get(c) for c in codes],
        }
    )
    settings = pl.DataFrame(
        [
            {
                "scenario": "d",
                "max_concern_share": 0.1,
                "reshoring": 0.02,
                "capacity_expansion": 0.05,
            }
        ]
    )
    want = reallocate(
        trade.with_columns(pl.lit("d").alias("scenario")),
        world_exports(trade),
        settings,
        members,
    ).drop("draw")
    assert got.height == want.height == 15
    for col in want.columns:
        if want[col].dtype == pl.Float64:
            assert got[col].to_list() == pytest.approx(
                want[col].to_list(), nan_ok=True
            ), col
        else:
            assert got[col].cast(want[col].dtype).to_list() == want[col].to_list(), col
    assert got["n_binding"].sum() > 0  # the override classes were exercised


def test_unknown_year_and_override_of_an_ineligible_supplier(
    flows_store, reg, ind
) -> None:
    sc = Scenario(
        name="x", importer="USA", hs=("850511",), year=2019, max_concern_share=0
    )
    with pytest.raises(ParameterError, match=r"^command line, --year: .*2019"):
        run(flows_store, reg, ind, sc)
    sc = Scenario(
        name="x",
        importer="USA",
        hs=("850511",),
        year=Y,
        max_concern_share=0,
        eligible=("us-treaty-allies",),
        capacity_expansion_by_supplier=(("TWN", 0.5),),
    )
    with pytest.raises(ParameterError) as info:
        run(flows_store, reg, ind, sc)
    assert str(info.value) == (
        "command line, --capacity-expansion-by-supplier: "
        "TWN is not an eligible supplier in 2022"
    )


def _comtrade_2022(partner: str) -> float:
    """USA imports of 811292 in 2022 from a partner, read straight from the CSV."""
    path = SOURCES / "comtrade" / "gallium_trade_data.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if (r["reporterCode"], r["refYear"], r["cmdCode"], r["flowCode"]) == (
                "842",
                "2022",
                "811292",
                "M",
            ) and r["partnerCode"] == partner:
                return float(r["primaryValue"])
    raise AssertionError(f"no row for partner {partner}")


def test_real_comtrade_records(cli, db_path, reg, ind) -> None:
    # The bundled Comtrade download names only the PRC and the World as partners of
    # the USA; the rest of the World total is an unspecified area, which never
    # receives displaced imports: capping the PRC leaves all of it unmet.
    path = SOURCES / "comtrade" / "gallium_trade_data.csv"
    assert cli("load", "comtrade", path).exit_code == 0
    world, china = _comtrade_2022("0"), _comtrade_2022("156")
    sc = Scenario(
        name="ga", importer="USA", hs=("811292",), year=2022, max_concern_share=0.1
    )
    row = run(db_path, reg, ind, sc).row(0, named=True)
    assert row["import_value_usd"] == pytest.approx(world)
    assert row["baseline_prc_share"] == pytest.approx(china / world)
    assert row["displaced_usd"] == pytest.approx(china - 0.1 * world)
    assert row["unmet_usd"] == pytest.approx(china - 0.1 * world)
    assert row["placed_usd"] == 0.0
    assert row["scenario_prc_share"] == pytest.approx(
        0.1 * world / (world - row["unmet_usd"])
    )
