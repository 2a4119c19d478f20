"""Parquet export and the Spark engine: the same answers as DuckDB, to 1e-9.

The export is checked against the store by an independent route (DuckDB reading
the Parquet files back); the Spark engine against the DuckDB engine on a
BACI-shaped fixture of two years with a bloc, intra-bloc flows, the concern's
Hong Kong and Macao, and an unspecified area (X697) as supplier, as largest
supplier and as importer. Tests that start Spark are marked ``spark`` and share
one local[2] session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from friendshore import sources
from friendshore.engines.concentration import world_concentration
from friendshore.engines.exposure import industry_exposure, product_exposure
from friendshore.errors import FriendshoreError, InputError, ParameterError
from friendshore.export.parquet import MANIFEST, export_parquet
from friendshore.export.spark import open_parquet, translate
from friendshore.reference.industries import REVISIONS
from friendshore.store import Store

from .conftest import run_cli

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "spark"
YEAR_FILES = [FIXTURES / f"BACI_HS17_Y{y}_V202501.csv" for y in (2021, 2022)]
CODES = FIXTURES / "country_codes_V202501.csv"


def _load(path: Path) -> None:
    with Store(path) as store:
        sources.load(store, "baci", [*YEAR_FILES, CODES])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(store file, export directory) of the two-year fixture."""
    root = tmp_path_factory.mktemp("spark")
    db = root / "store.duckdb"
    _load(db)
    with Store(db, read_only=True) as store:
        export_parquet(store, root / "export")
    return db, root / "export"


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local[2] SparkSession for the whole test session."""
    from friendshore.export.spark import session

    s = session("local[2]")
    s.conf.set("spark.sql.shuffle.partitions", "4")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def engines(exported: tuple[Path, Path], spark: Any) -> Iterator[tuple[Store, Any]]:
    db, export = exported
    with Store(db, read_only=True) as duck, open_parquet(export, spark=spark) as sp:
        yield duck, sp


# -- translation (no Spark) ---------------------------------------------------------


def test_translation_binds_params_inlines_macros_and_shifts_nothing() -> None:
    from friendshore._assets import query_sql

    params = {
        "all_loads": False,
        "keys": [2022000001],
        "year_min": 2022,
        "year_max": 2022,
        "importer": None,
        "all_hs": False,
        "hs": ["010121"],
        "tier_codes": [0, 1, 2],
        "n_ids": 3,
    }
    text = translate(query_sql("exposure_product"), params)
    assert "$" not in text and ":" not in text.replace("::", "")
    assert "HS_CODE" not in text.upper() and "HS_TEXT" not in text.upper()
    # DuckDB's 1-based list[i] must stay 1-based: try_element_at, not Spark's [i].
    assert "TRY_ELEMENT_AT(CAST(ARRAY(0, 1, 2) AS ARRAY<TINYINT>)" in text
    # A generator may not sit inside an expression on Spark.
    assert "FROM (SELECT EXPLODE(CAST(ARRAY('010121') AS ARRAY<STRING>)) AS _u)" in text
    assert "CAST(NULL AS STRING)" in text


def test_translation_refuses_an_unbound_parameter() -> None:
    with pytest.raises(FriendshoreError, match=r"\$year"):
        translate("SELECT * FROM flows WHERE year = $year", {})


# -- the export (no Spark) ----------------------------------------------------------


def test_export_round_trips_every_flow_and_names_its_loads(
    exported: tuple[Path, Path],
) -> None:
    db, export = exported
    manifest = json.loads((export / MANIFEST).read_text())
    con = duckdb.connect()
    back = con.sql(
        f"""SELECT source, year, exporter, importer, hs6, value_usd, quantity_t,
                   load_id
            FROM read_parquet('{export}/trade_flows/*/*/*.parquet',
                              hive_partitioning = true)
            ORDER BY ALL"""
    ).fetchall()
    with Store(db, read_only=True) as store:
        want = store.fetchall(
            """SELECT source, year, exporter, importer, hs6, value_usd, quantity_t,
                      load_id FROM trade_flows ORDER BY ALL"""
        )
        loads = store.loads()
    assert len(want) == 32 + 28  # the fixture's two year files
    assert [tuple(map(str, r)) for r in back] == [tuple(map(str, r)) for r in want]
    assert (export / "trade_flows" / "source=baci" / "year=2021").is_dir()
    assert (export / "trade_flows" / "source=baci" / "year=2022").is_dir()
    assert sorted(r["sha256"] for r in manifest["loads"]) == sorted(loads["sha256"])
    assert {r["year"] for r in manifest["trade_loads"]} == {2021, 2022}
    assert manifest["tables"]["trade_flows"]["rows"] == 60
    members = con.sql(
        f"""SELECT iso3 FROM read_parquet('{export}/registry_members/*/*.parquet',
                                          hive_partitioning = true)
            WHERE "group" = 'eu' AND year = 2022"""
    ).fetchall()
    assert {"DEU", "FRA", "NLD"} <= {r[0] for r in members}
    revisions = {p.name for p in (export / "industry_map").iterdir()}
    assert revisions == {f"hs_revision={r}" for r in REVISIONS}
    assert "hs_revision=HS2017" in revisions


def test_export_refuses_a_non_empty_directory_and_overwrites_its_own(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    db, _ = exported
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    result = run_cli("export", "parquet", str(other), db=db)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and "not empty" in result.stderr
    result = run_cli("export", "parquet", str(other), "--overwrite", db=db)
    assert result.exit_code == 2 and "holds no manifest.json" in result.stderr
    assert (other / "keep.txt").read_text() == "mine"
    out = tmp_path / "export"
    assert run_cli("export", "parquet", str(out), db=db).exit_code == 0
    result = run_cli("export", "parquet", str(out), "--overwrite", "-f", "csv", db=db)
    assert result.exit_code == 0, result.stderr
    assert 'trade_flows,"source, year",2,60,' in result.stdout


# -- Spark against DuckDB --------------------------------------------------------------

# The residual area X697 imports (an importer row, or none, as DESIGN.md's residual
# rules say) in "every importer", and is USA's largest 850511 supplier in 2022.
_CASES = {
    "every importer, both years": {"years": [2021, 2022]},
    "one importer": {"years": [2021, 2022], "importer": "USA"},
    "a bloc": {"years": [2021, 2022], "bloc": "eu"},
    "a bloc with intra-bloc trade": {
        "years": [2021, 2022],
        "bloc": "eu",
        "include_intra": True,
    },
    "listed products": {"year": 2022, "hs": ["280530", "010121"]},
    "another concern and allies": {
        "year": 2022,
        "concern": "foreign-adversaries",
        "allies": ["nato"],
    },
}


def assert_same(got: pl.DataFrame, want: pl.DataFrame, keys: list[str]) -> None:
    """Same columns, types and rows; floats to 1e-9 (relative for values)."""
    assert got.columns == want.columns
    assert got.schema == want.schema
    assert got.height == want.height > 0
    got, want = got.sort(keys), want.sort(keys)
    for col, dtype in want.schema.items():
        g, w = got[col], want[col]
        if dtype.is_float():
            assert (g.is_null() == w.is_null()).all(), col
            scale = w.abs().clip(lower_bound=1.0)
            diff = ((g - w).abs() / scale).fill_null(0.0)
            assert diff.max() <= 1e-9, (col, diff.max())
        else:
            assert g.to_list() == w.to_list(), col


@pytest.mark.spark
@pytest.mark.parametrize("case", list(_CASES))
def test_spark_exposure_matches_duckdb(engines: tuple[Store, Any], case: str) -> None:
    duck, sp = engines
    kwargs = _CASES[case]
    want = product_exposure(duck, **kwargs)
    got = product_exposure(sp, **kwargs)
    assert_same(got, want, ["year", "importer", "hs6"])


@pytest.mark.spark
def test_spark_industry_exposure_matches_duckdb(engines: tuple[Store, Any]) -> None:
    duck, sp = engines
    kwargs = {"years": [2021, 2022], "bloc": "eu"}
    assert_same(
        industry_exposure(sp, **kwargs),
        industry_exposure(duck, **kwargs),
        ["year", "importer", "industry"],
    )


@pytest.mark.spark
@pytest.mark.parametrize("kwargs", [{"years": [2021, 2022]}, {"hs": ["850511"]}])
def test_spark_world_concentration_matches_duckdb(
    engines: tuple[Store, Any], kwargs: dict[str, Any]
) -> None:
    duck, sp = engines
    assert_same(
        world_concentration(sp, **kwargs),
        world_concentration(duck, **kwargs),
        ["year", "hs6"],
    )


@pytest.mark.spark
def test_spark_exposure_by_hand(engines: tuple[Store, Any]) -> None:
    """Germany's 850511 imports in 2021 from the fixture file, worked by hand."""
    _, sp = engines
    row = product_exposure(sp, year=2021, importer="DEU", hs=["850511"]).row(
        0, named=True
    )
    chn, fra, usa, nld = 480.0, 260.5, 230.0, 70.75  # thousand USD, no residual
    total = chn + fra + usa + nld  # 1041.25
    assert row["import_value_usd"] == pytest.approx(total * 1000, rel=1e-12)
    assert row["prc_share"] == pytest.approx(chn / total, rel=1e-12)
    hhi = (chn**2 + fra**2 + usa**2 + nld**2) / total**2
    assert row["hhi"] == pytest.approx(hhi, rel=1e-12)
    assert row["top_supplier"] == "CHN"
    assert row["top_supplier_share"] == pytest.approx(chn / total, rel=1e-12)
    assert row["n_suppliers"] == 4


