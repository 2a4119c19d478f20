"""CEPII BACI loader: zip / folder / CSV forms, both code-file layouts, golden rows
checked by an independent DuckDB route, no-op and replace semantics, and every kind
of bad input giving one error line and an untouched store.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from pathlib import Path

import duckdb
import pytest

from friendshore.errors import SourceFormatError
from friendshore.sources.baci import load_baci, read_country_codes
from friendshore.store import Store

from .conftest import FIXTURES, SOURCES, table_snapshot

FIX = FIXTURES / "baci"
V25 = FIX / "V202501"
V22 = FIX / "V202201"
DATA25 = V25 / "BACI_HS17_Y2022_V202501.csv"
CODES25 = V25 / "country_codes_V202501.csv"
PRODUCTS25 = V25 / "product_codes_HS17_V202501.csv"
DATA22 = V22 / "BACI_HS12_Y2019_V202201.csv"

Row = tuple[object, ...]


# -- helpers ----------------------------------------------------------------------
def _independent(data: Path, codes: Path) -> list[Row]:
    """Expected trade_flows rows of a V2025-layout release, by plain DuckDB SQL.

    Written from the BACI documentation, not from the loader: every field read as
    text, v in thousands of USD, NA → NULL, k zero-padded, 490 → TWN, a code
    without a three-letter ISO3 → X + code.
    """
    con = duckdb.connect()
    return sorted(
        con.sql(
            """
            WITH codes AS (
                SELECT CAST(country_code AS INTEGER) AS code,
                       CASE WHEN country_code = '490' THEN 'TWN'
                            WHEN regexp_full_match(country_iso3, '[A-Z]{3}')
                                THEN country_iso3
                            ELSE 'X' || lpad(country_code, 3, '0') END AS iso3
                FROM read_csv($codes, all_varchar = true, header = true)
            ),
            raw AS (SELECT * FROM read_csv($data, all_varchar = true, header = true))
            SELECT CAST(trim(t) AS INTEGER), e.iso3, m.iso3, lpad(trim(k), 6, '0'),
                   'HS2017', CAST(trim(v) AS DOUBLE) * 1000,
                   CASE WHEN trim(q) = 'NA' THEN NULL ELSE CAST(trim(q) AS DOUBLE) END,
                   'baci', 'baci'
            FROM raw
            JOIN codes AS e ON e.code = CAST(trim(i) AS INTEGER)
            JOIN codes AS m ON m.code = CAST(trim(j) AS INTEGER)
            """,
            params={"codes": str(codes), "data": str(data)},
        ).fetchall()
    )


def _flows(store: Store) -> list[Row]:
    return sorted(
        store.fetchall(
            "SELECT year, exporter, importer, hs6, hs_revision, value_usd, "
            "quantity_t, source, basis FROM trade_flows"
        ),
        key=lambda r: tuple(map(str, r)),
    )


def _sorted(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: tuple(map(str, r)))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _release_zip(
    dest: Path, members: dict[str, Path | bytes], method: int = zipfile.ZIP_DEFLATED
) -> Path:
    """A zip shaped like a CEPII release: flat members, as downloaded."""
    with zipfile.ZipFile(dest, "w", compression=method) as zf:
        for name, src in members.items():
            zf.writestr(name, src if isinstance(src, bytes) else src.read_bytes())
    return dest


def _year_variant(tmp: Path, name: str, text: str, codes: Path = CODES25) -> Path:
    """A year file written in tmp with the given text, its code file beside it."""
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(codes, tmp / codes.name)
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the country code files -----------------------------------------------------------
def test_v202501_code_file_maps_every_code() -> None:
    codes = read_country_codes(CODES25)
    assert len(codes) == 238  # data rows of the real file, none dropped
    assert codes[490] == "TWN"  # "Other Asia, nes", pseudo ISO3 S19
    assert codes[697] == "X697"  # Europe EFTA, nes: pseudo ISO3 R20
    assert codes[711] == "X711"  # Southern African Customs Union: ZA1
    assert {c: v for c, v in codes.items() if v.startswith("X")} == {
        697: "X697",
        711: "X711",
    }
    assert (codes[251], codes[579], codes[699], codes[757], codes[842]) == (
        "FRA",
        "NOR",
        "IND",
        "CHE",
        "USA",
    )
    assert (codes[380], codes[516], codes[384]) == ("ITA", "NAM", "CIV")
    assert 381 not in codes  # Italy moved from 381 to 380


def test_v202201_code_file_layout_and_latin1() -> None:
    codes = read_country_codes(V22 / "country_codes_V202201.csv")
    assert len(codes) == 238
    assert codes[381] == "ITA"
    assert (codes[490], codes[697], codes[849]) == ("TWN", "X697", "X849")  # N/A
    assert codes[711] == "ZAF"  # this release gave SACU the ISO3 ZAF
    assert (codes[516], codes[251], codes[384]) == ("NAM", "FRA", "CIV")


# -- golden loads -------------------------------------------------------------------
def test_single_csv_matches_independent_route(store: Store) -> None:
    (res,) = load_baci(store, [DATA25])
    assert (res.status, res.rows, res.years) == ("loaded", 12, (2022,))
    assert res.dataset_key == "HS2017:2022"
    assert _flows(store) == _sorted(_independent(DATA25, CODES25))


def test_single_csv_hand_checked_values(store: Store) -> None:
    load_baci(store, [DATA25])
    got = {
        (r[0], r[1], r[2]): r[3:]
        for r in store.fetchall(
            "SELECT exporter, importer, hs6, value_usd, quantity_t FROM trade_flows"
        )
    }
    # 490,842,854231,  9876.5,       NA  → Taiwan, thousands → USD, NA → NULL
    assert got[("TWN", "USA", "854231")] == (9876500.0, None)
    # 697,251,10121,      0.123,     0.001 → area X697, France 251, leading zero
    assert got[("X697", "FRA", "010121")] == pytest.approx((123.0, 0.001))
    # 842,516,30192,     7.125,       0.5 → Namibia (ISO2 "NA" is no missing value)
    assert got[("USA", "NAM", "030192")] == (7125.0, 0.5)
    # 579,380,260300 → Norway to Italy (380 in V202501)
    assert got[("NOR", "ITA", "260300")] == (2250.0, 3.0)
    assert got[("CHN", "X697", "740311")] == (1500000.0, 205.125)
    assert store.fetchall(
        "SELECT count(*) FILTER (WHERE quantity_t IS NULL), min(load_id), "
        "max(load_id) FROM trade_flows"
    ) == [(5, 1, 1)]


def test_release_zip_loads_member_with_its_sha(store: Store, tmp_path: Path) -> None:
    archive = _release_zip(
        tmp_path / "BACI_HS17_V202501.zip",
        {
            DATA25.name: DATA25,
            CODES25.name: CODES25,
            PRODUCTS25.name: PRODUCTS25,
            "Readme.txt": b"BACI HS17 release 202501\n",
        },
    )
    (res,) = load_baci(store, [archive])
    assert (res.status, res.rows) == ("loaded", 12)
    assert _flows(store) == _sorted(_independent(DATA25, CODES25))
    assert store.fetchall(
        "SELECT file_name, file_path, sha256, dataset_key, rows, years FROM loads"
    ) == [(DATA25.name, str(archive), _sha(DATA25), "HS2017:2022", 12, "2022")]
    # the same bytes as a plain CSV are the same data: a no-op
    (again,) = load_baci(store, [DATA25])
    assert again.status == "unchanged"


def test_zip_with_several_years_is_one_load_per_year(
    store: Store, tmp_path: Path
) -> None:
    y2021 = DATA25.read_text(encoding="utf-8").replace("2022,", "2021,")
    archive = _release_zip(
        tmp_path / "BACI_HS17_V202501.zip",
        {
            "BACI_HS17_Y2021_V202501.csv": y2021.encode(),
            DATA25.name: DATA25,
            CODES25.name: CODES25,
        },
    )
    results = load_baci(store, [archive])
    assert [(r.dataset_key, r.rows) for r in results] == [
        ("HS2017:2021", 12),
        ("HS2017:2022", 12),
    ]
    assert store.fetchall(
        "SELECT year, count(*) FROM trade_flows GROUP BY year ORDER BY year"
    ) == [(2021, 12), (2022, 12)]


def test_extracted_folder(store: Store) -> None:
    (res,) = load_baci(store, [V25])
    assert (res.file_name, res.rows) == (DATA25.name, 12)
    assert _flows(store) == _sorted(_independent(DATA25, CODES25))


def test_v202201_layout_hs12_uses_381_for_italy(store: Store) -> None:
    (res,) = load_baci(store, [DATA22])
    assert (res.dataset_key, res.rows) == ("HS2012:2019", 5)
    # hand-mapped from the file and country_codes_V202201.csv
    assert _flows(store) == _sorted(
        [
            (2019, "ITA", "USA", "850511", "HS2012", 12345.0, 1.5, "baci", "baci"),
            (2019, "TWN", "ITA", "854231", "HS2012", 250000.0, None, "baci", "baci"),
            (2019, "X697", "ITA", "010121", "HS2012", 900.0, 0.02, "baci", "baci"),
            (2019, "USA", "FRA", "811292", "HS2012", 3125.0, None, "baci", "baci"),
            (2019, "NAM", "ITA", "260300", "HS2012", 17000.0, 40.5, "baci", "baci"),
        ]
    )


def test_column_order_crlf_and_bom_are_read_by_name(
    store: Store, tmp_path: Path
) -> None:
    """The header names the columns: a reordered, CRLF, BOM-prefixed copy loads alike."""
    order = [5, 2, 0, 4, 3, 1]  # q,j,t,v,k,i
    lines = [
        ",".join(line.split(",")[n] for n in order)
        for line in DATA25.read_text(encoding="utf-8").splitlines()
    ]
    assert lines[0] == "q,j,t,v,k,i"
    path = tmp_path / DATA25.name
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    shutil.copy(CODES25, tmp_path / CODES25.name)
    (res,) = load_baci(store, [path])
    assert res.rows == 12
    assert _flows(store) == _sorted(_independent(DATA25, CODES25))


def test_hs_revision_option_for_a_renamed_file(store: Store, tmp_path: Path) -> None:
    path = _year_variant(
        tmp_path, "BACI_Y2022_V202501.csv", DATA25.read_text(encoding="utf-8")
    )
    (res,) = load_baci(store, [path], hs_revision="HS17")
    assert res.dataset_key == "HS2017:2022"


# -- no-op and replace ------------------------------------------------------------------
def test_identical_reload_is_a_noop(store: Store) -> None:
    first = load_baci(store, [DATA25])
    again = load_baci(store, [V25])
    assert (first[0].status, again[0].status) == ("loaded", "unchanged")
    assert store.fetchall("SELECT count(*) FROM trade_flows") == [(12,)]
    assert store.fetchall("SELECT count(*) FROM loads") == [(1,)]


def test_identical_file_under_another_name_is_a_noop_too(
    store: Store, tmp_path: Path
) -> None:
    # Identical bytes are the same load whatever the file is called.
    load_baci(store, [DATA25])
    before = table_snapshot(store)
    shutil.copy(CODES25, tmp_path / CODES25.name)
    copy = tmp_path / "BACI_HS17_Y2022_V202501_copy.csv"
    shutil.copy(DATA25, copy)
    again = load_baci(store, [copy])
    assert again[0].status == "unchanged"
    assert "identical to BACI_HS17_Y2022_V202501.csv" in again[0].notes[0]
    assert table_snapshot(store) == before


def test_changed_file_and_later_release_replace_rows(
    store: Store, tmp_path: Path
) -> None:
    load_baci(store, [DATA22])  # another dataset: must survive
    load_baci(store, [DATA25])
    # CEPII re-issues the same file with one value revised
    text = DATA25.read_text(encoding="utf-8")
    revised = text.replace(
        "2022,516,490,81110,        42,", "2022,516,490,81110,  43.5,"
    )
    assert revised != text
    changed = _year_variant(tmp_path / "rev", DATA25.name, revised)
    (res,) = load_baci(store, [changed])
    assert (res.status, res.rows) == ("replaced", 12)
    assert store.fetchall(
        "SELECT value_usd FROM trade_flows WHERE exporter = 'NAM' AND year = 2022"
    ) == [(43500.0,)]
    # a later release of the same revision and year, with one flow fewer
    later_text = "\n".join(revised.splitlines()[:-1]) + "\n"
    shutil.copy(CODES25, tmp_path / "country_codes_V202601.csv")
    later = tmp_path / "BACI_HS17_Y2022_V202601.csv"
    later.write_text(later_text, encoding="utf-8")
    (res,) = load_baci(store, [later])
    assert (res.status, res.rows) == ("replaced", 11)
    assert store.fetchall(
        "SELECT year, hs_revision, count(*) FROM trade_flows GROUP BY ALL ORDER BY 1"
    ) == [(2019, "HS2012", 5), (2022, "HS2017", 11)]
    assert store.fetchall(
        "SELECT file_name, dataset_key, rows FROM loads ORDER BY load_id"
    ) == [
        (DATA22.name, "HS2012:2019", 5),
        ("BACI_HS17_Y2022_V202601.csv", "HS2017:2022", 11),
    ]


def test_progress_is_reported_per_file(store: Store, tmp_path: Path) -> None:
    archive = _release_zip(
        tmp_path / "BACI_HS17_V202501.zip",
        {DATA25.name: DATA25, CODES25.name: CODES25},
    )
    calls: list[tuple[str, float, float | None]] = []
    load_baci(store, [archive], progress=lambda d, c, t: calls.append((d, c, t)))
    assert ("BACI files", 1, 1) in calls
    size = DATA25.stat().st_size
    assert (f"Extracting {DATA25.name}", size, size) in calls
    assert (f"Loading {DATA25.name}", 100.0, 100.0) in calls
    # the progress settings the loader switched on are restored
    assert store.fetchall("SELECT current_setting('enable_progress_bar')") == [(False,)]


def test_cli_loads_a_release_zip(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive = _release_zip(
        tmp_path / "BACI_HS17_V202501.zip",
        {DATA25.name: DATA25, CODES25.name: CODES25, PRODUCTS25.name: PRODUCTS25},
    )
    result = cli("load", "baci", archive, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert "BACI_HS17_Y2022_V202501.csv,baci,loaded,12,2022,HS2017:2022" in (
        result.stdout
    )


# -- bad input: one line, exit 2, store untouched ------------------------------------
GOOD = DATA25.read_text(encoding="utf-8")
GOOD_LINES = GOOD.splitlines()


def _with_line(n: int, line: str) -> str:
    """The good file with line n (1-based, header = 1) replaced."""
    lines = list(GOOD_LINES)
    lines[n - 1] = line
    return "\n".join(lines) + "\n"


def _bad_csv(tmp: Path, text: str, name: str = DATA25.name) -> Path:
    return _year_variant(tmp / "in", name, text)


def _cases(tmp: Path) -> list[tuple[list[str | Path], str]]:
    """(CLI arguments after `load baci`, expected stderr line) per bad input."""
    cases: list[tuple[list[str | Path], str]] = []

    p = _bad_csv(tmp / "a", "t,i,j,k,value,quantity\n2022,156,842,850511,1,2\n")
    cases.append(
        (
            [p],
            f"Error: {p}, row 1: expected the BACI columns t,i,j,k,v,q; "
            "missing v, q; unexpected value, quantity",
        )
    )
    p = _bad_csv(tmp / "b", _with_line(4, "2022,697,251,10121,   12.x34,  0.001"))
    cases.append(
        (
            [p],
            f"Error: {p}, row 4, column 'v': expected a finite number >= 0 (value in thousands "
            "of USD), found '12.x34'",
        )
    )
    p = _bad_csv(tmp / "c", _with_line(3, "2022,490,842,854231,  9876.5,   abc"))
    cases.append(
        (
            [p],
            f"Error: {p}, row 3, column 'q': expected a finite number >= 0 (quantity in tonnes) "
            "or NA, found 'abc'",
        )
    )
    p = _bad_csv(tmp / "d", _with_line(6, "2022,699,999,720260,    0.001,  0.002"))
    cases.append(
        (
            [p],
            f"Error: {p}, row 6, column 'j': country code 999 is not in "
            "country_codes_V202501.csv; use the release's own country_codes file",
        )
    )
    # codes the insert's lookup list cannot index: negative, and beyond every code
    for sub, code in (("d2", "-4"), ("d3", "5000")):
        p = _bad_csv(
            tmp / sub, _with_line(4, f"2022,{code},842,720260,  0.001,  0.002")
        )
        cases.append(
            (
                [p],
                f"Error: {p}, row 4, column 'i': country code {code} is not in "
                "country_codes_V202501.csv; use the release's own country_codes file",
            )
        )
    # the V202201 file (381 = Italy) with the V202501 code file (Italy = 380)
    cases.append(
        (
            [DATA22, "--country-codes", CODES25],
            f"Error: {DATA22}, row 2, column 'i': country code 381 is not in "
            "country_codes_V202501.csv; use the release's own country_codes file",
        )
    )
    p = _bad_csv(tmp / "e", _with_line(5, "2021,251,699,281122,     5.5,  NA"))
    cases.append(
        (
            [p],
            f"Error: {p}, row 5, column 't': year 2021 in a file whose name says Y2022",
        )
    )
    p = _bad_csv(tmp / "f", _with_line(7, "2022,757,579,8112920,   99.999,  NA"))
    cases.append(
        (
            [p],
            f"Error: {p}, row 7, column 'k': expected a numeric HS6 product code, "
            "found '8112920'",
        )
    )
    p = _bad_csv(tmp / "g", _with_line(9, "2022,842,516,30192,  ,  0.5"))
    cases.append(
        (
            [p],
            f"Error: {p}, row 9, column 'v': expected a finite number >= 0 (value in thousands "
            "of USD), found ''",
        )
    )
    p = _bad_csv(tmp / "h", _with_line(8, "2022,579,380,260300,2.25,3,9"))
    cases.append(
        (
            [p],
            f"Error: {p}, row 8: expected 6 comma-separated fields (t,i,j,k,v,q), "
            "found 7",
        )
    )
    p = _bad_csv(tmp / "i", "")
    cases.append(
        (
            [p],
            f"Error: {p}: empty file; expected a BACI trade file (header t,i,j,k,v,q)",
        )
    )
    p = _bad_csv(tmp / "j", "t,i,j,k,v,q\n")
    cases.append(([p], f"Error: {p}, row 2: no data rows below the header"))
    p = _bad_csv(tmp / "k", GOOD, name="BACI_Y2022_V202501.csv")
    cases.append(
        (
            [p],
            f"Error: {p}: the file name does not say the HS revision; name it as "
            "CEPII does, e.g. BACI_HS17_Y2022_V202501.csv (HS92, HS96, HS02, HS07, "
            "HS12, HS17 or HS22), or give --hs-revision",
        )
    )
    comtrade = SOURCES / "comtrade" / "gallium_trade_data.csv"
    cases.append(
        (
            [comtrade],
            f"Error: {comtrade}, row 1: not a BACI trade file: expected the header "
            "t,i,j,k,v,q, found "
            "'typeCode,freqCode,refPeriodId,refYear,refMonth,period,rep…'",
        )
    )
    usgs = SOURCES / "usgs" / "mcs2024" / "MCS2024-bismu_world.csv"
    cases.append(
        (
            [usgs],
            f"Error: {usgs}, row 1: not a BACI trade file: expected the header "
            "t,i,j,k,v,q, found "
            "'Source,Country,Type,Prod_t_2022,Prod_t_est_2023,Prod_note…'",
        )
    )
    lone = tmp / "lone"
    lone.mkdir()
    p = lone / DATA25.name
    shutil.copy(DATA25, p)
    cases.append(
        (
            [p],
            f"Error: {p}: no country_codes_V202501.csv beside it; BACI country codes "
            "differ between releases, so give the release's own file with "
            "--country-codes",
        )
    )
    cases.append(
        (
            [lone],
            f"Error: {p}: no country_codes_V202501.csv in this folder; BACI country "
            "codes differ between releases, so give the release's own file with "
            "--country-codes",
        )
    )
    nocodes = _release_zip(tmp / "nocodes.zip", {DATA25.name: DATA25})
    cases.append(
        (
            [nocodes],
            f"Error: {nocodes}:{DATA25.name}: no country_codes_V202501.csv in this "
            "zip archive; BACI country codes differ between releases, so give the "
            "release's own file with --country-codes",
        )
    )
    full = _release_zip(
        tmp / "full.zip", {DATA25.name: DATA25, CODES25.name: CODES25}
    ).read_bytes()
    truncated = tmp / "BACI_HS17_V202501.zip"
    truncated.write_bytes(full[: len(full) // 2])
    cases.append(
        (
            [truncated],
            f"Error: {truncated}: not a readable zip archive (truncated or corrupt: "
            "File is not a zip file); download the BACI release again",
        )
    )
    # stored (uncompressed) member with one digit changed: only the CRC notices
    stored = _release_zip(
        tmp / "stored.zip",
        {DATA25.name: DATA25, CODES25.name: CODES25},
        method=zipfile.ZIP_STORED,
    )
    raw = stored.read_bytes()
    at = raw.index(b"18123.456")
    stored.write_bytes(raw[:at] + b"28123.456" + raw[at + 9 :])
    cases.append(
        (
            [stored],
            f"Error: {stored}:{DATA25.name}: not a readable zip archive (truncated "
            f"or corrupt: Bad CRC-32 for file '{DATA25.name}'); download the BACI "
            "release again",
        )
    )
    badprod = tmp / "product_codes_HS17_V202501.csv"
    badprod.write_text("hscode,label\n010121,Horses\n", encoding="utf-8")
    cases.append(
        (
            [DATA25, "--product-codes", badprod],
            f"Error: {badprod}, row 1: not a BACI product code file: missing column "
            "code, description",
        )
    )
    return cases


_CASE_NAMES = [
    "columns",
    "bad-value",
    "bad-quantity",
    "unknown-code",
    "negative-code",
    "code-beyond-every-code",
    "other-release-codes",
    "year-mismatch",
    "hs6-too-long",
    "empty-value",
    "field-count",
    "empty-file",
    "header-only",
    "no-hs-revision",
    "comtrade-csv",
    "usgs-csv",
    "no-code-file-beside",
    "folder-without-codes",
    "zip-without-codes",
    "truncated-zip",
    "corrupt-member",
    "bad-product-codes",
]


@pytest.fixture(scope="module")
def loaded_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A store file holding one BACI load, and its snapshot (built once)."""
    path = tmp_path_factory.mktemp("baci-template") / "store.duckdb"
    with Store(path) as s:
        load_baci(s, [DATA25])
        return path, table_snapshot(s)


