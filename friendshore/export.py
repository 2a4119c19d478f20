"""Writing result tables: Parquet with provenance metadata, CSV and JSON.

Every Parquet file friendshore writes is zstd-compressed and carries provenance
in its key-value metadata under ``friendshore.*`` keys (version, command and
parameters, created-at, loads used with file name and sha256, registry version).
Files are written to a temporary name and renamed, so a failed write leaves
nothing half-written.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from .errors import ExportError


def provenance(
    command: str,
    params: Mapping[str, Any],
    loads: pl.DataFrame | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Provenance key-value metadata for an output file."""
    from . import __version__

    meta: dict[str, str] = {
        "friendshore.version": __version__,
        "friendshore.command": command,
        "friendshore.params": json.dumps(dict(params), default=str, sort_keys=True),
        "friendshore.created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if loads is not None:
        cols = [
            c
            for c in ("source", "file_name", "sha256", "loaded_at")
            if c in loads.columns
        ]
        meta["friendshore.loads"] = json.dumps(
            loads.select(cols).to_dicts(), default=str
        )
    for key, value in (extra or {}).items():
        meta[f"friendshore.{key}"] = (
            value if isinstance(value, str) else json.dumps(value, default=str)
        )
    return meta


def _atomic(path: Path) -> tuple[int, Path]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    umask = os.umask(0)
    os.umask(umask)
    # mkstemp makes 0600; outputs are meant to be shared
    Path(tmp).chmod(0o666 & ~umask)
    return fd, Path(tmp)


def write_parquet(df: pl.DataFrame, path: Path, metadata: Mapping[str, str]) -> Path:
    """Write ``df`` as zstd Parquet with ``metadata`` in the key-value metadata."""
    table = df.to_arrow()
    merged = dict(table.schema.metadata or {})
    merged.update({k.encode(): v.encode() for k, v in metadata.items()})
    table = table.replace_schema_metadata(merged)
    fd, tmp = _atomic(path)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_text(text: str, path: Path) -> Path:
    """Write text atomically (CSV, JSON, HTML)."""
    fd, tmp = _atomic(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def to_csv(df: pl.DataFrame) -> str:
    """CSV text of a frame (nested columns as JSON)."""
    return _flatten(df).write_csv()


def to_json(df: pl.DataFrame) -> str:
    """A JSON array of row objects."""
    return json.dumps(df.to_dicts(), default=str, indent=1)


def _flatten(df: pl.DataFrame) -> pl.DataFrame:
    nested = [c for c, t in df.schema.items() if t.is_nested()]
    if not nested:
        return df
    return df.with_columns(
        pl.col(c).map_elements(
            lambda v: json.dumps(
                v.to_list() if hasattr(v, "to_list") else v, default=str
            ),
            return_dtype=pl.String,
        )
        for c in nested
    )
