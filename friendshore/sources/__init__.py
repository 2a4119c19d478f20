"""Loaders, one per source format, behind one entry point :func:`load`.

Every loader has the signature
``load_<source>(store, paths, *, progress=no_progress, **options) -> list[LoadResult]``
and loads each file as one transaction through :meth:`Store.record_load`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from friendshore.errors import SourceFormatError, UnknownNameError
from friendshore.progress import ProgressFn, no_progress

if TYPE_CHECKING:
    from friendshore.store import LoadResult, Store

# source name -> "module:function" (imported lazily: a loader's imports stay its own)
LOADERS: dict[str, str] = {
    "baci": "friendshore.sources.baci:load_baci",
    "comtrade": "friendshore.sources.comtrade:load_comtrade",
    "usgs": "friendshore.sources.usgs:load_usgs",
    "table": "friendshore.sources.table:load_table",
}


def loader(source: str) -> Callable[..., list[LoadResult]]:
    """The loader function of a source name."""
    if source not in LOADERS:
        raise UnknownNameError("source", source, list(LOADERS))
    module, func = LOADERS[source].split(":")
    fn: Callable[..., list[LoadResult]] = getattr(importlib.import_module(module), func)
    return fn


def check_paths(paths: Sequence[Path]) -> None:
    """Every path names an existing file or folder, else one error naming it."""
    for path in map(Path, paths):
        if not path.exists():
            raise SourceFormatError(str(path), "no such file or folder")


def load(
    store: Store,
    source: str,
    paths: Sequence[Path],
    *,
    progress: ProgressFn = no_progress,
    **options: Any,
) -> list[LoadResult]:
    """Load files of one source into the store; one transaction per file."""
    check_paths(paths)
    return loader(source)(store, list(paths), progress=progress, **options)
