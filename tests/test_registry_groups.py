"""Registry checks of issue 14: tiers by named groups, the added groups with their
dates and sources, and the corrected entries (Macau, IPEF note, NZL, Rio Treaty).

Expected values are written out from the sources named in data/registry (15 CFR
791.4, 10 U.S.C. 4872, DFARS 252.225-7002, CRS IF11311, the USTR/IRS 30D pages,
the EU's MSP Forum release, NATO and USIP on the IP4, Reuters on Chip 4, USGS on
the CMMI), not read back from the data files.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from friendshore.reference.registry import load_registry


@pytest.fixture(scope="module")
def reg():  # type: ignore[no-untyped-def]
    return load_registry()


def _tier(reg, iso3: str, year: int) -> str:  # type: ignore[no-untyped-def]
    return reg.tier_of(iso3, year)


def test_listing_in_any_group_no_longer_makes_a_partner(reg) -> None:  # type: ignore[no-untyped-def]
    # Pakistan is an MNNA, Nicaragua has a US FTA, Vietnam is in IPEF: none of
    # these groups confers a tier by itself.
    assert _tier(reg, "PAK", 2024) == "other"
    assert _tier(reg, "NIC", 2024) == "other"
    assert _tier(reg, "VNM", 2024) == "other"
    # Named partner groups still do.
    assert _tier(reg, "IND", 2024) == "partner"  # Quad, MSP
    assert _tier(reg, "TWN", 2024) == "partner"  # Chip 4
    assert _tier(reg, "NZL", 2024) == "partner"  # Five Eyes, NTIB, IP4; not an ally
    assert _tier(reg, "EGY", 2024) == "partner"  # DFARS qualifying country
    assert _tier(reg, "JPN", 2024) == "ally"
    # Asked for by name, a none-tier group works as before.
    t = reg.tiers(2024, partners=["mnna"])
    assert t.filter(pl.col("iso3") == "PAK")["tier"].to_list() == ["partner"]


def test_groups_say_which_tier_they_give(reg) -> None:  # type: ignore[no-untyped-def]
    frame = reg.groups_frame()
    tiers = dict(zip(frame["group"], frame["tier"], strict=True))
    assert tiers["us-treaty-allies"] == "ally"
    assert {
        tiers[g] for g in ("mnna", "us-fta", "ipef", "ira-30d-fta", "msp-forum")
    } == {"none"}
    assert {
        tiers[g] for g in ("prc", "foreign-adversaries", "covered-nations", "feoc")
    } == {"concern"}
    assert reg.default_allies() == ["us-treaty-allies"]
    assert {"nato", "eu", "five-eyes", "ntib", "dfars-qualifying", "chip4"} <= set(
        reg.default_partners()
    )


def test_foreign_adversaries_macau_counted_from_its_listing(reg) -> None:  # type: ignore[no-untyped-def]
    assert "MAC" not in reg.members("foreign-adversaries", 2023)
    assert "MAC" in reg.members("foreign-adversaries", 2024)
    assert "HKG" in reg.members("foreign-adversaries", 2021)
    assert reg.members("foreign-adversaries", 2020) == []


def test_ipef_note_only_on_india(reg) -> None:  # type: ignore[no-untyped-def]
    rows = reg.group_frame("ipef")
    noted = rows.filter(pl.col("note").str.contains("except trade"))["iso3"].to_list()
    assert noted == ["IND"]


def test_covered_nations_and_feoc(reg) -> None:  # type: ignore[no-untyped-def]
    four = {"CHN", "IRN", "PRK", "RUS"}
    assert set(reg.members("covered-nations", 2019)) == four
    assert reg.members("covered-nations", 2017) == []  # FY2019 NDAA, 2018-08-13
    assert set(reg.members("feoc", 2022)) == four
    assert reg.members("feoc", 2020) == []  # IIJA, 2021-11-15
    t = reg.tiers(2024, concern="covered-nations")
    assert set(t.filter(pl.col("tier") == "concern")["iso3"]) == four


def test_ntib_dfars_and_30d_dates(reg) -> None:  # type: ignore[no-untyped-def]
    assert reg.members("ntib", 2015) == ["CAN", "USA"]
    assert reg.members("ntib", 2016) == ["AUS", "CAN", "GBR", "USA"]
    assert reg.members("ntib", 2022) == ["AUS", "CAN", "GBR", "NZL", "USA"]
    dfars = set(reg.members("dfars-qualifying", 2024))
    assert len(dfars) == 27 and {"EGY", "JPN", "CHE", "TUR", "AUT"} <= dfars
    assert "LTU" not in dfars and "KOR" not in dfars
    fta = set(reg.members("ira-30d-fta", 2024))
    assert len(fta) == 21 and "JPN" in fta and "NIC" in fta
    assert reg.members("ira-30d-fta", 2022) == []
    assert reg.members("ira-30d-fta", 2025) == []  # ended 2025-09-30


def test_msp_forum_ip4_chip4_cmmi(reg) -> None:  # type: ignore[no-untyped-def]
    forum = set(reg.members("msp-forum", 2024))
    assert len(forum) == 15 and {"ARG", "KAZ", "UKR", "COD", "PHL", "ZMB"} <= forum
    assert not forum & set(reg.members("msp", 2024))
    assert reg.members("nato-ip4", 2024) == ["AUS", "JPN", "KOR", "NZL"]
    assert reg.members("chip4", 2022) == ["JPN", "KOR", "TWN", "USA"]
    assert reg.members("chip4", 2021) == []
    assert reg.members("cmmi", 2019) == ["AUS", "CAN", "USA"]
    assert reg.members("cmmi", 2018) == []


def test_every_new_group_has_dates_and_a_source(reg) -> None:  # type: ignore[no-untyped-def]
    new = ["covered-nations", "feoc", "dfars-qualifying", "ntib", "ira-30d-fta",
           "msp-forum", "nato-ip4", "chip4", "cmmi"]  # fmt: skip
    for name in new:
        g = reg.group(name)
        assert g.source_url.startswith("http") and g.source_name, name
        assert g.as_of == date(2026, 12, 1), name
        rows = reg.history(name)
        assert rows and all(m.since is not None and m.source for m in rows), name
