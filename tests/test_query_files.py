"""Each ``queries/*.sql`` file on a few hand-made input rows → the rows it must return.

The expected rows are worked by hand from the inputs below (the comments show the
sums); nothing here is computed by the package. Flows come in three loads: load 1
(2022, the one selected), load 2 (2021) and load 3 (2022, another release that the
selection leaves out), so every query also shows that it reads the store's one row
filter (``selected_flows``): only selected loads, values > 0, six-digit codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from friendshore._assets import query_sql
from friendshore.store import FLOW_COLUMNS, Store, insert_flow_rows
from friendshore.store.layout import KEY_BASE

QUERIES = Path(__file__).resolve().parent.parent / "queries"

# (load_id, year, exporter, importer, hs, value_usd, quantity_t)
FLOWS = [
    (1, 2022, "CHN", "USA", "850511", 100.0, 10.0),
    (1, 2022, "DEU", "USA", "850511", 50.0, None),
    (1, 2022, "JPN", "USA", "850511", 50.0, 5.0),
    (1, 2022, "CHN", "DEU", "850511", 30.0, None),
    (1, 2022, "CHN", "USA", "8505", 999.0, None),  # HS4 aggregate: not six digits
    (1, 2022, "KOR", "USA", "811292", 20.0, None),
    (1, 2022, "CHN", "USA", "811292", 0.0, None),  # zero value: never a supplier
    (2, 2021, "CHN", "USA", "850511", 70.0, None),
    (3, 2022, "CHN", "USA", "850511", 1000.0, None),  # a load not selected
]
ONLY_2022 = {
    "all_loads": False,
    "keys": [2022 * KEY_BASE + 1],
    "year_min": 2022,
    "year_max": 2022,
}
BOTH_YEARS = {
    "all_loads": False,
    "keys": [2021 * KEY_BASE + 2, 2022 * KEY_BASE + 1],
    "year_min": 2021,
    "year_max": 2022,
}
EVERY_SIX_DIGIT = {"all_hs": True, "hs": []}


@pytest.fixture
def flows() -> Iterator[Store]:
    with Store(":memory:") as store:
        rows = pl.DataFrame(
            [
                (y, e, i, hs, "HS2017", v, q, "baci", "baci", load)
                for load, y, e, i, hs, v, q in FLOWS
            ],
            schema=dict.fromkeys(FLOW_COLUMNS),
            orient="row",
        ).cast({"year": pl.Int16, "value_usd": pl.Float64, "quantity_t": pl.Float64})
        with store.transaction() as con:
            insert_flow_rows(con, rows)
        yield store


def run(store: Store, name: str, **params: Any) -> list[dict[str, Any]]:
    return store.pl(query_sql(name), params).to_dicts()


def ids(store: Store) -> dict[str, int]:
    return dict(store.fetchall("SELECT iso3, id FROM country_ids"))


def by_id(store: Store, values: dict[str, Any], default: Any) -> list[Any]:
    """A list indexed by country id (1-based, as the queries index it)."""
    known = ids(store)
    out = [default] * max(known.values())
    for iso3, value in values.items():
        out[known[iso3] - 1] = value
    return out


def key(rows: list[dict[str, Any]], *cols: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: tuple(r[c] for c in cols))


def test_every_query_file_has_a_test_here() -> None:
    tested = {n.removeprefix("test_").split("__")[0] for n in globals()}
    missing = [p.stem for p in QUERIES.glob("*.sql") if p.stem not in tested]
    assert missing == []


def test_exposure_product__one_importer(flows: Store) -> None:
    tiers = by_id(flows, {"CHN": 1, "JPN": 2, "DEU": 3}, 0)
    got = run(
        flows,
        "exposure_product",
        **ONLY_2022,
        **EVERY_SIX_DIGIT,
        importer="USA",
        tier_codes=tiers,
        n_ids=len(tiers),
    )
    assert key(got, "hs6") == [
        # KOR 20 only (CHN's zero is no supplier)
        {"year": 2022, "importer": "USA", "hs6": "811292", "v": 20.0, "v2": 400.0,
         "n": 1, "top_supplier": "KOR", "top_v": 20.0, "concern_v": 0.0,
         "ally_v": 0.0, "partner_v": 0.0, "residual_v": 0.0},
        # CHN 100 + DEU 50 + JPN 50; Σv² = 10000 + 2500 + 2500; load 3 left out
        {"year": 2022, "importer": "USA", "hs6": "850511", "v": 200.0, "v2": 15000.0,
         "n": 3, "top_supplier": "CHN", "top_v": 100.0, "concern_v": 100.0,
         "ally_v": 50.0, "partner_v": 50.0, "residual_v": 0.0},
    ]  # fmt: skip


def test_exposure_product__a_residual_area_counts_in_the_total_only(
    flows: Store,
) -> None:
    with flows.transaction() as con:
        insert_flow_rows(
            con,
            pl.DataFrame(
                [
                    (
                        2022,
                        "XRW",
                        "USA",
                        "850511",
                        "HS2017",
                        300.0,
                        None,
                        "baci",
                        "baci",
                        1,
                    )
                ],
                schema=dict.fromkeys(FLOW_COLUMNS),
                orient="row",
            ).cast({"year": pl.Int16}),
        )
    tiers = by_id(flows, {"CHN": 1, "XRW": 9}, 0)
    (row,) = run(
        flows,
        "exposure_product",
        **ONLY_2022,
        all_hs=False,
        hs=["850511"],
        importer="USA",
        tier_codes=tiers,
        n_ids=len(tiers),
    )
    # XRW's 300 is in v (500) and residual_v, not in Σv², n or the top supplier
    assert (row["v"], row["residual_v"], row["v2"], row["n"]) == (
        500.0,
        300.0,
        15000.0,
        3,
    )
    assert (row["top_supplier"], row["top_v"]) == ("CHN", 100.0)


def test_exposure_bloc__members_summed_per_supplier(flows: Store) -> None:
    flows.execute(
        "CREATE TEMP TABLE _exposure_members AS SELECT * FROM (VALUES "
        "(2022::SMALLINT, 'USA'), (2022::SMALLINT, 'DEU')) AS t(year, iso3)"
    )
    flows.execute(
        "CREATE TEMP TABLE _exposure_tiers AS SELECT * FROM (VALUES "
        "(2022::SMALLINT, 'CHN', 1), (2022::SMALLINT, 'JPN', 2)) "
        "AS t(year, iso3, tier_code)"
    )
    params = {**ONLY_2022, "all_hs": False, "hs": ["850511"], "bloc": "nato"}
    (row,) = run(flows, "exposure_bloc", **params, include_intra=False)
    # CHN 100 (to USA) + 30 (to DEU) = 130, JPN 50; DEU -> USA is intra-bloc
    assert row == {
        "year": 2022, "importer": "nato", "hs6": "850511", "v": 180.0,
        "v2": 130.0**2 + 50.0**2, "n": 2, "top_supplier": "CHN", "top_v": 130.0,
        "concern_v": 130.0, "ally_v": 50.0, "partner_v": 0.0, "residual_v": 0.0,
    }  # fmt: skip
    (row,) = run(flows, "exposure_bloc", **params, include_intra=True)
    assert (row["v"], row["v2"], row["n"]) == (230.0, 130.0**2 + 2 * 50.0**2, 3)


def test_exposure_exports__one_exporter_and_a_bloc(flows: Store) -> None:
    flows.execute(
        "CREATE TEMP TABLE _exposure_members AS "
        "SELECT 2022::SMALLINT AS year, 'DEU' AS iso3"
    )
    common = {**ONLY_2022, **EVERY_SIX_DIGIT, "include_intra": False}
    got = run(flows, "exposure_exports", **common, exporter="CHN", bloc=None)
    # CHN 850511: 100 (USA) + 30 (DEU); its 811292 is zero, its 8505 is HS4
    assert got == [
        {"year": 2022, "exporter": "CHN", "hs6": "850511", "exports_usd": 130.0}
    ]
    got = run(flows, "exposure_exports", **common, exporter=None, bloc="eu")
    assert got == [
        {"year": 2022, "exporter": "eu", "hs6": "850511", "exports_usd": 50.0}
    ]


def test_exposure_suppliers__listed_products_over_two_years(flows: Store) -> None:
    got = run(flows, "exposure_suppliers", **BOTH_YEARS, hs=["850511"])
    assert key(got, "year", "importer", "exporter") == [
        {"year": 2021, "importer": "USA", "hs6": "850511", "exporter": "CHN", "value_usd": 70.0},
        {"year": 2022, "importer": "DEU", "hs6": "850511", "exporter": "CHN", "value_usd": 30.0},
        {"year": 2022, "importer": "USA", "hs6": "850511", "exporter": "CHN", "value_usd": 100.0},
        {"year": 2022, "importer": "USA", "hs6": "850511", "exporter": "DEU", "value_usd": 50.0},
        {"year": 2022, "importer": "USA", "hs6": "850511", "exporter": "JPN", "value_usd": 50.0},
    ]  # fmt: skip


def test_world_concentration__every_exporter(flows: Store) -> None:
    tiers = by_id(flows, {"CHN": 1}, 0)
    got = run(
        flows,
        "world_concentration",
        **ONLY_2022,
        **EVERY_SIX_DIGIT,
        tier_codes=tiers,
        n_ids=len(tiers),
    )
    assert key(got, "hs6") == [
        {"year": 2022, "hs6": "811292", "world_exports_usd": 20.0, "v2": 400.0,
         "n_exporters": 1, "top_exporter": "KOR", "top_v": 20.0, "concern_v": 0.0,
         "residual_v": 0.0},
        # CHN 130, DEU 50, JPN 50
        {"year": 2022, "hs6": "850511", "world_exports_usd": 230.0,
         "v2": 130.0**2 + 2 * 50.0**2, "n_exporters": 3, "top_exporter": "CHN",
         "top_v": 130.0, "concern_v": 130.0, "residual_v": 0.0},
    ]  # fmt: skip


def test_trend_product__two_years_side_by_side(flows: Store) -> None:
    one_year = by_id(flows, {"CHN": 1}, 0)
    got = run(
        flows,
        "trend_product",
        **BOTH_YEARS,
        year_from=2021,
        year_to=2022,
        importer="USA",
        **EVERY_SIX_DIGIT,
        tier_codes=one_year + one_year,  # 2021's block, then 2022's
        n_ids=len(one_year),
    )
    assert got == [  # ordered by importer, then hs6 as text sorts
        {"importer": "USA", "hs6": "811292", "v_from": None, "v2_from": None,
         "concern_v_from": None, "v_to": 20.0, "v2_to": 400.0, "concern_v_to": 0.0},
        # 2021: CHN 70 (load 2); 2022: CHN 100, DEU 50, JPN 50 (load 1 only)
        {"importer": "USA", "hs6": "850511", "v_from": 70.0, "v2_from": 4900.0,
         "concern_v_from": 70.0, "v_to": 200.0, "v2_to": 15000.0,
         "concern_v_to": 100.0},
    ]  # fmt: skip


def test_simulate_flows__every_bilateral_flow_once(flows: Store) -> None:
    got = run(flows, "simulate_flows", **ONLY_2022, **EVERY_SIX_DIGIT)
    # value_q_usd and quantity_t only from rows with tonnes (CHN -> USA, JPN -> USA)
    assert key(got, "hs6", "exporter", "importer") == [
        {"hs6": "811292", "exporter": "KOR", "importer": "USA", "value_usd": 20.0,
         "value_q_usd": None, "quantity_t": None},
        {"hs6": "850511", "exporter": "CHN", "importer": "DEU", "value_usd": 30.0,
         "value_q_usd": None, "quantity_t": None},
        {"hs6": "850511", "exporter": "CHN", "importer": "USA", "value_usd": 100.0,
         "value_q_usd": 100.0, "quantity_t": 10.0},
        {"hs6": "850511", "exporter": "DEU", "importer": "USA", "value_usd": 50.0,
         "value_q_usd": None, "quantity_t": None},
        {"hs6": "850511", "exporter": "JPN", "importer": "USA", "value_usd": 50.0,
         "value_q_usd": 50.0, "quantity_t": 5.0},
    ]  # fmt: skip


def test_simulate_markets__coded_rows_one_per_load_row(flows: Store) -> None:
    got = run(flows, "simulate_markets", **ONLY_2022, **EVERY_SIX_DIGIT)
    c = ids(flows)

    def key(hs: int, importer: str, exporter: str) -> int:
        # the documented encoding: hs key × 2^32 + importer id × 2^16 + exporter id
        return hs * 2**32 + c[importer] * 2**16 + c[exporter]

    # load 1 only; the HS4 aggregate and the zero value are out; no tonnes → 0
    assert sorted(got, key=lambda r: r["key"]) == sorted(
        [
            {"key": key(6_811_292, "USA", "KOR"), "value_usd": 20.0, "quantity_t": 0.0},
            {"key": key(6_850_511, "DEU", "CHN"), "value_usd": 30.0, "quantity_t": 0.0},
            {"key": key(6_850_511, "USA", "CHN"), "value_usd": 100.0, "quantity_t": 10.0},
            {"key": key(6_850_511, "USA", "DEU"), "value_usd": 50.0, "quantity_t": 0.0},
            {"key": key(6_850_511, "USA", "JPN"), "value_usd": 50.0, "quantity_t": 5.0},
        ],
        key=lambda r: r["key"],
    )  # fmt: skip
    # every 2022 load: CHN -> USA 850511 comes once per load (the engine sums them)
    both = run(
        flows,
        "simulate_markets",
        **(ONLY_2022 | {"all_loads": True}),
        **EVERY_SIX_DIGIT,
    )
    chn_usa = [r["value_usd"] for r in both if r["key"] == key(6_850_511, "USA", "CHN")]
    assert sorted(chn_usa) == [100.0, 1000.0]


def test_hs_labels__text_of_coded_keys_in_the_order_given(flows: Store) -> None:
    got = run(flows, "hs_labels", codes=[6_850_511, 4_008_505, 6_010_121])
    assert got == [
        {"hs": 6_850_511, "hs6": "850511"},
        {"hs": 4_008_505, "hs6": "8505"},  # an HS4 code keeps four digits
        {"hs": 6_010_121, "hs6": "010121"},  # the leading zero of chapter 01
    ]


def _production(store: Store) -> None:
    rows = [
        ("CHN", 60.0, "country", None),
        ("AUS", 30.0, "country", None),
        ("XOT", 10.0, "other", None),
        ("USA", None, "country", "W"),
        ("WLD", 105.0, "world_total", None),
    ]
    for country, q, kind, status in rows:
        store.execute(
            "INSERT INTO production VALUES (2023, $c, 'gallium', 'refinery', $q, 't', "
            "'usgs', 'MCS2024', NULL, false, $s, $k, 1)",
            {"c": country, "q": q, "s": status, "k": kind},
        )


def test_production_concentration__listed_other_withheld_and_world(
    flows: Store,
) -> None:
    _production(flows)
    flows.execute(
        "CREATE TEMP TABLE _production_concern AS "
        "SELECT 2023::SMALLINT AS year, 'CHN' AS iso3"
    )
    (row,) = run(flows, "production_concentration")
    assert row == {
        "edition": "MCS2024", "commodity": "gallium", "stage": "refinery",
        "year": 2023, "series": None, "unit": "t",
        "listed_total": 100.0,  # 60 + 30 + 10 (XOT): the world total is beside it
        "q2": 60.0**2 + 30.0**2,  # named producers only
        "other_q": 10.0, "concern_q": 60.0, "top_country": "CHN",
        "top_quantity": 60.0, "n_producers": 2, "n_withheld": 1, "world_total": 105.0,
    }  # fmt: skip


def test_production_by_country__shares_of_the_listed_sum(flows: Store) -> None:
    _production(flows)
    got = run(
        flows,
        "production_by_country",
        commodity="gallium",
        stage="refinery",
        edition="MCS2024",
    )
    assert got == [
        {"year": 2023, "country": "CHN", "quantity": 60.0, "unit": "t", "share": 0.6, "is_estimate": False},
        {"year": 2023, "country": "AUS", "quantity": 30.0, "unit": "t", "share": 0.3, "is_estimate": False},
        {"year": 2023, "country": "XOT", "quantity": 10.0, "unit": "t", "share": 0.1, "is_estimate": False},
        {"year": 2023, "country": "USA", "quantity": None, "unit": "t", "share": None, "is_estimate": False},
    ]  # fmt: skip


def test_crma_production__one_year_as_stored(flows: Store) -> None:
    _production(flows)
    got = run(flows, "crma_production", year=2023)
    assert [(r["country"], r["kind"], r["quantity"]) for r in got] == [
        ("AUS", "country", 30.0),
        ("CHN", "country", 60.0),
        ("USA", "country", None),
        ("WLD", "world_total", 105.0),
        ("XOT", "other", 10.0),
    ]
    assert run(flows, "crma_production", year=2022) == []


def test_crma_trade__extra_bloc_imports_and_exports(flows: Store) -> None:
    flows.execute(
        "CREATE TEMP TABLE _crma_members AS SELECT * FROM (VALUES "
        "(2022::SMALLINT, 'DEU'), (2022::SMALLINT, 'FRA')) AS t(year, iso3)"
    )
    got = run(flows, "crma_trade", **ONLY_2022, hs=["850511"])
    # DEU imports CHN's 30 (no tonnes); DEU exports 50 to the USA (no tonnes)
    assert key(got, "direction") == [
        {"year": 2022, "hs6": "850511", "direction": "export", "partner": "USA",
         "value_usd": 50.0, "quantity_t": None, "n_rows": 1, "n_missing_t": 1},
        {"year": 2022, "hs6": "850511", "direction": "import", "partner": "CHN",
         "value_usd": 30.0, "quantity_t": None, "n_rows": 1, "n_missing_t": 1},
    ]  # fmt: skip


def test_suppliers__one_importer_product_year_and_source(flows: Store) -> None:
    got = run(
        flows, "suppliers", importer="USA", hs6="850511", year=2022, source="baci"
    )
    # every baci load of 2022 counts here (the query reads trade_flows as stored):
    # CHN 100 + 1000 (load 3), DEU 50, JPN 50 -> 1200
    assert got == [
        {"exporter": "CHN", "value_usd": 1100.0, "share": 1100 / 1200, "quantity_t": 10.0},
        {"exporter": "DEU", "value_usd": 50.0, "share": 50 / 1200, "quantity_t": None},
        {"exporter": "JPN", "value_usd": 50.0, "share": 50 / 1200, "quantity_t": 5.0},
    ]  # fmt: skip


def test_the_row_filter_is_written_once() -> None:
    """No query reads ``flows`` itself or spells the filter's constants out."""
    for path in QUERIES.glob("*.sql"):
        sql = path.read_text()
        assert not re.search(r"\bFROM\s+flows\b", sql, re.I), path.name
        assert not re.search(r"\b[16]000000\b", sql), path.name  # KEY_BASE, 6 × HS_BASE
        assert "list_contains($keys" not in sql, path.name
