"""Writing result tables: Parquet with provenance metadata, CSV and JSON.

Every Parquet file friendshore writes is zstd-compressed and carries provenance
in its key-value metadata under ``friendshore.*`` keys (version, command and
parameters, created-at, loads used with file name and sha256, registry version).
Files are written to a temporary name and renamed, so a failed write leaves
nothing half-written.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import struct
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from friendshore.errors import ExportError

_LOAD_COLUMNS = ("source", "file_name", "sha256", "loaded_at")


@dataclass(frozen=True)
class Provenance:
    """Where a result came from: the one way friendshore writes provenance.

    Built once per output (:meth:`of`), and written as Parquet key-value metadata
    (:meth:`metadata`, the ``friendshore.*`` keys), in the report's provenance
    section (the same keys) and in an export's ``manifest.json`` (its fields).
    """

    command: str
    params: Mapping[str, Any]
    loads: pl.DataFrame  # the store's loads table: every file it holds
    registry_version: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    version: str = ""
    created_at: str = ""

    @classmethod
    def of(
        cls,
        store: Any,
        command: str,
        params: Mapping[str, Any],
        *,
        registry_version: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Provenance:
        """The provenance of ``command`` run with ``params`` on ``store`` (a
        DuckDB store or a Parquet export: anything with ``loads()``)."""
        from friendshore import __version__

        return cls(
            command=command,
            params=dict(params),
            loads=store.loads(),
            registry_version=registry_version,
            extra=dict(extra or {}),
            version=__version__,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def metadata(self) -> dict[str, str]:
        """The ``friendshore.*`` key-value metadata: version, command, parameters,
        created-at, the loads (source, file name, sha256, loaded at), the registry
        version and any extra keys."""
        meta: dict[str, str] = {
            "friendshore.version": self.version,
            "friendshore.command": self.command,
            "friendshore.params": json.dumps(
                dict(self.params), default=str, sort_keys=True
            ),
            "friendshore.created_at": self.created_at,
        }
        cols = [c for c in _LOAD_COLUMNS if c in self.loads.columns]
        meta["friendshore.loads"] = json.dumps(
            self.loads.select(cols).to_dicts(), default=str
        )
        extra = dict(self.extra)
        if self.registry_version is not None:
            extra = {"registry_version": self.registry_version, **extra}
        for key, value in extra.items():
            meta[f"friendshore.{key}"] = (
                value if isinstance(value, str) else json.dumps(value, default=str)
            )
        return meta


def provenance(
    store: Any,
    command: str,
    params: Mapping[str, Any],
    *,
    registry_version: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """``Provenance.of(...).metadata()``: the metadata for an output file."""
    return Provenance.of(
        store, command, params, registry_version=registry_version, extra=extra
    ).metadata()


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


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces it when the block ends well.

    Readers never see a half-written file; on any error the temporary file is
    removed, and an OS error (disk full, permissions) becomes an ``ExportError``.
    """
    fd, tmp = _atomic(path)
    os.close(fd)
    try:
        yield tmp
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_parquet(df: pl.DataFrame, path: Path, metadata: Mapping[str, str]) -> Path:
    """Write ``df`` as zstd Parquet with ``metadata`` in the key-value metadata.

    Polars' own writer encodes columns in parallel (~1.5-2x faster than pyarrow's
    on a million-row exposure table). The metadata goes both into the file's
    key-value metadata (what DuckDB and Spark read) and into the Arrow schema it
    embeds (what ``pyarrow.parquet.read_schema(...).metadata`` shows).
    """
    with _replacing(path) as tmp:
        if any(t.is_nested() for t in df.dtypes):
            # Polars drops the schema's metadata for nested columns: pyarrow writes
            # those (small) tables.
            import pyarrow.parquet as pq

            schema = arrow_schema(df, metadata)
            pq.write_table(df.to_arrow().cast(schema), tmp, compression="zstd")
        else:
            # The schema with metadata goes over the Arrow C interface, so writing
            # needs no pyarrow (its import is ~0.1-0.2 s of a whole-process export).
            # zstd level 1: 0.22 s instead of 0.27 s (level 3) for the 1.1 M-row
            # exposure table, a file 0.8 % larger (issue 17).
            df.write_parquet(tmp, **_polars_parquet(df.schema, metadata))
    return path


def _polars_parquet(schema: pl.Schema, metadata: Mapping[str, str]) -> dict[str, Any]:
    """Polars' Parquet settings for one table or a streamed panel: zstd level 1,
    the provenance in the key-value metadata and in the embedded Arrow schema."""
    return {
        "compression": "zstd",
        "compression_level": 1,
        "metadata": dict(metadata),
        "arrow_schema": _SchemaWithMetadata(schema, metadata),
    }


