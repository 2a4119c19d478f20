"""Registry: dated memberships as of year end, tiers, user registries, store tables.

Golden facts are written out by hand from the official sources (NATO accession
dates, the 20 U.S. FTA partners, 15 CFR 791.4), not read back from the data, and
NATO-2024 membership is cross-checked against a real NATO spending table.
"""

from __future__ import annotations

import csv
import itertools
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from friendshore.errors import InputError, UnknownNameError
from friendshore.reference import countries
from friendshore.reference.registry import load_registry, parse_partial_date

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "registry"

# NATO accession year per member, from nato.int "Member countries" (by hand).
NATO_YEARS = {
    **dict.fromkeys(
        [
            "BEL",
            "CAN",
            "DNK",
            "FRA",
            "ISL",
            "ITA",
            "LUX",
            "NLD",
            "NOR",
            "PRT",
            "GBR",
            "USA",
        ],
        1949,
    ),
    "GRC": 1952,
    "TUR": 1952,
    "DEU": 1955,
    "ESP": 1982,
    **dict.fromkeys(["CZE", "HUN", "POL"], 1999),
    **dict.fromkeys(["BGR", "EST", "LVA", "LTU", "ROU", "SVK", "SVN"], 2004),
    "ALB": 2009,
    "HRV": 2009,
    "MNE": 2017,
    "MKD": 2020,
    "FIN": 2023,
    "SWE": 2024,
}
US_FTA = {
    "AUS",
    "BHR",
    "CAN",
    "CHL",
    "COL",
    "CRI",
    "DOM",
    "SLV",
    "GTM",
    "HND",
    "ISR",
    "JOR",
    "KOR",
    "MEX",
    "MAR",
    "NIC",
    "OMN",
    "PAN",
    "PER",
    "SGP",
}


@pytest.fixture(scope="module")
def reg():  # type: ignore[no-untyped-def]
    return load_registry()


# -- as-of-year membership ------------------------------------------------------
def test_nato_counts_by_year(reg) -> None:  # type: ignore[no-untyped-def]
    assert len(reg.members("nato", 2022)) == 30
    assert len(reg.members("nato", 2023)) == 31
    assert len(reg.members("nato", 2024)) == 32
    assert "FIN" not in reg.members("nato", 2022)
    assert "FIN" in reg.members("nato", 2023)
    assert "SWE" not in reg.members("nato", 2023)
    assert "SWE" in reg.members("nato", 2024)


@pytest.mark.parametrize("year", [1949, 1952, 1955, 1982, 1999, 2004, 2009, 2017, 2020])
def test_nato_membership_matches_accession_years(reg, year: int) -> None:  # type: ignore[no-untyped-def]
    expected = sorted(iso for iso, y in NATO_YEARS.items() if y <= year)
    assert reg.members("nato", year) == expected
    # A year before: the newest accession(s) are absent.
    before = sorted(iso for iso, y in NATO_YEARS.items() if y <= year - 1)
    assert reg.members("nato", year - 1) == before


def test_nato_2024_matches_real_nato_table(reg) -> None:  # type: ignore[no-untyped-def]
    with (FIXTURES / "nato.csv").open(encoding="utf-8", newline="") as fh:
        names = [row["Country"] for row in csv.DictReader(fh)]
    assert len(names) == 31
    codes = {countries.from_name(n) for n in names}
    assert None not in codes
    # The table is NATO-32 minus Iceland (no armed forces, no spending figure).
    assert codes | {"ISL"} == set(reg.members("nato", 2024))
    assert "ISL" not in codes


def test_eu_brexit_and_accessions(reg) -> None:  # type: ignore[no-untyped-def]
    assert "GBR" in reg.members("eu", 2019)
    assert "GBR" not in reg.members("eu", 2020)
    assert len(reg.members("eu", 2019)) == 28
    assert len(reg.members("eu", 2020)) == 27
    assert "HRV" not in reg.members("eu", 2012)
    assert "HRV" in reg.members("eu", 2013)
    assert len(reg.members("eu", 2006)) == 25


