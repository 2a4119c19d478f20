"""``friendshore report`` on real bundled data: files, provenance, errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from friendshore import report
from friendshore.engines import exposure
from friendshore.store import Store

ROOT = Path(__file__).resolve().parent.parent
COMTRADE = ROOT / "data" / "sources" / "comtrade" / "graphite_trade_data.csv"
USGS = ROOT / "data" / "sources" / "usgs" / "mcs2024" / "mcs2024-graph_world.csv"
SCENARIO = ROOT / "data" / "scenarios" / "us-magnets.toml"


@pytest.fixture
def loaded(cli, db_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A store with the real Comtrade graphite extract and USGS graphite table."""
    assert cli("load", "comtrade", COMTRADE).exit_code == 0
    assert cli("load", "usgs", USGS).exit_code == 0
    return db_path


def test_report_writes_every_table_with_provenance(
    cli, loaded: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "rep"
    r = cli("report", "--importer", "USA", "--out", out)
    assert r.exit_code == 0, r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "exposure_industries.parquet",
        "exposure_products.parquet",
        "flags.parquet",
        "production_concentration.parquet",
        "report.html",
        "trend_products.parquet",
        "trends.parquet",
        "world_concentration.parquet",
    ]
    meta = {
        k.decode(): v.decode()
        for k, v in pq.read_schema(out / "flags.parquet").metadata.items()
        if k.startswith(b"friendshore.")
    }
    assert meta["friendshore.command"] == "report"
    assert meta["friendshore.table"] == "flags"
    with Store(loaded, read_only=True) as s:
        latest = s.fetchall("SELECT max(year) FROM trade_flows")[0][0]
    assert json.loads(meta["friendshore.params"]) == {
        "importer": "USA",
        "bloc": None,
        "year": latest,
        "concern": "prc",
        "scenarios": [],
    }
    loads = json.loads(meta["friendshore.loads"])
    assert [(x["file_name"], x["sha256"]) for x in loads] == [
        (COMTRADE.name, hashlib.sha256(COMTRADE.read_bytes()).hexdigest()),
        (USGS.name, hashlib.sha256(USGS.read_bytes()).hexdigest()),
    ]
    assert "friendshore.registry_version" in meta
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<h1>Supply exposure of United States (USA), " in html


def test_report_tables_are_the_engines_answers(loaded: Path, tmp_path: Path) -> None:
    with Store(loaded, read_only=True) as s:
        data = report.build_report(s, importer="USA")
        direct = exposure.industry_exposure(s, importer="USA", year=data.year)
    report.write_report(data, tmp_path)
    got = pq.read_table(tmp_path / "exposure_industries.parquet").to_pylist()
    want = report.conform("exposure_industries", direct).to_dicts()
    assert got == want
    # Graphite: the USGS table's rows reach the production table unchanged in number.
    prod = pq.read_table(tmp_path / "production_concentration.parquet")
    assert set(prod.column("commodity").to_pylist()) == {"graphite"}


def test_report_with_a_scenario_adds_its_tables(
    cli, loaded: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "rep"
    r = cli("report", "--importer", "USA", "--scenario", SCENARIO, "--out", out)
    assert r.exit_code == 0, r.stderr
    assert (out / "scenario_products.parquet").exists()
    meta = pq.read_schema(out / "scenario_industries.parquet").metadata
    params = json.loads(meta[b"friendshore.params"])
    assert params["scenarios"] == ["us-magnets.toml"]


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (
            ["--importer", "USA", "--bloc", "eu"],
            "Error: give --importer or --bloc, not both\n",
        ),
        (
            ["--year", "1990"],
            "Error: --year 1990: the store holds trade flows for 2020–2024\n",
        ),
    ],
)
def test_report_errors_are_one_line(
    cli, loaded: Path, tmp_path: Path, args: list[str], stderr: str
) -> None:  # type: ignore[no-untyped-def]
    r = cli("report", *args, "--out", tmp_path / "rep")
    assert (r.exit_code, r.stderr) == (2, stderr)
    assert not (tmp_path / "rep").exists()


def test_report_on_an_empty_store(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("load", "usgs", USGS).exit_code == 0
    r = cli("report", "--out", tmp_path / "rep")
    assert (r.exit_code, r.stderr) == (
        2,
        "Error: the store holds no trade flows; load some first\n",
    )