def write_parquet_frames(
    frames: Iterable[pl.DataFrame], path: Path, metadata: Mapping[str, str]
) -> int:
    """Write frames of one schema as one zstd Parquet file, one at a time; row count.

    For panels too large to hold at once (one frame per year): Polars' streaming
    sink pulls the frames one after another (a registered IO source), so memory
    stays that of one frame, and the file is written by the same writer, settings
    and metadata as :func:`write_parquet` (no pyarrow, no Arrow copy of a year).
    Frames with nested columns go through pyarrow, as there. Atomic like
    :func:`write_parquet`. No frames at all write nothing and return 0.
    """
    it = iter(frames)
    first = next(it, None)
    if first is None:
        return 0
    if any(t.is_nested() for t in first.dtypes):
        return _write_frames_pyarrow(first, it, path, metadata)
    from polars.io.plugins import register_io_source

    schema = first.schema
    pending = [first]  # handed over, then dropped: the sink holds the only copy
    del first
    rows = 0

    def source(*_: Any) -> Iterator[pl.DataFrame]:
        nonlocal rows
        while pending:
            df = pending.pop()
            rows += df.height
            yield df
        for df in it:
            rows += df.height
            yield df

    with _replacing(path) as tmp:
        register_io_source(source, schema=schema).sink_parquet(
            tmp, **_polars_parquet(schema, metadata)
        )
    return rows


def _write_frames_pyarrow(
    first: pl.DataFrame,
    rest: Iterator[pl.DataFrame],
    path: Path,
    metadata: Mapping[str, str],
) -> int:
    """:func:`write_parquet_frames` for frames with nested columns (pyarrow)."""
    import pyarrow.parquet as pq

    rows = 0
    schema = arrow_schema(first, metadata)
    with (
        _replacing(path) as tmp,
        pq.ParquetWriter(tmp, schema, compression="zstd") as writer,
    ):
        for df in itertools.chain([first], rest):
            writer.write_table(df.to_arrow().cast(schema))
            rows += df.height
    return rows


class _ArrowSchema(ctypes.Structure):
    """The Arrow C data interface's ``struct ArrowSchema`` (its ABI is fixed)."""


_ArrowSchema._fields_ = [
    ("format", ctypes.c_void_p),
    ("name", ctypes.c_void_p),
    ("metadata", ctypes.c_void_p),
    ("flags", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowSchema))),
    ("dictionary", ctypes.c_void_p),
    ("release", ctypes.c_void_p),
    ("private_data", ctypes.c_void_p),
]
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
# View string and binary types as the large ones Polars embeds by default, so a
# reader of the embedded Arrow schema (pyarrow) sees what it always saw. (A
# categorical's values are embedded as Polars writes them; no table has one.)
_LARGE = {b"vu": b"U", b"vz": b"Z"}


class _SchemaWithMetadata:
    """A Polars schema exported over the Arrow PyCapsule interface with key-value
    metadata set on it: what ``write_parquet(arrow_schema=...)`` embeds, built
    without pyarrow.

    The metadata (the C interface's encoding: int32 count, then int32-length-prefixed
    keys and values) and the large-type format strings live in buffers this object
    owns; the exporter's release callback frees only its own private data, never the
    fields replaced here, and Polars reads the schema before :meth:`write_parquet`
    returns, while this object is alive.
    """

    def __init__(self, schema: pl.Schema, metadata: Mapping[str, str]) -> None:
        parts = [struct.pack("<i", len(metadata))]
        for key, value in metadata.items():
            for text in (key.encode(), value.encode()):
                parts += [struct.pack("<i", len(text)), text]
        self._schema = pl.Schema(schema)
        self._metadata = ctypes.create_string_buffer(b"".join(parts))
        self._formats = {k: ctypes.create_string_buffer(v) for k, v in _LARGE.items()}

    def __arrow_c_schema__(self) -> Any:
        capsule = self._schema.__arrow_c_schema__()
        top = _ArrowSchema.from_address(_capsule_pointer(capsule, b"arrow_schema"))
        top.metadata = ctypes.addressof(self._metadata)
        for i in range(top.n_children):
            child = top.children[i].contents
            fmt = self._formats.get(ctypes.string_at(child.format))
            if fmt is not None:
                child.format = ctypes.addressof(fmt)
        return capsule


def arrow_schema(df: pl.DataFrame, metadata: Mapping[str, str]) -> Any:
    """The Arrow schema of ``df`` carrying ``metadata`` (no data is converted)."""
    schema = df.head(0).to_arrow().schema
    merged = dict(schema.metadata or {})
    merged.update({k.encode(): v.encode() for k, v in metadata.items()})
    return schema.with_metadata(merged)


def write_text(text: str, path: Path) -> Path:
    """Write text atomically (CSV, JSON, HTML)."""
    with _replacing(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write(text)
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
