"""Start-up: `--help` and the reference-data commands load no heavy library.

Whole-process times live in `benchmarks/` (cases ``startup_*``); here the cause is
checked, which does not depend on the machine: which modules a command imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from friendshore.cli import defaults
from friendshore.engines import crma, flags
from friendshore.engines import exposure as exposure_lib
from friendshore.reference import industries
from friendshore.reference.industries import load_industries
from friendshore.reference.registry import load_registry

# pydantic: Typer coerces options through it unless friendshore.cli.app does (issue 17).
HEAVY = ("polars", "duckdb", "pyarrow", "altair", "numpy", "vl_convert", "pydantic")

_PROBE = """
import json, sys
watched = json.loads(sys.argv[2])
sys.argv = ["friendshore", *json.loads(sys.argv[1])]
from friendshore.cli import main
try:
    main()
except SystemExit:
    pass
heavy = [m for m in watched if m in sys.modules]
sys.__stderr__.write("HEAVY=" + json.dumps(heavy) + "\\n")
"""


def _heavy_modules(*args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next(x for x in proc.stderr.splitlines() if x.startswith("HEAVY="))
    return json.loads(line.removeprefix("HEAVY="))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("--version",),
        ("exposure", "--help"),
        ("simulate", "--help"),
        ("coalitions", "--help"),
        ("registry", "list"),
        ("registry", "show", "nato", "--year", "2024"),
        ("registry", "country", "FIN", "--year", "2022", "--format", "csv"),
        ("industries", "list"),
        ("industries", "show", "batteries", "--format", "json"),
    ],
    ids=lambda a: " ".join(a),
)
def test_command_starts_without_the_heavy_libraries(args: tuple[str, ...]) -> None:
    assert _heavy_modules(*args) == []


def test_cli_defaults_are_the_engines() -> None:
    assert defaults.CONCERN == exposure_lib.DEFAULT_CONCERN
    assert defaults.GEODEP_IMPORT_HHI == flags.GEODEP_IMPORT_HHI
    assert defaults.GEODEP_WORLD_HHI == flags.GEODEP_WORLD_HHI
    assert defaults.GEODEP_RATIO == flags.GEODEP_RATIO
    assert defaults.GEODEP_WINDOW == flags.GEODEP_WINDOW
    assert defaults.GEODEP_MIN_YEARS == flags.GEODEP_MIN_YEARS
    assert defaults.CRMA_SINGLE_SHARE == flags.CRMA_SINGLE_SHARE
    assert defaults.MIN_COVERAGE == flags.MIN_COVERAGE
    assert defaults.CRMA_CONSUMPTION_SHARE == crma.CRMA_CONSUMPTION_SHARE
    assert defaults.HS_REVISIONS == industries.REVISIONS
    from friendshore.engines.scenarios import coalitions

    assert defaults.CONCERN == coalitions.DEFAULT_CONCERN
    assert defaults.CAPACITY_EXPANSION == coalitions.DEFAULT_CAPACITY_EXPANSION
    e = coalitions.Settings().elasticities
    d = defaults.ELASTICITIES
    assert (d.substitution, d.demand, d.supply) == (e.substitution, e.demand, e.supply)


def test_rows_print_as_polars_would() -> None:
    reg = load_registry()
    imap = load_industries()
    for rows in (
        reg.groups_rows(2024),
        reg.group_rows("nato"),
        reg.country_rows("FIN", 2022),
        imap.industries_rows(),
        imap.industry_rows("batteries", "HS2022"),
    ):
        frame = rows.to_polars()
        assert rows.to_csv() == frame.write_csv()
        assert rows.to_dicts() == frame.to_dicts()


def test_version_prints_the_package_version() -> None:
    from importlib.metadata import version

    from .conftest import run_cli

    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"friendshore {version('friendshore')}\n"


def test_help_shows_flags_as_flags() -> None:
    # Typer showed `--lookthrough <bool>`, inviting `--lookthrough true` (an error).
    from .conftest import run_cli

    for args in (("--help",), ("exposure", "--help"), ("concentration", "--help")):
        result = run_cli(*args)
        assert result.exit_code == 0
        assert "<bool>" not in result.stdout
    assert "--lookthrough" in run_cli("exposure", "--help").stdout


@pytest.mark.parametrize(
    "args",
    [
        ("exposure", "--year", "2022", "--format", "parquet", "--out", "{out}"),
        ("exposure", "--importer", "USA", "--level", "industry", "--format", "csv"),
        ("exposure", "--importer", "USA", "--format", "table"),
    ],
    ids=["to parquet", "industry csv", "table"],
)
def test_a_query_on_a_store_loads_no_pyarrow(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    # issue 17: pyarrow (and numpy under it) cost 0.1-0.2 s of a whole-process
    # query; the store hands results to Polars over the Arrow C stream and the
    # Parquet writer gets its schema-with-metadata without pyarrow.
    from friendshore.store import Store

    from .test_exposure import insert_flows

    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        insert_flows(s, [(2022, "CHN", "USA", "850511", 600.0)])
    argv = [a.replace("{out}", str(tmp_path / "o.parquet")) for a in args]
    assert _heavy_modules("--db", str(db), *argv) == ["polars", "duckdb"]
    if "--out" in args:
        import pyarrow.parquet as pq

        meta = pq.read_schema(tmp_path / "o.parquet").metadata
        assert meta[b"friendshore.command"] == b"exposure"