def test_us_fta_partners_and_concern_groups(reg) -> None:  # type: ignore[no-untyped-def]
    assert set(reg.members("us-fta", 2024)) == US_FTA
    assert reg.members("prc", 2024) == ["CHN", "HKG", "MAC"]
    assert reg.members("prc", 1996) == ["CHN"]  # HKG from 1997-07-01, MAC 1999-12-20
    assert set(reg.members("foreign-adversaries", 2024)) == {
        "CHN", "HKG", "MAC", "CUB", "IRN", "PRK", "RUS", "VEN"
    }  # fmt: skip


def test_treaty_allies_rio_withdrawals(reg) -> None:  # type: ignore[no-untyped-def]
    allies = reg.members
    assert "MEX" in allies("us-treaty-allies", 2003)
    assert "MEX" not in allies("us-treaty-allies", 2004)
    assert "VEN" in allies("us-treaty-allies", 2012)
    # Disputed 2019 re-accession is not counted.
    assert "VEN" not in allies("us-treaty-allies", 2019)
    assert "BOL" in allies("us-treaty-allies", 2013)
    assert "BOL" not in allies("us-treaty-allies", 2014)
    assert "USA" in allies("us-treaty-allies", 2024)  # the treaty party itself
    assert {"AUS", "JPN", "KOR", "PHL", "THA", "BRA"} <= set(
        allies("us-treaty-allies", 2024)
    )
    # The USA suspended its ANZUS obligations to New Zealand on 1986-08-12.
    assert "NZL" in allies("us-treaty-allies", 1985)
    assert "NZL" not in allies("us-treaty-allies", 1986)
    assert "NZL" not in allies("us-treaty-allies", 2024)


def test_partial_dates_resolve_conservatively() -> None:
    assert parse_partial_date("2023-06", end=True) == date(2023, 6, 30)
    assert parse_partial_date("2024-02", end=True) == date(2024, 2, 29)
    assert parse_partial_date("1956", end=True) == date(1956, 12, 31)
    assert parse_partial_date("2014", end=False) == date(2014, 1, 1)
    assert parse_partial_date("2020-01-31", end=False) == date(2020, 1, 31)
    with pytest.raises(ValueError, match="YYYY"):
        parse_partial_date("31/01/2020", end=True)


def test_mnna_designation_years(reg) -> None:  # type: ignore[no-untyped-def]
    assert "AFG" in reg.members("mnna", 2021)
    assert "AFG" not in reg.members("mnna", 2022)  # revoked 2022
    assert "KEN" not in reg.members("mnna", 2023)
    assert "KEN" in reg.members("mnna", 2024)
    assert set(reg.members("mnna", 1987)) == {"AUS", "EGY", "ISR", "JPN", "KOR"}


# -- data audits (zero-row checks) ------------------------------------------------
def test_members_frame_contract_and_audits(reg) -> None:  # type: ignore[no-untyped-def]
    df = reg.members_frame()
    assert df.schema == pl.Schema(
        {
            "group": pl.String,
            "iso3": pl.String,
            "role": pl.String,
            "since": pl.Date,
            "until": pl.Date,
            "source": pl.String,
        }
    )
    assert set(df["group"].unique()) == set(reg.group_names())
    unknown = [c for c in df["iso3"].unique() if countries.lookup(c) is None]
    assert unknown == []
    assert df.filter(pl.col("until") < pl.col("since")).height == 0
    assert df.filter(pl.col("source").str.len_chars() == 0).height == 0
    # No overlapping membership rows of one country in one group.
    dup = df.group_by("group", "iso3").len().filter(pl.col("len") > 1)
    for group, iso3, _ in dup.iter_rows():
        rows = df.filter((pl.col("group") == group) & (pl.col("iso3") == iso3))
        spans = sorted(rows.select("since", "until").iter_rows())
        for (_, until), (since, _) in itertools.pairwise(spans):
            assert until is not None and since > until


def test_every_group_has_source_and_as_of_date(reg) -> None:  # type: ignore[no-untyped-def]
    for name in reg.group_names():
        g = reg.group(name)
        assert g.source_url.startswith("http"), name
        assert g.as_of in (date(2026, 11, 27), date(2026, 12, 1)), name
    assert reg.version.startswith("2026-12-01+")