@pytest.mark.spark
def test_cli_spark_engine_prints_what_duckdb_prints(
    exported: tuple[Path, Path], spark: Any
) -> None:
    db, export = exported
    args = ["exposure", "--bloc", "eu", "--years", "2021:2022", "-f", "csv"]
    duck = run_cli(*args, db=db)
    on_spark = run_cli(*args, "--engine", "spark", "--parquet", str(export), db=db)
    assert on_spark.exit_code == 0, on_spark.stderr
    assert on_spark.stdout == duck.stdout
    args = ["concentration", "--hs", "850511", "--year", "2022", "-f", "csv"]
    on_spark = run_cli(*args, "--engine", "spark", "--parquet", str(export), db=db)
    assert on_spark.exit_code == 0, on_spark.stderr
    assert on_spark.stdout == run_cli(*args, db=db).stdout


# -- what the user gets wrong ------------------------------------------------------------


def _one_line_error(result: Any, *needles: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_engine_options_go_together(exported: tuple[Path, Path]) -> None:
    db, export = exported
    _one_line_error(run_cli("exposure", "--engine", "spark", db=db), "--parquet")
    _one_line_error(
        run_cli("exposure", "--parquet", str(export), db=db), "--engine spark"
    )


def test_missing_or_partial_export_is_named(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    db, export = exported
    spark_args = ["exposure", "--engine", "spark", "--parquet"]
    _one_line_error(
        run_cli(*spark_args, str(tmp_path / "nowhere"), db=db), "no such directory"
    )
    (tmp_path / "empty").mkdir()
    _one_line_error(
        run_cli(*spark_args, str(tmp_path / "empty"), db=db), "has no manifest.json"
    )
    # A copy of the export without one year's flows.
    partial = tmp_path / "partial"
    import shutil

    shutil.copytree(export, partial)
    gone = partial / "trade_flows" / "source=baci" / "year=2022"
    shutil.rmtree(gone)
    _one_line_error(
        run_cli(*spark_args, str(partial), db=db),
        "incomplete",
        "trade_flows/source=baci/year=2022/",
    )
    with pytest.raises(InputError, match="incomplete"):
        open_parquet(partial)


@pytest.mark.spark
def test_a_path_spark_cannot_read_is_one_line(spark: Any, tmp_path: Path) -> None:
    result = run_cli(
        "exposure",
        "--engine",
        "spark",
        "--parquet",
        "nosuchscheme://bucket/export",
        db=tmp_path / "unused.duckdb",
    )
    _one_line_error(result, "cannot read nosuchscheme://bucket/export/manifest.json")


def test_no_java_is_one_line(exported: tuple[Path, Path]) -> None:
    """In a fresh process with no java on PATH and no JAVA_HOME."""
    _, export = exported
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "PATH")}
    env["PATH"] = "/nonexistent"
    argv = ["exposure", "--engine", "spark", "--parquet", str(export)]
    proc = subprocess.run(
        [sys.executable, "-m", "friendshore", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    _one_line_error(proc_result(proc), "needs Java 17", "openjdk-17-jre-headless")


def proc_result(proc: subprocess.CompletedProcess[str]) -> Any:
    class R:
        exit_code = proc.returncode
        stdout = proc.stdout
        stderr = proc.stderr

    return R


def test_production_concentration_stays_on_the_store(
    exported: tuple[Path, Path],
) -> None:
    db, export = exported
    result = run_cli(
        "concentration",
        "--production",
        "--engine",
        "spark",
        "--parquet",
        str(export),
        db=db,
    )
    _one_line_error(result, "--production")
    assert issubclass(ParameterError, InputError)
