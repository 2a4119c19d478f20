"""The Selection: built once, frozen, and what every engine reads."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import polars as pl
import pytest

from friendshore.engines.concentration import world_concentration
from friendshore.engines.exposure import product_exposure
from friendshore.errors import ParameterError
from friendshore.selection import Selection
from friendshore.store import FLOW_COLUMNS, Store, insert_flow_rows

FLOWS = [  # year, exporter, importer, hs6, value_usd
    (2021, "CHN", "USA", "850511", 40.0),
    (2022, "CHN", "USA", "850511", 60.0),
    (2022, "JPN", "USA", "850511", 40.0),
    (2022, "KOR", "DEU", "850511", 10.0),
    (2022, "CHN", "FRA", "850511", 30.0),
    (2022, "USA", "FRA", "850511", 10.0),
    (2022, "CHN", "USA", "811292", 5.0),
]


@pytest.fixture
def store() -> Iterator[Store]:
    with Store(":memory:") as s:
        rows = pl.DataFrame(
            [
                (y, e, i, hs, "HS2017", v, None, "baci", "baci", y - 2000)
                for y, e, i, hs, v in FLOWS
            ],
            schema=dict.fromkeys(FLOW_COLUMNS),
            orient="row",
        ).cast({"year": pl.Int16, "value_usd": pl.Float64, "quantity_t": pl.Float64})
        with s.transaction() as con:
            insert_flow_rows(con, rows)
        # the loads table says which load answers for which year
        for y in (2021, 2022):
            s.execute(
                "INSERT INTO loads VALUES ($id, 'baci', 'f.csv', 'f.csv', $sha, $key, "
                "'trade_flows', 1, $y, now()::TIMESTAMP, 'test', NULL)",
                {"id": y - 2000, "sha": str(y), "key": f"HS2017:{y}", "y": str(y)},
            )
        yield s


def test_built_once_it_holds_every_choice(store: Store) -> None:
    sel = Selection.build(store, years=[2022], importer="usa", hs=["850511"])
    assert (sel.years, sel.importer, sel.hs) == ([2022], "USA", ("850511",))
    tiers = dict(
        sel.tiers.filter(pl.col("tier") == "concern").select("iso3", "year").iter_rows()
    )
    assert set(tiers) == {"CHN", "HKG", "MAC"}
    params = sel.params()
    assert (params["year_min"], params["year_max"], params["all_hs"]) == (
        2022,
        2022,
        False,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        sel.importer = "DEU"  # type: ignore[misc]


def test_engines_read_the_selection_they_are_given(store: Store) -> None:
    sel = Selection.build(store, years=[2022], importer="USA", hs=["850511"])
    (row,) = product_exposure(store, sel).to_dicts()
    # CHN 60 and JPN 40 of USA's 100 in 2022 (2021's 40 is not selected)
    assert (row["import_value_usd"], row["prc_share"], row["hhi"]) == (
        100.0,
        0.6,
        pytest.approx(0.6**2 + 0.4**2),
    )
    same = product_exposure(store, years=[2022], importer="USA", hs=["850511"])
    assert same.to_dicts() == [row]
    (world,) = world_concentration(store, sel).to_dicts()
    # every exporter's 2022 850511 exports: CHN 90, JPN 40, KOR 10, USA 10
    assert world["world_exports_usd"] == 150.0
    assert world["prc_share"] == pytest.approx(90 / 150)


def test_a_bloc_selection_carries_its_members_as_of_each_year(store: Store) -> None:
    sel = Selection.build(store, years=[2022], bloc="eu", hs=["850511"])
    assert {"DEU", "FRA"} <= set(sel.members["iso3"].to_list())  # type: ignore[index]
    (row,) = product_exposure(store, sel).to_dicts()
    # DEU: KOR 10; FRA: CHN 30, USA 10 -> 50, CHN 30 of it
    assert (row["importer"], row["import_value_usd"], row["prc_share"]) == (
        "eu",
        50.0,
        0.6,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"importer": "USA", "bloc": "eu"}, "either an importer or a bloc"),
        ({"hs": ["850511"], "industry": "batteries"}, "either HS codes or an industry"),
        ({"years": [2019]}, "No trade flows for 2019"),
        ({"hs": ["85051"]}, "expected six digits"),
        ({"importer": "UK"}, "unknown country"),
    ],
)
def test_bad_choices_are_one_error_each(
    store: Store, kwargs: dict, message: str
) -> None:  # type: ignore[type-arg]
    with pytest.raises(ParameterError, match=message):
        Selection.build(store, **kwargs)


def test_window_takes_the_loaded_years_ending_in_year(store: Store) -> None:
    # The store holds 2021 and 2022: a 3-year window ending in 2022 reads both,
    # a 1-year window the last alone, and the default end is the latest year.
    assert Selection.build(store, year=2022, window=3).years == [2021, 2022]
    assert Selection.build(store, window=1).years == [2022]
    assert Selection.build(store, year=2021, window=3).years == [2021]


def test_only_restricts_loads_tiers_and_members(store: Store) -> None:
    sel = Selection.build(store, years=[2021, 2022], bloc="eu", hs=["850511"])
    one = sel.only([2022])
    assert one.years == [2022]
    assert set(one.tiers["year"].to_list()) == {2022}
    assert one.members is not None
    assert set(one.members["year"].to_list()) == {2022}
    assert (one.bloc, one.hs) == ("eu", ("850511",))
    # load 22 answers for 2022 (year * KEY_BASE + load id), and it is all of 2022
    assert one.params()["keys"] == [2022 * 1_000_000 + 22]
    assert one.params()["all_loads"] is True
