"""Defects a new user met (issue 13): each is one line, exit 2, nothing changed.

Every test here failed before its fix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from friendshore.store import Store

from .conftest import FIXTURES, SOURCES, run_cli, table_snapshot

USGS = SOURCES / "usgs" / "mcs2024" / "mcs2024-raree_world.csv"
COMTRADE = SOURCES / "comtrade" / "graphite_trade_data.csv"
SCENARIO = Path(__file__).resolve().parent.parent / "data" / "scenarios"
BACI25 = FIXTURES / "baci" / "V202501"


def _one_line_error(result, code: int = 2) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert "unexpected" not in result.stderr
    return result.stderr  # type: ignore[no-any-return]


def _loaded(db: Path) -> dict[str, list[tuple[object, ...]]]:
    assert run_cli("load", "usgs", USGS, db=db).exit_code == 0
    with Store(db, read_only=True) as s:
        return table_snapshot(s)


def test_load_baci_of_a_missing_zip_says_no_such_file(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    missing = tmp_path / "missing.zip"
    err = _one_line_error(run_cli("load", "baci", missing, db=db))
    assert err == f"Error: {missing}: no such file or folder\n"
    assert not db.exists()  # and no empty store made for it


def test_read_only_load_is_a_usage_error_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    before = _loaded(db)
    other = SOURCES / "usgs" / "mcs2024" / "mcs2024-galli_world.csv"
    err = _one_line_error(run_cli("--read-only", "load", "usgs", other, db=db))
    assert "--read-only" in err
    with Store(db, read_only=True) as s:
        assert table_snapshot(s) == before
    assert _one_line_error(run_cli("--read-only", "demo", db=db))


def test_a_stray_carriage_return_in_baci_product_codes_names_file_and_row(
    tmp_path: Path,
) -> None:
    release = tmp_path / "release"
    shutil.copytree(BACI25, release)
    codes = release / "product_codes_HS17_V202501.csv"
    lines = codes.read_bytes().split(b"\n")
    lines[2] = b"02\r" + lines[2][2:]  # a carriage return inside line 3
    codes.write_bytes(b"\n".join(lines))
    db = tmp_path / "s.duckdb"
    err = _one_line_error(run_cli("load", "baci", release, db=db))
    assert err.startswith(f"Error: {codes}, row 3: ")
    assert "carriage return" in err
    assert not db.exists()


def test_a_ragged_table_row_is_named(tmp_path: Path) -> None:
    path = tmp_path / "flows.csv"
    path.write_text("a,b\n1,2\n3,4,5\n1,2\n", encoding="utf-8")
    err = _one_line_error(
        run_cli("load", "table", path, "--map", "exporter=a", db=tmp_path / "s.duckdb")
    )
    assert err.startswith(f"Error: {path}, row 3: ")


def test_a_failed_load_into_a_new_path_leaves_no_store(tmp_path: Path) -> None:
    bad = tmp_path / "mcs2024-bad_world.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not a table")
    db = tmp_path / "new.duckdb"
    _one_line_error(run_cli("load", "usgs", bad, db=db))
    assert not db.exists() and not Path(f"{db}.wal").exists()


def test_a_failed_load_into_an_existing_store_keeps_it(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    before = _loaded(db)
    bad = tmp_path / "mcs2024-bad_world.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not a table")
    _one_line_error(run_cli("load", "usgs", bad, db=db))
    with Store(db, read_only=True) as s:
        assert table_snapshot(s) == before


@pytest.fixture
def comtrade_db(tmp_path: Path) -> Path:
    db = tmp_path / "s.duckdb"
    assert run_cli("load", "comtrade", COMTRADE, db=db).exit_code == 0
    return db


def test_report_into_an_earlier_folder_drops_its_stale_scenarios(
    comtrade_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "rep"
    scenario = SCENARIO / "us-magnets.toml"
    args = ("report", "--importer", "USA", "--out", out)
    assert run_cli(*args, "--scenario", scenario, db=comtrade_db).exit_code == 0
    assert (out / "scenario_products.parquet").exists()
    (out / "my_notes.parquet").write_bytes(b"mine")
    assert run_cli(*args, db=comtrade_db).exit_code == 0
    assert not list(out.glob("scenario_*.parquet"))
    assert (out / "my_notes.parquet").read_bytes() == b"mine"  # not ours: kept


def test_report_with_no_flows_says_so(comtrade_db: Path, tmp_path: Path) -> None:
    r = run_cli("report", "--bloc", "eu", "--out", tmp_path / "eu", db=comtrade_db)
    assert r.exit_code == 0, r.stderr
    assert r.stderr.startswith("report: no trade flows match (bloc eu; year ")
    assert "`friendshore info`" in r.stderr


def test_report_labels_follow_the_revision_of_the_year_shown(tmp_path: Path) -> None:
    # The demo store holds Comtrade years in HS2012, HS2017 and HS2022; its latest
    # year is HS2022, where 811292 is niobium and vanadium only (HS2022 moved
    # hafnium to 811231 and rhenium to 811241).
    from friendshore.demo import run_demo
    from friendshore.report import build_report

    with Store(tmp_path / "d.duckdb") as store:
        run_demo(store)
        [(rev,)] = store.fetchall(
            "SELECT DISTINCT hs_revision FROM trade_flows WHERE year = 2024"
        )
        data = build_report(store, importer="USA", year=2024)
    assert rev == "HS2022"
    assert data.labels["811292"] == "niobium, vanadium"


def test_info_csv_is_one_table_never_comment_lines(comtrade_db: Path) -> None:
    err = _one_line_error(run_cli("info", "--format", "csv", db=comtrade_db))
    assert "--table" in err
    r = run_cli("info", "--table", "loads", "--format", "csv", db=comtrade_db)
    assert r.exit_code == 0, r.stderr
    assert "#" not in r.stdout
    assert r.stdout.splitlines()[0].startswith("load_id,source,file_name,")
    frame = pl.read_csv(r.stdout.encode())
    assert frame["file_name"].to_list() == [COMTRADE.name]


def test_did_you_mean_prefers_a_swap_and_never_another_number(tmp_path: Path) -> None:
    from friendshore.errors import closest

    assert closest("FNI", ["NIU", "FJI", "FIN"]) == "FIN"
    assert closest("MCS2021", ["MCS2022", "MCS2023", "MCS2024", "MCS2025"]) is None
    assert closest("natoo", ["nato", "g7"]) == "nato"
    err = _one_line_error(run_cli("registry", "country", "FNI"))
    assert err.endswith("Did you mean 'FIN'?\n")
    db = tmp_path / "s.duckdb"
    _loaded(db)
    err = _one_line_error(
        run_cli("concentration", "--production", "--edition", "MCS2021", db=db)
    )
    assert "Did you mean" not in err and "MCS2024" in err
