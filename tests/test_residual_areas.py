"""Issue 14 on the bundled real files: the remainder of a World total is not a country.

The demo store (UN Comtrade files of data/sources/comtrade) holds XRW rows: the part
of each reporter's World total its listed partners do not account for. Before the
fix XRW was the top supplier of 4 of the 6 US battery inputs, the top exporter of
811292, an importer row in ``flags`` and the CRMA "single third country" of US
flags; look-through carried its own "imports" into US 283691 (0.0027 → 0.4956).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from friendshore.engines.concentration import (
    production_concentration,
    world_concentration,
)
from friendshore.engines.exposure import product_exposure
from friendshore.engines.flags import dependency_flags
from friendshore.reference import countries
from friendshore.sources.comtrade import load_comtrade
from friendshore.store import Store

from .conftest import SOURCES

YEARS = [2020, 2021, 2022, 2023, 2024]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("residual") / "demo.duckdb"
    with Store(path) as s:
        load_comtrade(s, [SOURCES / "comtrade"])
        from friendshore import sources

        sources.load(s, "usgs", sorted((SOURCES / "usgs").rglob("*.csv")))
    with Store(path, read_only=True) as s:
        yield s


def residual(values: list[str | None]) -> list[str]:
    return [v for v in values if v is not None and countries.is_residual(v)]


def test_the_store_holds_residual_rows(demo: Store) -> None:
    [(n,)] = demo.fetchall(
        "SELECT count(*) FROM trade_flows WHERE 'XRW' IN (exporter, importer)"
    )
    assert n > 100  # the premise: residual areas are there to be mishandled


def test_no_residual_importer_or_top_supplier_in_exposure(demo: Store) -> None:
    df = product_exposure(demo, years=YEARS)
    assert df.height > 0
    assert residual(df["importer"].to_list()) == []
    assert residual(df["top_supplier"].to_list()) == []
    assert df["coverage"].min() >= 0.0 and df["coverage"].max() <= 1.0
    # hhi spreads the residual thin, hhi_max takes it as one supplier.
    assert (df["hhi"] <= df["hhi_max"] + 1e-12).all()


def test_us_battery_inputs_are_never_topped_by_xrw(demo: Store) -> None:
    df = product_exposure(demo, importer="USA", industry="batteries", year=2024)
    assert df.height == 6
    assert residual(df["top_supplier"].to_list()) == []


def test_no_residual_top_exporter_in_world_concentration(demo: Store) -> None:
    df = world_concentration(demo, years=YEARS)
    assert residual(df["top_exporter"].to_list()) == []
    gallium = df.filter((pl.col("hs6") == "811292") & (pl.col("year") == 2024))
    assert gallium["top_exporter"].to_list() == ["CHN"]


def test_no_residual_in_flags(demo: Store) -> None:
    for importer in (None, "USA", "CHN"):
        df = dependency_flags(demo, importer=importer, year=2024)
        assert residual(df["importer"].to_list()) == []
        assert residual(df["top_supplier"].to_list()) == []
        # A flag fires only with enough named coverage; otherwise it says why.
        low = df.filter(pl.col("coverage") < 0.5)
        assert low["crma_import_flag"].null_count() == low.height
        assert all(n.startswith("insufficient coverage") for n in low["flag_note"])


def test_lookthrough_carries_nothing_through_a_residual_area(demo: Store) -> None:
    row = product_exposure(
        demo, importer="USA", hs=["283691"], year=2024, lookthrough=True
    ).row(0, named=True)
    # Before: 0.0027 → 0.4956 with coverage 1.0 through XRW's "imports" of 253090.
    assert row["prc_share"] == pytest.approx(0.0027, abs=5e-5)
    assert row["lookthrough_prc_share"] == pytest.approx(row["prc_share"])
    assert row["lookthrough_coverage"] < 1.0


def test_usgs_other_countries_is_never_the_top_producer(demo: Store) -> None:
    df = production_concentration(demo)
    assert residual(df["top_country"].to_list()) == []
    assert (df["coverage"].drop_nulls() <= 1.0).all()
