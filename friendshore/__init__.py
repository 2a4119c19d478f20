"""friendshore: PRC exposure, concentration and friend-shoring scenarios for
defense-critical supply chains, on BACI, UN Comtrade and USGS data."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from friendshore.errors import FriendshoreError, InputError

if TYPE_CHECKING:
    from pathlib import Path

    from friendshore.api import Friendshore
    from friendshore.store import LoadResult, Store

__all__ = [
    "FriendshoreError",
    "InputError",
    "LoadResult",
    "Store",
    "__version__",
    "open",
]


def open(path: str | Path | None = None, *, read_only: bool = True) -> Friendshore:
    """Open a store for analysis: methods return Polars frames (see friendshore.api)."""
    from friendshore import api

    return api.open(path, read_only=read_only)


@cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("friendshore")
    except PackageNotFoundError:  # running from a source tree without install
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":  # importlib.metadata costs ~50 ms: read on first use
        return _version()
    # The store (DuckDB, Polars) loads on first use, so `friendshore --help` and the
    # reference-data commands start without it.
    if name in ("Store", "LoadResult"):
        from friendshore import store

        return getattr(store, name)
    raise AttributeError(f"module 'friendshore' has no attribute {name!r}")
