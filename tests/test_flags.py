"""Dependency flags (CEPII GeoDep, EU CRMA) and trends on hand-worked years."""

from __future__ import annotations

import polars as pl
import pytest

from friendshore.engines.flags import dependency_flags
from friendshore.engines.trend import revision_break_note, trend
from friendshore.errors import ParameterError
from friendshore.store import Store

from .test_exposure import insert_flows, one

# USA and 850511:
#   2020, 2021: imports CHN 90, JPN 10 → import HHI 0.82; USA exports 50 (to CAN);
#     world exports CHN 90, JPN 10, USA 50 → HHI (8100+100+2500)/22500 = 0.4756;
#     imports/exports = 100/50 = 2 → all three GeoDep criteria met.
#   2022: imports CHN 50, JPN 50 → HHI 0.5; world CHN 50, JPN 50, USA 50 → HHI 1/3
#     → not met. 2 of 3 years → flagged in 2022.
# USA and 280530: only 2022 meets them (CHN 100; USA exports none) → 1 of 3.
FLOWS = [
    (2020, "CHN", "USA", "850511", 90.0),
    (2020, "JPN", "USA", "850511", 10.0),
    (2020, "USA", "CAN", "850511", 50.0),
    (2021, "CHN", "USA", "850511", 90.0),
    (2021, "JPN", "USA", "850511", 10.0),
    (2021, "USA", "CAN", "850511", 50.0),
    (2022, "CHN", "USA", "850511", 50.0),
    (2022, "JPN", "USA", "850511", 50.0),
    (2022, "USA", "CAN", "850511", 50.0),
    (2022, "CHN", "USA", "280530", 100.0),
]


def test_geodep_two_of_three_years(store: Store) -> None:
    insert_flows(store, FLOWS)
    df = dependency_flags(store, importer="USA", year=2022)
    magnets = one(df, hs6="850511")
    assert magnets["import_hhi"] == pytest.approx(0.5)
    assert magnets["world_hhi"] == pytest.approx(1 / 3)
    assert magnets["import_export_ratio"] == pytest.approx(2.0)
    assert (magnets["geodep_years"], magnets["years_checked"]) == (2, 3)
    assert magnets["geodep_flag"] is True
    assert magnets["crma_import_flag"] is False  # top supplier 50 % ≤ 65 %
    assert magnets["flag_note"] is None
    metals = one(df, hs6="280530")
    assert metals["import_export_ratio"] == 9999.0  # CEPII: no exports → 9999
    assert (metals["geodep_years"], metals["geodep_flag"]) == (1, False)
    assert metals["crma_import_flag"] is True  # CHN 100 % > 65 %
    assert df["hs6"].to_list()[0] == "850511"  # flagged first


def test_thresholds_are_options(store: Store) -> None:
    insert_flows(store, FLOWS)
    strict = one(
        dependency_flags(store, importer="USA", year=2022, min_years=3), hs6="850511"
    )
    assert strict["geodep_flag"] is False
    loose = dependency_flags(
        store, importer="USA", year=2022, world_hhi=0.3, crma_share=0.4
    )
    row = one(loose, hs6="850511")
    assert (row["geodep_years"], row["crma_import_flag"]) == (3, True)
    with pytest.raises(ParameterError, match="min_years"):
        dependency_flags(store, importer="USA", min_years=4)


# Residual areas: 2022, USA imports 850511 from XRW 30, CHN 70 (coverage 0.7);
# 280530 from XRW 70, CHN 30 (coverage 0.3); XRW also "imports" 850511 from CHN.
RESIDUAL_FLOWS = [
    (2022, "XRW", "USA", "850511", 30.0),
    (2022, "CHN", "USA", "850511", 70.0),
    (2022, "XRW", "USA", "280530", 70.0),
    (2022, "CHN", "USA", "280530", 30.0),
    (2022, "CHN", "XRW", "850511", 500.0),
]


def test_a_residual_area_is_never_a_flag_supplier_nor_importer(store: Store) -> None:
    # 850511: coverage 0.7 ≥ 0.5; top named supplier CHN at 0.7 > 0.65 → flagged.
    # 280530: XRW's 0.7 is no supplier; coverage 0.3 < 0.5 → no flag either way,
    # flag_note says so (before: XRW the top supplier at 0.7, CRMA-flagged).
    insert_flows(store, RESIDUAL_FLOWS)
    df = dependency_flags(store, year=2022)
    assert set(df["importer"].to_list()) == {"USA"}
    assert "XRW" not in df["top_supplier"].to_list()
    magnets = one(df, hs6="850511")
    assert (magnets["top_supplier"], magnets["crma_import_flag"]) == ("CHN", True)
    assert magnets["coverage"] == pytest.approx(0.7)
    metals = one(df, hs6="280530")
    assert (metals["top_supplier"], metals["top_supplier_share"]) == (
        "CHN",
        pytest.approx(0.3),
    )
    assert metals["crma_import_flag"] is None and metals["geodep_flag"] is None
    assert metals["flag_note"].startswith("insufficient coverage")


