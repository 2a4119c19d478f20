"""Shared fixtures: stores, bundled real data paths, a CLI runner."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from friendshore.store import Store

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SOURCES = DATA / "sources"  # bundled real public files (see data/SOURCES.md)
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Path of a not-yet-created store file."""
    return tmp_path / "store.duckdb"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    """A fresh, empty store on disk."""
    s = Store(db_path)
    try:
        yield s
    finally:
        s.close()


@dataclass
class CliResult:
    """Exit code and separated output streams of one CLI run."""

    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str | Path, db: Path | None = None) -> CliResult:
    """Invoke the CLI in-process (``--db`` prepended when given)."""
    from friendshore.cli import app

    argv = [str(a) for a in args]
    if db is not None:
        argv = ["--db", str(db), *argv]
    result = CliRunner().invoke(app, argv)
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli(db_path: Path):  # type: ignore[no-untyped-def]
    """``cli("load", "usgs", path)`` runs against the test's store file."""

    def _run(*args: str | Path) -> CliResult:
        return run_cli(*args, db=db_path)

    return _run


def table_snapshot(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Everything a failed load must leave untouched: all rows of every table."""
    out: dict[str, list[tuple[object, ...]]] = {}
    # trade_flows is the decoded view of flows; country_ids must not gain the
    # codes of a failed load either.
    for table in ("trade_flows", "flows", "country_ids", "production", "loads"):
        out[table] = sorted(
            store.fetchall(f"SELECT * FROM {table}"), key=lambda r: tuple(map(str, r))
        )
    return out


@contextmanager
def holding(db: Path, *, read_only: bool) -> Iterator[int]:
    """Another process keeps the store open (PID yielded) until the block ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys
            from friendshore.store import Store
            s = Store({str(db)!r}, read_only={read_only})
            print("ready", flush=True)
            sys.stdin.read()
            s.close()
            """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        yield holder.pid
    finally:
        holder.communicate("")
    assert holder.returncode == 0
