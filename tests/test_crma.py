"""The EU CRMA Art. 5(1)(b) benchmark as apparent consumption, by hand."""

from __future__ import annotations

import csv
import io

import pytest

from friendshore.engines.crma import crma_benchmark
from friendshore.store import Store

from .test_exposure import insert_flows

# 2022, unwrought magnesium (810411, map material magnesium, stage processed ↔ USGS
# "magnesium metal" smelter). Every flow at 3 USD/t.
FLOWS = [
    (2022, "CHN", "DEU", "810411", 300.0),  # 100 t
    (2022, "CHN", "FRA", "810411", 150.0),  # 50 t
    (2022, "ISR", "DEU", "810411", 60.0),  # 20 t
    (2022, "XRW", "FRA", "810411", 90.0),  # 30 t, a residual: never the third country
    (2022, "DEU", "FRA", "810411", 2997.0),  # intra-EU: left out
    (2022, "DEU", "USA", "810411", 30.0),  # 10 t exported
    (2022, "USA", "CHN", "810411", 999.0),  # no EU side
]


def _production(store: Store, edition: str, country: str, kind: str, q: float) -> None:
    store.execute(
        """INSERT INTO production VALUES (2022, $c, 'magnesium metal', 'smelter', $q,
           't', 'usgs', $e, 'Magnesium smelter production', false, NULL, $k, 1)""",
        {"c": country, "q": q, "e": edition, "k": kind},
    )


def test_apparent_consumption_by_hand(store: Store) -> None:
    # Production (MCS2024, the latest edition for 2022): DEU 20 t; CHN 800 and
    # XOT 30 are not members. MCS2023's DEU 999 t is an older edition: not used.
    # Imports 100 + 50 + 20 + 30 = 200 t; exports 10 t → C = 20 + 200 − 10 = 210 t.
    # CHN: 150 t / 210 t = 0.714… > 0.65 → flagged. The import-value indicator:
    # CHN 450 of 600 USD of extra-EU imports = 0.75.
    insert_flows(store, FLOWS)
    store.execute("UPDATE flows SET quantity_t = value_usd / 3")
    _production(store, "MCS2024", "DEU", "country", 20.0)
    _production(store, "MCS2024", "CHN", "country", 800.0)
    _production(store, "MCS2024", "XOT", "other", 30.0)
    _production(store, "MCS2023", "DEU", "country", 999.0)
    df = crma_benchmark(store, year=2022, commodity="magnesium metal")
    assert df.height == 1
    row = df.row(0, named=True)
    assert (row["bloc"], row["stage"], row["edition"]) == ("eu", "smelter", "MCS2024")
    assert "810411" in row["hs6"].split(", ")
    assert row["production_t"] == pytest.approx(20.0)
    assert row["imports_t"] == pytest.approx(200.0)
    assert row["exports_t"] == pytest.approx(10.0)
    assert row["apparent_consumption_t"] == pytest.approx(210.0)
    assert row["top_third_country"] == "CHN"
    assert row["top_consumption_share"] == pytest.approx(150 / 210)
    assert row["crma_flag"] is True
    assert (row["import_top_supplier"], row["import_top_share"]) == (
        "CHN",
        pytest.approx(0.75),
    )
    assert row["quantity_coverage"] == pytest.approx(1.0)
    # A higher benchmark does not flag; no USGS table for the year: nothing applies.
    assert crma_benchmark(store, year=2022, share=0.8)["crma_flag"].to_list() == [False]
    assert crma_benchmark(store, year=2022, commodity="rare earths").height == 0


def test_crma_command_csv(db_path, cli) -> None:  # type: ignore[no-untyped-def]
    with Store(db_path) as s:
        insert_flows(s, FLOWS)
        s.execute("UPDATE flows SET quantity_t = value_usd / 3")
        _production(s, "MCS2024", "DEU", "country", 20.0)
    r = cli("crma", "--year", "2022", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    (got,) = list(csv.DictReader(io.StringIO(r.stdout)))
    assert (got["top_third_country"], got["crma_flag"]) == ("CHN", "true")
    assert float(got["apparent_consumption_t"]) == pytest.approx(210.0)
