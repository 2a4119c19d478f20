"""Dependency flags (CEPII GeoDep, EU CRMA) and trends on hand-worked years."""

from __future__ import annotations

import pytest

from friendshore.errors import ParameterError
from friendshore.flags import dependency_flags
from friendshore.store import Store
from friendshore.trend import trend

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
    assert magnets["crma_flag"] is False  # top supplier 50 % ≤ 65 %
    metals = one(df, hs6="280530")
    assert metals["import_export_ratio"] == float("inf")
    assert (metals["geodep_years"], metals["geodep_flag"]) == (1, False)
    assert metals["crma_flag"] is True  # CHN 100 % > 65 %
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
    assert (row["geodep_years"], row["crma_flag"]) == (3, True)
    with pytest.raises(ParameterError, match="min_years"):
        dependency_flags(store, importer="USA", min_years=4)


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