def test_min_coverage_is_an_option(store: Store) -> None:
    insert_flows(store, RESIDUAL_FLOWS)
    df = dependency_flags(store, importer="USA", year=2022, min_coverage=0.2)
    metals = one(df, hs6="280530")
    assert (metals["crma_import_flag"], metals["flag_note"]) == (False, None)
    with pytest.raises(ParameterError, match="min_coverage"):
        dependency_flags(store, importer="USA", min_coverage=1.5)


def test_trend_across_an_hs_revision_break_says_so(store: Store) -> None:
    # 811292 in 2020 from an HS2017 load, in 2024 from an HS2022 load.
    insert_flows(store, [(2020, "CHN", "USA", "811292", 10.0)], hs_revision="HS2017")
    insert_flows(
        store,
        [(2024, "CHN", "USA", "811292", 20.0)],
        hs_revision="HS2022",
        load_id=2,
        file_name="later.csv",
    )
    df = trend(store, start=2020, end=2024, importer="USA")
    row = one(df, hs6="811292")
    assert (row["hs_revision_from"], row["hs_revision_to"]) == ("HS2017", "HS2022")
    note = revision_break_note(df)
    assert note is not None and "HS2017 → HS2022" in note
    same = df.with_columns(hs_revision_to=pl.col("hs_revision_from"))
    assert revision_break_note(same) is None


def test_missing_years_of_the_window_count_as_not_met(store: Store) -> None:
    insert_flows(store, [r for r in FLOWS if r[0] != 2021])
    row = one(dependency_flags(store, importer="USA", year=2022), hs6="850511")
    assert (row["geodep_years"], row["years_checked"], row["geodep_flag"]) == (
        1,
        2,
        False,
    )


def test_trend_by_hand(store: Store) -> None:
    # 850511: prc 0.9 → 0.5 (−0.4); HHI 0.82 → 0.5 (−0.32); value 100 → 100 (0).
    # 280530 only in 2022: no change figures.
    insert_flows(store, FLOWS)
    df = trend(store, start=2020, end=2022, importer="USA")
    magnets = one(df, hs6="850511")
    assert magnets["prc_share_change"] == pytest.approx(-0.4)
    assert magnets["hhi_change"] == pytest.approx(-0.32)
    assert magnets["import_value_change"] == pytest.approx(0.0)
    metals = one(df, hs6="280530")
    assert metals["prc_share_from"] is None and metals["prc_share_change"] is None
    assert (metals["year_from"], metals["year_to"]) == (2020, 2022)


def test_trend_per_industry(store: Store) -> None:
    # permanent-magnets: 2020 = 850511 only (prc 0.9); 2022 = 850511 (V 100,
    # prc 0.5) + 280530 (V 100, prc 1) → (50 + 100) / 200 = 0.75 → change −0.15.
    insert_flows(store, FLOWS)
    df = trend(store, start=2020, end=2022, importer="USA", level="industry")
    row = one(df, industry="permanent-magnets")
    assert row["prc_share_change"] == pytest.approx(-0.15)


def test_product_trend_equals_joining_two_exposure_years(store: Store) -> None:
    # Issue 17: trend per product reads both years in one pass (trend_product.sql);
    # it must equal the independent route of two exposure years joined in Polars,
    # for products present in one year only, a year loaded in between (2020, not
    # read), an importer filter and an HS filter.
    import random

    import polars as pl

    from friendshore.engines.exposure import product_exposure
    from friendshore.engines.trend import trend_frame

    rng = random.Random(7)
    suppliers = ["CHN", "HKG", "JPN", "DEU", "IND", "X697"]
    rows = []
    for year in (2019, 2020, 2022):
        for imp in ("USA", "FRA", "KOR"):
            for hs in ("850511", "280530", "010121", "720260", "850520"):
                if rng.random() < 0.2:
                    continue  # absent this year
                for exp in rng.sample(suppliers, rng.randint(1, 4)):
                    if exp != imp:
                        rows.append((year, exp, imp, hs, round(rng.uniform(1, 500), 2)))
    for n, year in enumerate((2019, 2020, 2022), start=1):
        insert_flows(store, [r for r in rows if r[0] == year], load_id=n)
    keys = ["importer", "hs6"]
    for kwargs in ({}, {"importer": "FRA"}, {"hs": ["850511", "010121"]}):
        both = product_exposure(store, years=[2019, 2022], **kwargs)
        want = trend_frame(
            both.filter(pl.col("year") == 2019),
            both.filter(pl.col("year") == 2022),
            keys,
        ).with_columns(
            pl.col("year_from").fill_null(2019), pl.col("year_to").fill_null(2022)
        )
        got = trend(store, start=2019, end=2022, **kwargs)
        assert got.columns == want.columns
        assert got.height == want.height > 0
        assert got.select(keys).rows() == want.select(keys).rows()
        for col in got.columns[2:]:
            a, b = got[col].to_list(), want[col].to_list()
            assert [x is None for x in a] == [x is None for x in b], col
            assert [x for x in a if x is not None] == pytest.approx(
                [x for x in b if x is not None]
            ), col
    # A later start than end works too (the change is end minus start).
    back = one(trend(store, start=2022, end=2019, importer="USA"), hs6="850511")
    fwd = one(trend(store, start=2019, end=2022, importer="USA"), hs6="850511")
    if fwd["prc_share_change"] is not None:
        assert back["prc_share_change"] == pytest.approx(-fwd["prc_share_change"])
