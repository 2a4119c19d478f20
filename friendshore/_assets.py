"""Locate the bundled ``queries/`` and ``data/`` directories.

In a wheel they are packaged as ``friendshore/_queries`` and ``friendshore/_data``;
in a source checkout (editable install) they sit at the repository root.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PKG = Path(__file__).resolve().parent


@cache
def data_dir() -> Path:
    """Directory holding the bundled reference data."""
    for cand in (_PKG / "_data", _PKG.parent / "data"):
        if cand.is_dir():
            return cand
    from friendshore.errors import ReferenceDataError

    raise ReferenceDataError("bundled data/ directory not found; reinstall friendshore")


@cache
def queries_dir() -> Path:
    """Directory holding the named SQL queries."""
    for cand in (_PKG / "_queries", _PKG.parent / "queries"):
        if cand.is_dir():
            return cand
    from friendshore.errors import ReferenceDataError

    raise ReferenceDataError(
        "bundled queries/ directory not found; reinstall friendshore"
    )


def data_path(*parts: str) -> Path:
    """Path of a bundled data file, e.g. ``data_path("countries", "countries.csv")``."""
    return data_dir().joinpath(*parts)


def query_sql(name: str) -> str:
    """Text of ``queries/<name>.sql`` (fixed identifiers, never user paths)."""
    return (queries_dir() / f"{name}.sql").read_text(encoding="utf-8")