@pytest.mark.parametrize("case", range(len(_CASE_NAMES)), ids=_CASE_NAMES)
def test_bad_input_is_one_line_and_leaves_store_untouched(
    cli,  # type: ignore[no-untyped-def]
    db_path: Path,
    tmp_path: Path,
    loaded_store: tuple[Path, object],
    case: int,
) -> None:
    template, before = loaded_store
    shutil.copy(template, db_path)
    args, expected = _cases(tmp_path)[case]
    result = cli("load", "baci", *args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stderr == expected + "\n"
    with Store(db_path, read_only=True) as s:
        assert table_snapshot(s) == before


def test_failure_mid_file_rolls_back_replacement(store: Store, tmp_path: Path) -> None:
    """A bad newer release must not delete the rows of the release it would replace."""
    load_baci(store, [DATA25])
    before = table_snapshot(store)
    bad = _bad_csv(tmp_path, _with_line(12, "2022,156,697,740311,  1500,  oops"))
    with pytest.raises(Exception, match=r"row 12, column 'q'"):
        load_baci(store, [bad])
    assert table_snapshot(store) == before


def test_namibia_iso2_na_is_a_value(tmp_path: Path) -> None:
    """A code file giving Namibia its ISO2 "NA" must not lose or blank the row."""
    text = CODES25.read_text(encoding="utf-8")
    assert "516,Namibia,,NAM" in text
    path = tmp_path / CODES25.name
    path.write_text(text.replace("516,Namibia,,NAM", "516,Namibia,NA,NAM"), "utf-8")
    codes = read_country_codes(path)
    assert (len(codes), codes[516]) == (238, "NAM")


def test_every_bad_input_case_has_a_name(tmp_path: Path) -> None:
    # The parametrised test runs one case per name: a case without one would not run.
    assert len(_cases(tmp_path)) == len(_CASE_NAMES)


def test_zip_of_many_years_readies_the_next_year_while_loading(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 17: the next member is extracted while a year loads. Every year keeps
    # its own sha256; a bad third year stops the load there (years 1-2 loaded, 4
    # not), and no extracted copy is left behind.
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    tempfile.tempdir = None  # re-read TMPDIR
    text = DATA25.read_text(encoding="utf-8")
    years = {y: text.replace("2022,", f"{y},").encode() for y in (2019, 2020, 2021)}
    bad = years[2021].replace(b"\n", b"\n2021,156,842,850511,oops,1\n", 1)
    members: dict[str, Path | bytes] = {
        f"BACI_HS17_Y{y}_V202501.csv": b for y, b in years.items()
    }
    good = dict(members)
    members["BACI_HS17_Y2021_V202501.csv"] = bad
    members[DATA25.name] = DATA25
    members[CODES25.name] = CODES25
    archive = _release_zip(tmp_path / "BACI_HS17_V202501.zip", members)
    try:
        with pytest.raises(SourceFormatError, match=r"Y2021_V202501\.csv.*row 2"):
            load_baci(store, [archive])
        assert store.fetchall("SELECT years, sha256 FROM loads ORDER BY years") == [
            ("2019", hashlib.sha256(good["BACI_HS17_Y2019_V202501.csv"]).hexdigest()),  # type: ignore[arg-type]
            ("2020", hashlib.sha256(good["BACI_HS17_Y2020_V202501.csv"]).hexdigest()),  # type: ignore[arg-type]
        ]
        assert list((tmp_path / "tmp").iterdir()) == []
    finally:
        tempfile.tempdir = None
