"""Industry map scope and revisions (issues 14 and 17).

- A code broader than an industry's input in the data's revision (HS2017 854140 for
  ``optics``; 282560, germanium oxides *and zirconium dioxide*) is marked
  ``scope = broader``, left out of baskets, roll-ups and look-through by default,
  and named in a ``left_out_hs6`` column and a stderr note.
- The inputs a reviewer expects are mapped, each with a source.
- An HS1992 BACI release (one zip with several years, shaped as CEPII ships it)
  answers industry queries, also across a revision break into HS2017 data.

Golden numbers are worked out by hand from the crafted flows below.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import polars as pl
import pytest

from friendshore.engines.exposure import industry_exposure, product_exposure
from friendshore.engines.trend import trend
from friendshore.reference.industries import load_industries
from friendshore.sources.baci import load_baci
from friendshore.store import Store

from .conftest import DATA, FIXTURES, run_cli

CODES25 = FIXTURES / "baci" / "V202501" / "country_codes_V202501.csv"


@pytest.fixture(scope="module")
def imap():  # type: ignore[no-untyped-def]
    return load_industries()


def _hs2022() -> dict[str, str]:
    path = DATA / "hs" / "hs2022" / "harmonized-system.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return {r["hscode"]: r["description"] for r in csv.DictReader(fh)}


# -- scope -------------------------------------------------------------------------------
def test_optics_in_hs2017_leaves_out_854140_by_default(imap) -> None:  # type: ignore[no-untyped-def]
    # HS2022 854149 (IR detectors) maps back to HS2017 854140, which also holds
    # LEDs (854141) and PV cells and modules (854142, 854143).
    default = set(imap.products("optics", "HS2017")["hs6"])
    assert "854140" not in default
    wide = imap.products("optics", "HS2017", include_broader=True)
    row = wide.filter(pl.col("hs6") == "854140").to_dicts()
    assert [r["scope"] for r in row] == ["broader"]
    note = imap.broader("optics", "HS2017").filter(pl.col("hs6") == "854140")
    assert "854141, 854142, 854143" in note["scope_note"][0]
    # In HS2022 the detectors have their own code: exact, counted.
    hs22 = imap.products("optics", "HS2022")
    assert "854149" in set(hs22["hs6"]) and "854142" not in set(hs22["hs6"])


def test_282560_is_marked_and_carries_no_lookthrough(imap) -> None:  # type: ignore[no-untyped-def]
    for industry in ("semiconductors", "optics"):
        for rev in ("HS2022", "HS2017", "HS1992"):
            assert "282560" not in set(imap.products(industry, rev)["hs6"])
            b = imap.broader(industry, rev).filter(pl.col("hs6") == "282560")
            assert "zirconium dioxide" in b["scope_note"][0]
    up = set(imap.upstream("HS2022").iter_rows())
    assert ("811292", "282560") not in up
    assert ("811292", "282560") in set(
        imap.upstream("HS2022", include_broader=True).iter_rows()
    )


def test_batteries_in_hs1992_leave_out_other_accumulators(imap) -> None:  # type: ignore[no-untyped-def]
    # Before HS2012 lithium-ion cells sat in 850780 "other accumulators" (with
    # NiMH before HS2002): broader than the input.
    for rev in ("HS1992", "HS2007"):
        assert "850780" not in set(imap.products("batteries", rev)["hs6"])
        assert "850780" in set(imap.broader("batteries", rev)["hs6"])
    assert "850760" in set(imap.products("batteries", "HS2012")["hs6"])


# -- the inputs a reviewer expects ------------------------------------------------------------
EXPECTED = {
    "batteries": {"284190", "380190", "283329", "282690"},
    "munitions": {"283090", "284990", "293369", "310230"},
    "semiconductors": {"853400", "854110", "854129", "854130", "853221", "280429"},
    "optics": {"811299", "280450", "811269", "852583"},
    "aerospace-alloys": {"681511", "282570", "284990"},
    "shipbuilding-steel": {"720851", "720852", "722540"},
    "castings-forgings": {"732510", "732599", "732619", "722490"},
    "rocket-motors-missiles": {"282990", "760310", "360100", "930690"},
    "small-drones": {"880621", "880622", "880623", "850760"},
}
# Listed, but broader than the input (left out of roll-ups unless asked).
EXPECTED_BROADER = {
    "batteries": {"284290"},  # LFP, in a catch-all of salts
    "munitions": {"293399"},  # HMX, among heterocyclic compounds n.e.c.
    "semiconductors": {"285000", "282590", "285390", "282739", "282560"},  # Ga/Ge list
    "optics": {"284290", "281810", "852589"},  # ZnSe, sapphire, thermal cameras
}


def test_expected_inputs_are_mapped_in_hs2022(imap) -> None:  # type: ignore[no-untyped-def]
    for industry, codes in EXPECTED.items():
        got = imap.products(industry, "HS2022")
        assert codes <= set(got["hs6"]), industry
        assert got["source"].str.len_chars().min() > 0
    for industry, codes in EXPECTED_BROADER.items():
        assert codes <= set(imap.broader(industry, "HS2022")["hs6"]), industry


def test_new_industries_cite_their_source(imap) -> None:  # type: ignore[no-untyped-def]
    frame = imap.industries_frame()
    rows = {r["industry"]: r for r in frame.iter_rows(named=True)}
    assert "castings and forgings" in rows["castings-forgings"]["source"]
    assert "kinetic capabilities" in rows["rocket-motors-missiles"]["source"]
    assert "Drone Act" in rows["small-drones"]["source"]


def test_every_input_row_names_its_code_text(imap) -> None:  # type: ignore[no-untyped-def]
    # Each authored code exists in HS2022, and 282560's own text names zirconium.
    hs = _hs2022()
    assert sorted({i.hs6 for i in imap.inputs} - set(hs)) == []
    assert "zirconium dioxide" in hs["282560"].lower()
    assert "alloy" in hs["722540"].lower()
    assert "non-alloy" in hs["720851"].lower()
    assert "unmanned aircraft" in hs["880622"].lower()


# -- an HS1992 release, several years in one zip, and a revision break ---------------------
HS92 = {
    # year: flows (exporter, importer, hs6, value in thousands of USD)
    2015: [
        (156, 842, "283691", 30.0),
        (152, 842, "283691", 70.0),
        (156, 842, "850780", 500.0),  # other accumulators incl. Li-ion: broader
    ],
    2016: [
        (156, 842, "283691", 40.0),
        (152, 842, "283691", 60.0),
        (156, 842, "850780", 800.0),
    ],
}
HS17 = {
    2018: [
        (156, 842, "850760", 200.0),
        (392, 842, "850760", 300.0),
        (156, 842, "283691", 10.0),
        (152, 842, "283691", 90.0),
        (156, 842, "854140", 1000.0),  # LEDs, PV and IR detectors: broader for optics
    ],
}


def _year_csv(year: int, flows: list[tuple[int, int, str, float]]) -> bytes:
    # BACI's layout: t,i,j,k,v,q with space-padded numbers and "NA" quantities.
    lines = ["t,i,j,k,v,q"]
    lines += [f"{year},{i},{j},{k},{v:>12.3f},          NA" for i, j, k, v in flows]
    return ("\n".join(lines) + "\n").encode()


def _release(tmp: Path, hs: str, years: dict[int, list]) -> Path:  # type: ignore[type-arg]
    dest = tmp / f"BACI_HS{hs}_V202501.zip"
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for year, flows in years.items():
            zf.writestr(f"BACI_HS{hs}_Y{year}_V202501.csv", _year_csv(year, flows))
        zf.writestr(CODES25.name, CODES25.read_bytes())
        codes = sorted({k for flows in years.values() for _, _, k, _ in flows})
        zf.writestr(
            f"product_codes_HS{hs}_V202501.csv",
            ("code,description\n" + "".join(f'{c},"HS {c}"\n' for c in codes)).encode(),
        )
        zf.writestr("Readme.txt", b"BACI crafted test release\n")
    return dest


@pytest.fixture
def hs92_store(store: Store, tmp_path: Path) -> Store:
    results = load_baci(store, [_release(tmp_path, "92", HS92)])
    assert [r.dataset_key for r in results] == ["HS1992:2015", "HS1992:2016"]
    load_baci(store, [_release(tmp_path, "17", HS17)])
    return store


def test_hs92_release_answers_an_industry_query(hs92_store: Store) -> None:
    df = industry_exposure(
        hs92_store, importer="USA", industry="batteries", years=[2015, 2016]
    )
    rows = {r["year"]: r for r in df.iter_rows(named=True)}
    assert rows[2015]["hs_revision"] == "HS1992"
    # 2015: 283691 only (850780 left out): 30 + 70 thousand USD, PRC 30 %.
    assert rows[2015]["import_value_usd"] == pytest.approx(100_000.0)
    assert rows[2015]["prc_share"] == pytest.approx(0.30)
    assert rows[2015]["hhi"] == pytest.approx(0.3**2 + 0.7**2)
    assert rows[2015]["n_products"] == 1
    assert "850780" in rows[2015]["left_out_hs6"]
    assert rows[2016]["prc_share"] == pytest.approx(0.40)


def test_industry_query_across_the_revision_break(hs92_store: Store) -> None:
    df = industry_exposure(
        hs92_store, importer="USA", industry="batteries", years=[2016, 2018]
    ).sort("year")
    assert df["hs_revision"].to_list() == ["HS1992", "HS2017"]
    r18 = df.row(1, named=True)
    # 2018 (HS2017): 850760 500 k (PRC 200) + 283691 100 k (PRC 10).
    assert r18["import_value_usd"] == pytest.approx(600_000.0)
    assert r18["prc_share"] == pytest.approx(210 / 600)
    assert r18["hhi"] == pytest.approx((500 * (0.4**2 + 0.6**2) + 100 * 0.82) / 600)
    assert r18["n_products"] == 2
    # The trend between the two years works in each year's own codes.
    t = trend(
        hs92_store,
        start=2016,
        end=2018,
        importer="USA",
        industry="batteries",
        level="industry",
    )
    assert t["prc_share_change"][0] == pytest.approx(210 / 600 - 0.40)


def test_include_broader_counts_the_left_out_codes(hs92_store: Store) -> None:
    wide = industry_exposure(
        hs92_store,
        importer="USA",
        industry="batteries",
        year=2015,
        include_broader=True,
    ).row(0, named=True)
    assert wide["import_value_usd"] == pytest.approx(600_000.0)
    assert wide["prc_share"] == pytest.approx(530 / 600)
    assert wide["left_out_hs6"] is None


def test_hs2017_optics_has_no_pv_modules_by_default(hs92_store: Store) -> None:
    products = product_exposure(
        hs92_store, importer="USA", industry="optics", year=2018
    )
    assert "854140" not in set(products["hs6"])
    rolled = industry_exposure(hs92_store, importer="USA", industry="optics", year=2018)
    assert rolled.is_empty()
    wide = product_exposure(
        hs92_store, importer="USA", industry="optics", year=2018, include_broader=True
    )
    assert wide["hs6"].to_list() == ["854140"]
    assert wide["import_value_usd"][0] == pytest.approx(1_000_000.0)


def test_cli_says_what_it_left_out(hs92_store: Store, db_path: Path) -> None:
    hs92_store.close()
    res = run_cli(
        "exposure",
        "--importer",
        "USA",
        "--industry",
        "batteries",
        "--year",
        "2015",
        "--level",
        "industry",
        "-f",
        "csv",
        db=db_path,
    )
    assert res.exit_code == 0, res.stderr
    assert "left out as broader" in res.stderr and "850780" in res.stderr
    assert "left_out_hs6" in res.stdout.splitlines()[0]
    res = run_cli(
        "exposure",
        "--importer",
        "USA",
        "--industry",
        "batteries",
        "--year",
        "2015",
        "--include-broader",
        "-f",
        "csv",
        db=db_path,
    )
    assert res.exit_code == 0, res.stderr
    assert "left out" not in res.stderr
    assert "850780" in res.stdout


def test_811292_before_hs2022_is_counted_by_a_stated_judgement(imap) -> None:  # type: ignore[no-untyped-def]
    # HS2017 811292 also holds hafnium and rhenium; it is the only Ga/Ge/In code
    # before HS2022, so a judgement (with its reason) keeps it in the basket.
    for industry in ("semiconductors", "optics"):
        rows = imap.products(industry, "HS2017", detail=True)
        row = rows.filter(pl.col("hs6") == "811292").row(0, named=True)
        assert row["scope"] == "exact"
        assert "judgement" in row["scope_note"] and "811231" in row["scope_note"]
        assert "811291" in set(imap.products(industry, "HS1992")["hs6"])
