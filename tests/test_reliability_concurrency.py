"""Concurrency: what DuckDB allows, and the one-line error when it does not.

DuckDB locks the database file per process: either ONE process opens it read-write,
or ANY NUMBER of processes open it read-only. A writer therefore shuts out a second
writer and readers alike; readers shut out writers but not each other. friendshore's
read commands (``info``, ``exposure``, ``concentration``, ``report``, ``simulate``…)
open the store read-only by default, so they run side by side; ``load`` and ``demo``
write. A process refused by the lock gets ``Error: The store … is in use by PID …``
on one line and exit code 1, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from friendshore.sources.comtrade import load_comtrade
from friendshore.store import Store

from .conftest import ROOT, SOURCES, holding, table_snapshot

GALLIUM = SOURCES / "comtrade" / "gallium_trade_data.csv"
USGS = SOURCES / "usgs" / "mcs2024" / "mcs2024-galli_world.csv"


def run_all(db: Path, *commands: list[str]) -> list[tuple[int, str, str, int]]:
    """Run CLI commands at the same time; (exit code, stdout, stderr, PID) of each."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "friendshore", "--db", str(db), *cmd],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cmd in commands
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        out.append((p.returncode, stdout, stderr, p.pid))
    return out


@pytest.fixture
def gallium_store(db_path: Path) -> Path:
    with Store(db_path) as store:
        load_comtrade(store, [GALLIUM])
    return db_path


@pytest.mark.slow
def test_a_writer_shuts_out_writers_and_readers_with_one_line(
    gallium_store: Path,
) -> None:
    db = gallium_store
    with Store(db, read_only=True) as store:
        before = table_snapshot(store)
    with holding(db, read_only=False) as pid:
        (load, info) = run_all(
            db,
            ["load", "usgs", str(USGS)],
            ["--read-only", "info", "--format", "json"],
        )
    busy = f"Error: The store {db} is in use by PID {pid}; "
    assert load[0] == 1
    assert load[2].splitlines() == [
        busy + "wait for it to finish, or open it with --read-only for reading."
    ]
    assert info[0] == 1
    # A reader is told to wait, not to use --read-only (it already does).
    assert info[2].splitlines() == [
        busy + "readers must wait until it has finished writing."
    ]
    assert load[1] == info[1] == ""
    with Store(db, read_only=True) as store:
        assert table_snapshot(store) == before


@pytest.mark.slow
def test_readers_run_side_by_side_and_shut_out_a_writer(gallium_store: Path) -> None:
    db = gallium_store
    with Store(db, read_only=True) as store:
        before = table_snapshot(store)
        # Independent route: China's share of US gallium imports 2024, plain SQL.
        (prc,) = store.fetchall(
            """SELECT sum(value_usd) FILTER (exporter = 'CHN') / sum(value_usd)
               FROM trade_flows
               WHERE importer = 'USA' AND year = 2024 AND hs6 = '811292'"""
        )[0]
    with holding(db, read_only=True) as pid:
        info, exposure, load = run_all(
            db,
            ["--read-only", "info", "--format", "json"],
            ["exposure", "--importer", "USA", "--year", "2024", "--format", "json"],
            ["load", "usgs", str(USGS)],
        )
    assert info[0] == 0, info[2]
    loads = json.loads(info[1])["loads"]
    assert [(r["file_name"], r["rows"]) for r in loads] == [(GALLIUM.name, 30)]
    assert exposure[0] == 0, exposure[2]
    (row,) = json.loads(exposure[1])
    assert row["prc_share"] == pytest.approx(prc, rel=1e-12)
    assert load[0] == 1
    (line,) = load[2].splitlines()
    assert line.startswith(f"Error: The store {db} is in use by PID ")
    # DuckDB names one lock holder: the long-lived reader, or a CLI reader.
    assert line.endswith(
        "; wait for it to finish, or open it with --read-only for reading."
    )
    holder_pid = int(line.split(" is in use by PID ")[1].split(";")[0])
    assert holder_pid in (pid, info[3], exposure[3])
    with Store(db) as store:  # free again once they are gone
        assert table_snapshot(store) == before