def test_unknown_group_suggests(reg) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownNameError, match="Did you mean 'nato'"):
        reg.members("natoo", 2024)


# -- tiers ----------------------------------------------------------------------------
def _tier(df: pl.DataFrame, iso3: str) -> str:
    hit = df.filter(pl.col("iso3") == iso3)
    return hit["tier"][0] if hit.height else "other"


def test_tiers_default_groups(reg) -> None:  # type: ignore[no-untyped-def]
    t22, t24 = reg.tiers(2022), reg.tiers(2024)
    assert t24.schema == pl.Schema({"iso3": pl.String, "tier": pl.String})
    assert _tier(t24, "FIN") == "ally"
    assert _tier(t22, "FIN") == "partner"  # EU and MSP member, not yet a NATO ally
    assert _tier(t24, "CHN") == "concern"
    assert _tier(t24, "HKG") == "concern"
    assert _tier(t24, "RUS") == "other"
    assert _tier(t24, "MNG") == "other"
    assert _tier(t24, "IND") == "partner"
    assert set(t24["tier"]) <= {"concern", "ally", "partner"}


def test_tiers_named_groups_and_precedence(reg) -> None:  # type: ignore[no-untyped-def]
    t = reg.tiers(2024, allies=["five-eyes"], partners=["quad"])
    assert _tier(t, "USA") == "ally"
    assert _tier(t, "IND") == "partner"
    assert _tier(t, "FIN") == "other"
    # concern beats ally even when a concern country sits in an ally group
    t = reg.tiers(2024, allies=["prc", "five-eyes"])
    assert _tier(t, "CHN") == "concern"
    adv = reg.tiers(2024, concern="foreign-adversaries")
    assert _tier(adv, "RUS") == "concern"
    assert _tier(adv, "VEN") == "concern"
    # 15 CFR 791.4 dates from 2021: no foreign adversaries as of 2020
    assert _tier(reg.tiers(2020, concern="foreign-adversaries"), "RUS") == "other"
    with pytest.raises(UnknownNameError):
        reg.tiers(2024, allies=["treaty-allies"])


# -- user registries ------------------------------------------------------------------
def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_user_toml_group_is_partner_and_overrides(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "mine.toml",
        '[groups.mini]\nmembers = ["AUS", "JPN", "USA", "MNG"]\n\n'
        '[groups.watch]\nkind = "concern"\nmembers = [{iso3 = "RUS", since = "2014"}]\n\n'
        '[tiers]\nIND = "ally"\n',
    )
    reg = load_registry(path)
    assert "mini" in reg.group_names()
    assert reg.members("mini", 1990) == ["AUS", "JPN", "MNG", "USA"]  # undated
    t = reg.tiers(2024)
    assert _tier(t, "MNG") == "partner"
    assert _tier(t, "IND") == "ally"  # override wins
    assert _tier(reg.tiers(2024, concern="watch"), "RUS") == "concern"
    assert reg.members("watch", 2013) == []
    assert reg.version != load_registry().version
    assert _tier(load_registry().tiers(2024), "MNG") == "other"


def test_user_csv_group_and_tier_rows(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "mine.csv",
        "group,iso3,since,until,tier\nmini,MNG,2021,,\nmini,KAZ,,2023,\n,TWN,,,ally\n",
    )
    reg = load_registry(path)
    assert reg.members("mini", 2020) == ["KAZ"]
    assert reg.members("mini", 2022) == ["KAZ", "MNG"]
    assert reg.members("mini", 2023) == ["MNG"]  # until 2023 → left during 2023
    assert _tier(reg.tiers(2024), "TWN") == "ally"


