"""Crash safety: a load killed with SIGKILL loses nothing and leaves no partial load.

The store starts in the state a crash leaves behind: its committed rows (real USGS and
Comtrade loads) live only in DuckDB's write-ahead log, never checkpointed into the
database file, so every open below must replay the WAL to see them. A ``friendshore
load table`` of a generated 200 000-row CSV then runs as a subprocess and is killed
with SIGKILL at moments read off the store files as they change:

* ``parsing``   — the store is open (the WAL grew) and the CSV is being read;
* ``inserting`` — the database file grew: DuckDB is writing the new rows' blocks
  inside the still-open transaction;
* ``committing`` — the WAL grew again: the commit is being written (the kill may
  land just before or just after it).

Afterwards the store must open (read-only, then read-write), hold exactly what it held
before — or, only if the commit was written, that plus the complete load — and the
identical load must then succeed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from friendshore.sources.comtrade import load_comtrade
from friendshore.sources.table import load_table
from friendshore.sources.usgs import load_usgs
from friendshore.store import Store

from .conftest import ROOT, SOURCES, table_snapshot

ROWS = 200_000  # range() rows; those with exporter = importer are left out
POLL_S = 0.002
Snapshot = dict[str, list[tuple[object, ...]]]


def _generate(path: Path) -> int:
    """A canonical-column trade table; returns its number of data rows."""
    isos = ["USA", "CHN", "JPN", "DEU", "FRA", "KOR", "IND", "BRA"]
    isos += ["CAN", "AUS", "GBR", "ITA", "MEX", "ZAF", "CHL", "PER"]
    con = duckdb.connect()
    con.execute(
        """COPY (
             SELECT 2000 + i % 20 AS year,
                    $isos[i % 16 + 1] AS exporter,
                    $isos[(i // 16) % 16 + 1] AS importer,
                    lpad(((i // 256) % 1000000)::VARCHAR, 6, '0') AS hs6,
                    'HS2017' AS hs_revision,
                    (i % 9973) * 1.5 AS value_usd
             FROM range($n) t(i)
             WHERE i % 16 != (i // 16) % 16
           ) TO '"""
        + str(path).replace("'", "''")  # a test temp path, not user input
        + "' (HEADER)",
        {"isos": isos, "n": ROWS},
    ).fetchall()
    con.close()
    with path.open("rb") as fh:
        return sum(1 for _ in fh) - 1


def _sizes(db: Path) -> tuple[int, int]:
    wal = Path(f"{db}.wal")
    return (
        db.stat().st_size if db.exists() else -1,
        wal.stat().st_size if wal.exists() else -1,
    )


def _copy_store(src: Path, dest: Path) -> None:
    shutil.copy(src, dest)
    if Path(f"{src}.wal").exists():
        shutil.copy(f"{src}.wal", f"{dest}.wal")
    else:
        Path(f"{dest}.wal").unlink(missing_ok=True)


def _snapshot(db: Path, *, read_only: bool) -> Snapshot:
    with Store(db, read_only=read_only) as store:
        return table_snapshot(store)


class KillPoint:
    """Decides, from the store files' sizes, when to kill the load."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.opened_wal: int | None = None  # WAL size once the load opened the store
        self.opened_at: float | None = None

    def __call__(self, start: tuple[int, int], now: tuple[int, int]) -> bool:
        (db0, wal0), (db, wal) = start, now
        if db == db0 and wal != wal0:  # opened (countries sync logged), no new blocks
            self.opened_wal = wal
            self.opened_at = self.opened_at or time.monotonic()
        if self.name == "parsing":
            return (
                self.opened_at is not None
                and db == db0
                and time.monotonic() - self.opened_at > 0.2
            )
        if self.name == "inserting":
            return db > db0
        return db > db0 and self.opened_wal is not None and wal > self.opened_wal


def _kill_at(db: Path, csv_path: Path, point: KillPoint) -> bool:
    """Run the CLI load and SIGKILL it at ``point``; False if it finished first."""
    start = _sizes(db)
    csv = str(csv_path)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "friendshore", "--db", str(db), "load", "table", csv],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while not point(start, _sizes(db)):
            if proc.poll() is not None:
                break
            assert time.monotonic() - t0 < 120, "kill point never reached"
            time.sleep(POLL_S)
        else:
            os.kill(proc.pid, signal.SIGKILL)
    finally:
        _, err = proc.communicate()
    if proc.returncode == 0:  # finished before the kill point
        return False
    assert proc.returncode == -signal.SIGKILL, err.decode()
    return True


@pytest.mark.slow
def test_sigkill_at_any_moment_of_a_load_loses_nothing(tmp_path: Path) -> None:
    csv_path = tmp_path / "flows.csv"
    n_rows = _generate(csv_path)

    # The crashed-store starting point: two committed real loads, WAL only.
    live = tmp_path / "live.duckdb"
    seed = tmp_path / "seed.duckdb"
    with Store(live) as store:
        load_usgs(store, [SOURCES / "usgs" / "mcs2024" / "mcs2024-galli_world.csv"])
        load_comtrade(store, [SOURCES / "comtrade" / "gallium_trade_data.csv"])
        _copy_store(live, seed)  # as a crash would leave it: nothing checkpointed
    assert _sizes(seed)[1] > 0, "the seed state must live in the WAL"
    probe = tmp_path / "probe.duckdb"
    _copy_store(seed, probe)
    before = _snapshot(probe, read_only=True)
    assert len(before["loads"]) == 2 and before["production"] and before["trade_flows"]

    outcomes: dict[str, str] = {}
    for name in ("parsing", "inserting", "committing"):
        db = tmp_path / f"{name}.duckdb"
        for _attempt in range(3):  # the commit window is a few ms: retry a miss
            _copy_store(seed, db)
            if _kill_at(db, csv_path, KillPoint(name)):
                break
        else:
            pytest.fail(f"never killed the load while {name}")
        assert _sizes(db)[1] > 0, "the killed store has a WAL to replay"
        after = _snapshot(db, read_only=True)  # replays the WAL without writing
        if after == before:
            outcomes[name] = "as before"
        else:
            # Only a kill after the commit may show the load, and only all of it.
            assert name == "committing", f"{name}: the store changed"
            assert after["production"] == before["production"]
            new = [r for r in after["loads"] if r not in before["loads"]]
            assert len(new) == 1 and new[0][7] == n_rows  # loads.rows
            assert len(after["trade_flows"]) == len(before["trade_flows"]) + n_rows
            outcomes[name] = "complete load"
        assert _snapshot(db, read_only=False) == after  # a writer opens it too

        with Store(db) as store:  # the identical load, again
            (result,) = load_table(store, [csv_path])
            done = outcomes[name] == "complete load"
            assert result.status == ("unchanged" if done else "loaded")
            counts = store.fetchall(
                "SELECT count(*) FROM trade_flows WHERE source = 'table:flows'"
            )
            assert counts == [(n_rows,)]
            assert table_snapshot(store)["production"] == before["production"]
            assert store.fetchall("SELECT count(*) FROM loads") == [(3,)]
    assert outcomes["parsing"] == outcomes["inserting"] == "as before"
