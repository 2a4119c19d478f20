"""Look-through exposure: a hand-worked chain, the whole chain vs one level, blocs."""

from __future__ import annotations

import polars as pl
import pytest

from friendshore.engines.exposure import product_exposure
from friendshore.engines.lookthrough import closure, depths, lookthrough_table
from friendshore.store import Store

from .test_exposure import insert_flows, one

# The bundled industry map (HS2017): 850511 magnets ← 280530 rare-earth metals,
# 810520 cobalt; 280530 ← 284690 rare-earth compounds, 284610; 284690 ← ores.
CHAIN = [
    (2022, "CHN", "USA", "850511", 600.0),
    (2022, "JPN", "USA", "850511", 300.0),
    (2022, "XRW", "USA", "850511", 100.0),
    (2022, "CHN", "JPN", "280530", 50.0),
    (2022, "VNM", "JPN", "280530", 50.0),
    (2022, "AUS", "JPN", "810520", 100.0),
    (2022, "CHN", "VNM", "284690", 80.0),
    (2022, "AUS", "VNM", "284690", 20.0),
]


def test_hand_worked_chain(store: Store) -> None:
    # Most upstream first (L = look-through concern share):
    #   VNM 284690: CHN 80 of 100 → L = 0.8; AUS imports none of the ores → adds 0,
    #     coverage 0 (AUS supplied 20 of the 20 non-concern, without data).
    #   JPN 280530: CHN 50 + VNM 50 × L_VNM(inputs of 280530 = {284690}) = 0.8
    #     → L = (50 + 40) / 100 = 0.9, coverage 1.
    #   JPN 810520: AUS 100, no upstream data → L = 0, coverage 0.
    #   USA 850511: L_JPN(inputs of 850511) = value-weighted over 280530 (V 100,
    #     L 0.9) and 810520 (V 100, L 0) = 90 / 200 = 0.45; XRW has no imports.
    #     L = (600 + 300 × 0.45 + 100 × 0) / 1000 = 0.735; coverage 300/400 = 0.75.
    #   (One level — JPN's direct concern share 50/200 = 0.25 — would give 0.675.)
    insert_flows(store, CHAIN)
    df = product_exposure(store, lookthrough=True)
    usa = one(df, importer="USA", hs6="850511")
    assert usa["prc_share"] == pytest.approx(0.6)
    assert usa["lookthrough_prc_share"] == pytest.approx(0.735)
    assert usa["lookthrough_coverage"] == pytest.approx(0.75)
    jpn = one(df, importer="JPN", hs6="280530")
    assert (jpn["lookthrough_prc_share"], jpn["lookthrough_coverage"]) == pytest.approx(
        (0.9, 1.0)
    )
    vnm = one(df, importer="VNM", hs6="284690")
    assert (vnm["lookthrough_prc_share"], vnm["lookthrough_coverage"]) == pytest.approx(
        (0.8, 0.0)
    )
    assert one(df, importer="JPN", hs6="810520")["lookthrough_prc_share"] == 0.0


def test_a_residual_area_carries_no_exposure_through_its_imports(store: Store) -> None:
    # Issue 14: the rest of China's World exports of 280530 is stored as CHN → XRW;
    # XRW also supplies 850511 to the USA. XRW is no importer, so it has no "own
    # concern share": USA 850511 keeps L = 0.735 and coverage 0.75 (XRW's 100 of
    # the 400 non-concern supply uncovered), not (600 + 300×0.45 + 100×1)/1000.
    insert_flows(store, [*CHAIN, (2022, "CHN", "XRW", "280530", 500.0)])
    df = product_exposure(store, lookthrough=True)
    assert "XRW" not in df["importer"].to_list()
    usa = one(df, importer="USA", hs6="850511")
    assert usa["lookthrough_prc_share"] == pytest.approx(0.735)
    assert usa["lookthrough_coverage"] == pytest.approx(0.75)


def test_one_importer_gets_the_same_figure(store: Store) -> None:
    insert_flows(store, CHAIN)
    df = product_exposure(store, importer="USA", lookthrough=True)
    assert df["hs6"].to_list() == ["850511"]
    assert df["lookthrough_prc_share"][0] == pytest.approx(0.735)


def test_product_without_upstream_links_keeps_its_direct_share(store: Store) -> None:
    insert_flows(
        store,
        [(2022, "CHN", "USA", "010121", 3.0), (2022, "CAN", "USA", "010121", 1.0)],
    )
    row = product_exposure(store, lookthrough=True).to_dicts()[0]
    assert row["lookthrough_prc_share"] == row["prc_share"] == 0.75
    assert row["lookthrough_coverage"] is None


def test_bloc_look_through(store: Store) -> None:
    # EU members DEU and FRA import magnets: DEU from CHN 100 and JPN 100, FRA from
    # JPN 200. Bloc: V = 400, prc = 100/400 = 0.25; JPN's input share L = 0.45
    # (as above) → (100 + 300 × 0.45) / 400 = 235 / 400 = 0.5875.
    rows = [r for r in CHAIN if r[2] != "USA"] + [
        (2022, "CHN", "DEU", "850511", 100.0),
        (2022, "JPN", "DEU", "850511", 100.0),
        (2022, "JPN", "FRA", "850511", 200.0),
    ]
    insert_flows(store, rows)
    row = one(product_exposure(store, bloc="eu", lookthrough=True), hs6="850511")
    assert row["prc_share"] == pytest.approx(0.25)
    assert row["lookthrough_prc_share"] == pytest.approx(0.5875)


def test_engine_on_an_abstract_chain() -> None:
    # C ← B ← A (A most upstream). X imports A: K (concern) 1, Y 1 → L_X(A) = 0.5.
    # Z imports B from X 4 and K 1 → L_Z(B) = (1 + 4 × 0.5) / 5 = 0.6.
    # W imports C from Z 10 → L_W(C) = 10 × 0.6 / 10 = 0.6.
    suppliers = pl.DataFrame(
        {
            "year": [2022] * 5,
            "importer": ["X", "X", "Z", "Z", "W"],
            "hs6": ["A", "A", "B", "B", "C"],
            "exporter": ["K", "Y", "X", "K", "Z"],
            "value_usd": [1.0, 1.0, 4.0, 1.0, 10.0],
        },
        schema_overrides={"year": pl.Int16},
    )
    concern = pl.DataFrame(
        {"year": [2022], "iso3": ["K"]}, schema={"year": pl.Int16, "iso3": pl.String}
    )
    upstream = pl.DataFrame({"hs6": ["C", "B"], "upstream_hs6": ["B", "A"]})
    assert depths(upstream) == {"A": 0, "B": 1, "C": 2}
    assert closure({"C"}, upstream) == {"A", "B", "C"}
    table, _ = lookthrough_table(suppliers, concern, upstream)
    got = {
        (r["importer"], r["hs6"]): r["lookthrough_prc_share"] for r in table.to_dicts()
    }
    assert got == pytest.approx({("X", "A"): 0.5, ("Z", "B"): 0.6, ("W", "C"): 0.6})