def test_user_replace_bundled_group(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "r.toml", '[groups.quad]\nreplace = true\nmembers = ["AUS", "IND"]\n'
    )
    assert load_registry(path).members("quad", 2024) == ["AUS", "IND"]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "conflict.toml",
            '[groups.nato]\nmembers = ["USA"]\n',
            "conflict.toml, group 'nato': already defined by the bundled registry; "
            "set replace = true to redefine it, or choose another name",
        ),
        (
            "code.toml",
            '[groups.mini]\nmembers = ["AUS", "XYZ"]\n',
            "code.toml, key 'groups.mini.members[1]': unknown country code 'XYZ'; "
            "expected an ISO 3166 alpha-3 code such as 'AUS'",
        ),
        (
            "code.csv",
            "group,iso3\nmini,AUS\nmini,ZZZ\n",
            "code.csv, row 3, column 'iso3': unknown country code 'ZZZ'; "
            "expected an ISO 3166 alpha-3 code such as 'AUS'",
        ),
        (
            "tier.toml",
            '[tiers]\nTWN = "friend"\n',
            "tier.toml, key 'tiers.TWN': tier 'friend' is not one of "
            "concern, ally, partner, other",
        ),
        (
            "typo.toml",
            '[groups.mini]\nmembres = ["AUS"]\n',
            "typo.toml, key 'groups.mini.membres': unknown key; expected "
            "kind, members, note, replace, role, source, title",
        ),
        (
            "date.csv",
            "group,iso3,since\nmini,AUS,31/01/2020\n",
            "date.csv, row 2, column 'since': '31/01/2020' is not a date; "
            "expected YYYY, YYYY-MM or YYYY-MM-DD",
        ),
        (
            "mine.json",
            "{}",
            "mine.json: a user registry must be a .toml or .csv file, got '.json'",
        ),
    ],
)
def test_bad_user_registry_is_one_line_error(
    cli, tmp_path: Path, name: str, text: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, name, text)
    with pytest.raises(InputError):
        load_registry(path)
    result = cli("registry", "list", "--registry", path)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {message}\n"
    assert result.stdout == ""


# -- store ----------------------------------------------------------------------------
def test_registry_tables_join_in_sql(store, reg) -> None:  # type: ignore[no-untyped-def]
    store.write_registry(reg)
    store.write_registry(reg)  # re-creating replaces, never duplicates
    n_rows = store.fetchall("SELECT count(*) FROM registry_members")[0][0]
    assert n_rows == reg.members_frame().height
    (n,) = store.fetchall(
        """SELECT count(DISTINCT iso3) FROM registry_members
           WHERE group_name = $g AND since <= $d AND (until IS NULL OR until >= $d)""",
        {"g": "nato", "d": date(2023, 12, 31)},
    )[0]
    assert n == 31
    groups = store.fetchall(
        "SELECT group_name, as_of FROM registry_groups WHERE group_name = 'nato'"
    )
    assert groups == [("nato", date(2026, 11, 27))]


# -- CLI --------------------------------------------------------------------------------
def test_cli_show_and_country_json(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("registry", "show", "nato", "--year", "2022", "--format", "json")
    assert res.exit_code == 0, res.stderr
    rows = json.loads(res.stdout)
    assert len(rows) == 30
    assert "FIN" not in {r["iso3"] for r in rows}
    res = cli("registry", "country", "FIN", "--year", "2022", "-f", "json")
    assert res.exit_code == 0, res.stderr
    rows = json.loads(res.stdout)
    assert {r["tier"] for r in rows} == {"partner"}
    assert {r["group"] for r in rows if r["member"]} == {
        "eu", "msp", "dfars-qualifying"
    }  # fmt: skip
    res = cli("registry", "country", "Finland", "--year", "2024", "-f", "json")
    assert {r["tier"] for r in json.loads(res.stdout)} == {"ally"}


def test_cli_list_json(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("registry", "list", "--year", "2024", "--format", "json")
    assert res.exit_code == 0, res.stderr
    by_group = {r["group"]: r for r in json.loads(res.stdout)}
    assert by_group["nato"]["members"] == 32
    assert by_group["us-fta"]["members"] == 20
    assert by_group["prc"]["kind"] == "concern"


def test_cli_unknown_group_and_country(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("registry", "show", "natoo")
    assert res.exit_code == 2
    assert res.stderr == "Error: Unknown group 'natoo'. Did you mean 'nato'?\n"
    res = cli("registry", "country", "QQQQ")
    assert res.exit_code == 2
    assert res.stderr.startswith("Error: Unknown country 'QQQQ'.")
    assert res.stderr.count("\n") == 1
