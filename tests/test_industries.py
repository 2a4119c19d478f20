"""Industry map: HS validity against the bundled nomenclatures, acyclic upstream
links, UNSD correlation rows for every mapped code, scope, USGS commodity names, CLI.

The nomenclature checks read the real HS files with the csv module (independent
of friendshore's reader); no nomenclature before HS2017 is bundled, so earlier codes
are checked against the bundled UNSD correlation rows.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import polars as pl
import pytest

from friendshore.errors import UnknownNameError
from friendshore.reference.industries import REVISIONS, STAGES, load_industries

DATA = Path(__file__).resolve().parent.parent / "data"

# The USGS commodity names the map must use, exactly (issue 3).
USGS_NAMES = {
    "rare earths", "gallium", "germanium", "graphite", "tungsten", "antimony",
    "cobalt", "lithium", "magnesium metal", "nickel", "titanium mineral concentrates",
    "titanium and titanium dioxide", "tantalum", "niobium", "vanadium", "rhenium",
    "beryllium", "manganese", "platinum-group metals", "chromium", "molybdenum",
    "indium", "bismuth", "aluminum", "copper", "tin", "zirconium and hafnium", "silicon",
}  # fmt: skip


def _hs_codes(folder: str) -> set[str]:
    path = DATA / "hs" / folder / "harmonized-system.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return {
            r["hscode"]
            for r in csv.DictReader(fh)
            if r["level"] == "6" and r["hscode"] != "999999"
        }


@pytest.fixture(scope="module")
def hs() -> dict[str, set[str]]:
    return {"HS2017": _hs_codes("hs2017"), "HS2022": _hs_codes("hs2022")}


@pytest.fixture(scope="module")
def imap():  # type: ignore[no-untyped-def]
    return load_industries()


def _correlation_rows() -> list[dict[str, str]]:
    path = DATA / "industries" / "hs_correlation.csv"
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


# -- HS validity ---------------------------------------------------------------------
def test_nomenclature_files_read_as_text(hs) -> None:  # type: ignore[no-untyped-def]
    # leading zeros kept; 5,388 / 5,613 subheadings per SOURCES.md (minus 999999)
    assert "010121" in hs["HS2017"]
    assert len(hs["HS2017"]) in (5387, 5388)
    assert len(hs["HS2022"]) in (5612, 5613)


@pytest.mark.parametrize("revision", ["HS2017", "HS2022"])
def test_every_mapped_code_is_valid_in_its_revision(imap, hs, revision: str) -> None:  # type: ignore[no-untyped-def]
    products = imap.products(None, revision, include_broader=True)
    bad = sorted(set(products["hs6"]) - hs[revision])
    assert bad == []
    up = imap.upstream(revision, include_broader=True)
    assert sorted((set(up["hs6"]) | set(up["upstream_hs6"])) - hs[revision]) == []
    corr = {
        r["hs6"] if revision != "HS2022" else r["hs2022"]
        for r in _correlation_rows()
        if revision == "HS2022" or r["revision"] == revision
    }
    assert sorted(corr - hs[revision]) == []


@pytest.mark.parametrize("revision", ["HS1992", "HS1996", "HS2002", "HS2007", "HS2012"])
def test_earlier_revisions_use_codes_of_the_un_tables(imap, revision: str) -> None:  # type: ignore[no-untyped-def]
    # No nomenclature before HS2017 is bundled: every code must be one the UNSD
    # correlation table lists for that revision, and every authored code must reach it.
    codes = set(imap.products(None, revision, include_broader=True)["hs6"])
    assert codes and all(len(c) == 6 and c.isdigit() for c in codes)
    listed = {r["hs6"] for r in _correlation_rows() if r["revision"] == revision}
    assert codes <= listed
    reached = {r["hs2022"] for r in _correlation_rows() if r["revision"] == revision}
    assert {i.hs6 for i in imap.inputs} <= reached


def test_inputs_file_is_authored_in_hs2022_with_known_stages(imap) -> None:  # type: ignore[no-untyped-def]
    with (DATA / "industries" / "inputs.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert rows and {r["hs_revision"] for r in rows} == {"HS2022"}
    assert {r["stage"] for r in rows} <= set(STAGES)
    assert {r["scope"] for r in rows} == {"exact", "broader"}
    assert all(r["source"] and r["material"] for r in rows)
    dupes = Counter((r["industry"], r["hs6"]) for r in rows)
    assert [k for k, n in dupes.items() if n > 1] == []


# -- revisions -------------------------------------------------------------------------
def test_correlation_rows_are_unsd_shaped() -> None:
    rows = _correlation_rows()
    assert {r["revision"] for r in rows} == {
        "HS1992", "HS1996", "HS2002", "HS2007", "HS2012", "HS2017"
    }  # fmt: skip
    assert {r["relationship"] for r in rows} <= {"1:1", "1:n", "n:1", "n:n"}
    assert {r["conversion"] for r in rows} <= {"0", "1"}
    # UNSD's conversion table picks exactly one earlier code per HS2022 code.
    picks = Counter(
        (r["revision"], r["hs2022"]) for r in rows if r["conversion"] == "1"
    )
    assert max(picks.values()) == 1


def test_hs2022_split_of_811292(imap, hs) -> None:  # type: ignore[no-untyped-def]
    rows = [
        r
        for r in _correlation_rows()
        if r["revision"] == "HS2017" and r["hs6"] == "811292"
    ]
    assert {r["hs2022"] for r in rows} == {"811292", "811231", "811241"}
    # The nomenclatures agree: hafnium and rhenium left 811292 in HS2022.
    d17 = _description("hs2017", "811292")
    d22 = _description("hs2022", "811292")
    assert "hafnium" in d17 and "rhenium" in d17
    assert "hafnium" not in d22 and "rhenium" not in d22
    assert "811231" not in hs["HS2017"] and "811241" in hs["HS2022"]
    # Expressed in HS2017, aerospace alloys list 811292 once, with all its metals.
    aero = imap.products("aerospace-alloys", "HS2017")
    row = aero.filter(pl.col("hs6") == "811292")
    assert row.height == 1
    assert row["material"][0] == "hafnium, niobium, rhenium, vanadium"
    assert row["scope"][0] == "exact"  # the industry lists all three HS2022 codes
    assert imap.convert("811241", "HS2022", "HS2012") == ["811292"]
    assert imap.convert("811292", "HS2017", "HS2022") == ["811231", "811241", "811292"]


def _description(folder: str, code: str) -> str:
    path = DATA / "hs" / folder / "harmonized-system.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return next(r["description"] for r in csv.DictReader(fh) if r["hscode"] == code)


# -- products / upstream -------------------------------------------------------------
@pytest.mark.parametrize("revision", REVISIONS)
def test_products_contract_unique_per_industry(imap, revision: str) -> None:  # type: ignore[no-untyped-def]
    df = imap.products(None, revision)
    assert df.columns == [
        "industry",
        "hs6",
        "hs_revision",
        "material",
        "stage",
        "source",
        "scope",
    ]
    assert set(df["scope"]) == {"exact"}
    assert set(df["hs_revision"]) == {revision}
    assert df.group_by("industry", "hs6").len()["len"].max() == 1
    assert set(df["industry"]) == set(imap.names())


def test_required_industries_and_inputs(imap) -> None:  # type: ignore[no-untyped-def]
    assert set(imap.names()) >= {
        "permanent-magnets", "batteries", "semiconductors", "munitions",
        "aerospace-alloys", "optics", "shipbuilding-steel",
    }  # fmt: skip

    def materials(industry: str) -> set[str]:
        mats = imap.products(industry, "HS2022")["material"]
        return {m.strip() for text in mats for m in text.split(",")}

    assert {"lithium", "cobalt", "graphite", "nickel", "manganese"} <= materials(
        "batteries"
    )
    assert {"gallium", "germanium", "silicon", "integrated circuits"} <= materials(
        "semiconductors"
    )
    assert {"antimony", "tungsten", "explosives"} <= materials("munitions")
    assert {
        "titanium", "magnesium", "tantalum", "niobium", "vanadium", "rhenium",
        "beryllium",
    } <= materials("aerospace-alloys")  # fmt: skip
    assert "germanium" in materials("optics")
    assert "manganese" in materials("shipbuilding-steel")
    magnets = set(imap.products("permanent-magnets", "HS2017")["hs6"])
    assert {"850511", "280530", "284690"} <= magnets
    cells = imap.products("batteries", "HS2017").filter(pl.col("hs6") == "850760")
    assert cells["stage"].to_list() == ["component"]


def test_unknown_industry_suggests(imap) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownNameError, match="Did you mean 'batteries'"):
        imap.products("baterries")
    with pytest.raises(UnknownNameError, match="HS revision"):
        imap.products("batteries", "HS2010")


@pytest.mark.parametrize("revision", REVISIONS)
def test_upstream_links_have_no_cycle(imap, revision: str) -> None:  # type: ignore[no-untyped-def]
    up = imap.upstream(revision)
    assert up.columns == ["hs6", "upstream_hs6"]
    assert up.height > 50
    # Kahn's algorithm: every node must come off the queue.
    edges: dict[str, set[str]] = defaultdict(set)
    indeg: Counter[str] = Counter()
    nodes = set(up["hs6"]) | set(up["upstream_hs6"])
    for a, b in up.iter_rows():
        if b not in edges[a]:
            edges[a].add(b)
            indeg[b] += 1
    queue = [n for n in nodes if indeg[n] == 0]
    seen = 0
    while queue:
        n = queue.pop()
        seen += 1
        for m in edges[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                queue.append(m)
    assert seen == len(nodes), f"cycle among upstream links in {revision}"


def test_magnet_chain_and_upstream_codes_are_mapped(imap) -> None:  # type: ignore[no-untyped-def]
    up = set(imap.upstream("HS2017").iter_rows())
    assert ("850511", "280530") in up
    assert ("280530", "284690") in up
    chain = imap.upstream_chain("850511")
    assert chain.index("280530") < chain.index("284690") < chain.index("253090")
    inputs = set(imap.products(None, "HS2022")["hs6"])
    ends = imap.upstream("HS2022")
    assert (set(ends["hs6"]) | set(ends["upstream_hs6"])) <= inputs


# -- USGS commodities ------------------------------------------------------------------
def test_commodities_use_usgs_names(imap) -> None:  # type: ignore[no-untyped-def]
    df = imap.commodities()
    assert df.columns == ["material", "commodity"]
    assert set(df["commodity"]) == USGS_NAMES
    map_materials = {
        m.strip()
        for text in imap.products(None, "HS2022")["material"]
        for m in text.split(",")
    }
    assert set(df["material"]) <= map_materials
    pairs = set(df.iter_rows())
    assert ("titanium concentrate", "titanium mineral concentrates") in pairs
    assert ("hafnium", "zirconium and hafnium") in pairs


# -- CLI ----------------------------------------------------------------------------------
def test_cli_industries_list_and_show_json(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("industries", "list", "--format", "json")
    assert res.exit_code == 0, res.stderr
    names = {r["industry"] for r in json.loads(res.stdout)}
    assert "permanent-magnets" in names
    res = cli(
        "industries",
        "show",
        "aerospace-alloys",
        "--hs-revision",
        "HS2022",
        "-f",
        "json",
    )
    assert res.exit_code == 0, res.stderr
    rows = {r["hs6"]: r for r in json.loads(res.stdout)}
    assert rows["811241"]["material"] == "rhenium"
    assert rows["811241"]["hs_revision"] == "HS2022"
    res = cli("industries", "show", "aerospace-alloys", "-f", "json")
    rows = {r["hs6"]: r for r in json.loads(res.stdout)}
    assert "811241" not in rows
    assert rows["811292"]["relation"] == "many-to-one"
    assert "811241" in rows["811292"]["authored_hs6"]
    assert "Gallium, germanium, hafnium" in rows["811292"]["description"]


def test_cli_unknown_industry(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("industries", "show", "magnetss")
    assert res.exit_code == 2
    assert res.stderr.startswith("Error: Unknown industry 'magnetss'.")
    assert res.stderr.count("\n") == 1


def test_commodity_names_match_loaded_usgs_tables(tmp_path: Path, imap) -> None:  # type: ignore[no-untyped-def]
    # The names must join with `production.commodity` as the USGS loader stores it:
    # load the real MCS2023 and MCS2025 tables and compare.
    from friendshore import sources
    from friendshore.store import Store

    files = sorted((DATA / "sources" / "usgs" / "mcs2023").glob("*.csv"))
    files += sorted((DATA / "sources" / "usgs" / "mcs2025").glob("*.csv"))
    with Store(tmp_path / "usgs.duckdb") as store:
        sources.load(store, "usgs", files)
        loaded = {
            r[0] for r in store.fetchall("SELECT DISTINCT commodity FROM production")
        }
    # every mapped commodity has a bundled USGS table (silicon since issue 14)
    assert set(imap.commodities()["commodity"]) - loaded == set()


# -- the map's work is done once per query (issue 17) ----------------------------------
def test_nomenclature_reader_matches_the_csv_module() -> None:
    from friendshore.reference.industries import hs_nomenclature

    for revision, folder in (("HS2017", "hs2017"), ("HS2022", "hs2022")):
        path = DATA / "hs" / folder / "harmonized-system.csv"
        with path.open(encoding="utf-8-sig", newline="") as fh:
            want = {
                r["hscode"]: r["description"]
                for r in csv.DictReader(fh)
                if r["level"] == "6" and len(r["hscode"]) == 6 and r["hscode"].isdigit()
            }
        assert hs_nomenclature(revision) == want
        assert len(want) > 5000


def test_product_rows_are_not_shared_with_the_caller(imap) -> None:  # type: ignore[no-untyped-def]
    first = imap.product_rows(None, "HS2017", detail=True)
    kept = list(first.data["hs6"])
    first.data["hs6"][0] = "XXXXXX"
    first.data["scope"].clear()
    again = imap.product_rows(None, "HS2017", detail=True)
    assert again.data["hs6"] == kept
    assert len(again.data["scope"]) == len(kept)
    assert again.data["description"][kept.index("854140")].startswith("Electrical")


def test_an_industry_query_works_out_each_code_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One `exposure --level industry` asked the map for the same revision's rows up to
    # four times (selection, roll-up, left-out column, stderr note): 1,696 scope-rule
    # evaluations for ~250 (industry, code, revision) triples.
    from friendshore.engines.exposure import industry_exposure, left_out_of
    from friendshore.reference import industries as mod
    from friendshore.store import Store

    from .test_exposure import insert_flows

    evaluated: Counter[tuple[str, str, str]] = Counter()
    rule = mod.IndustryMap._also_holds

    def counted(self, industry: str, code: str, revision: str) -> list[str]:  # type: ignore[no-untyped-def]
        evaluated[(industry, code, revision)] += 1
        return rule(self, industry, code, revision)

    monkeypatch.setattr(mod.IndustryMap, "_also_holds", counted)
    mod.load_industries.cache_clear()  # a map with nothing worked out yet
    try:
        with Store(tmp_path / "s.duckdb") as store:
            insert_flows(store, [(2022, "CHN", "USA", "850760", 600.0)])
            df = industry_exposure(store, importer="USA", year=2022)
        assert "batteries" in df["industry"].to_list()
        assert left_out_of(df, None)
    finally:
        mod.load_industries.cache_clear()
    assert evaluated
    assert max(evaluated.values()) == 1
