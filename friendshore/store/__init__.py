"""The DuckDB store: one file, the canonical tables, and load bookkeeping.

Only this package (and tests/benchmarks) talks to ``duckdb``. Everything else asks
a :class:`Store` for Arrow or Polars results of SQL it names; loaders hand their
parsed frames to a :class:`~friendshore.store.writes.Writer`, which writes them.

The public face is the DESIGN.md data model: ``trade_flows``, ``production``,
``loads`` (plus ``countries``). Rows carry the ``load_id`` that brought them, so a
changed file replaces exactly what its earlier version loaded.

Storage layout (schema 2): ``trade_flows`` is a view. The rows live in ``flows``
with integer-coded keys — ``exporter_id``/``importer_id`` from ``country_ids``
(dense small integers, never renumbered) and ``hs`` = digits × 1,000,000 + the code
as a number (``850511`` → 6,850,511; the HS4 aggregate ``8505`` → 4,008,505) — and
each load's rows are written grouped by year and product (:func:`insert_flows`
orders fully by year, hs, importer, exporter; the BACI loader by product only,
which is cheaper and aggregates as fast). Hashing small integers and reading each
product's importers and suppliers side by side is what makes the one-pass
aggregations of the exposure and scenario engines about twice as fast as over
ISO3/HS6 text in file order. Write through :class:`Writer` (its
:func:`insert_flows` or the BACI reader's coded insert); read ``trade_flows``.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars
import polars as pl

from friendshore.errors import StoreBusyError, StoreError, StoreMissingError
from friendshore.reference import countries
from friendshore.store.layout import FLOW_COLUMNS, HS_BASE, TABLE_MACROS
from friendshore.store.writes import (
    NEW_COUNTRY_IDS,
    Writer,
    insert_flows,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from friendshore.reference.registry import Registry

SCHEMA_VERSION = 2
DEFAULT_DB = "friendshore.duckdb"
ENV_DB = "FRIENDSHORE_DB"

# Tables whose rows belong to a load (``load_id``): replaced when their file changes.
LOADED_TABLES = ("flows", "production")

# The store's SQL macros, name -> (argument, body): the one definition that the
# DuckDB DDL creates and the Spark translation (friendshore.export.spark) inlines.
# HS text <-> coded key; lpad keeps the leading zero of chapters 01-09.
MACROS = {
    "hs_code": ("t", f"CAST(length(t) * {HS_BASE} + CAST(t AS INTEGER) AS INTEGER)"),
    "hs_text": (
        "c",
        f"lpad(CAST(c % {HS_BASE} AS VARCHAR), CAST(c // {HS_BASE} AS INTEGER), '0')",
    ),
    # Sort key of a coded product in HS text order: an HS4 code (8505) sorts as
    # 850500, just before its six-digit codes; ties broken by the code itself.
    "hs_order": (
        "c",
        f"(c % {HS_BASE}) * CASE WHEN c < {6 * HS_BASE} THEN 100 ELSE 1 END",
    ),
}

_DDL = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE SEQUENCE IF NOT EXISTS load_id_seq START 1""",
    """CREATE TABLE IF NOT EXISTS loads (
        load_id INTEGER PRIMARY KEY,
        source VARCHAR NOT NULL,       -- baci | comtrade | usgs | table
        file_name VARCHAR NOT NULL,    -- base name of the file (member name in a zip)
        file_path VARCHAR,             -- as given on the command line
        sha256 VARCHAR NOT NULL,
        dataset_key VARCHAR NOT NULL,  -- what a changed file replaces (e.g. HS17:2022)
        target VARCHAR NOT NULL,       -- table the rows went to
        rows BIGINT NOT NULL,
        years VARCHAR,                 -- comma-separated years the file covers
        loaded_at TIMESTAMP NOT NULL,
        friendshore_version VARCHAR NOT NULL,
        options VARCHAR                -- loader options that shaped the rows (JSON)
    )""",
    """CREATE TABLE IF NOT EXISTS country_ids (
        id SMALLINT PRIMARY KEY,       -- dense from 1, never renumbered
        iso3 VARCHAR NOT NULL UNIQUE   -- ISO3, or X-code for an unspecified area
    )""",
    """CREATE TABLE IF NOT EXISTS flows (
        year SMALLINT NOT NULL,
        hs INTEGER NOT NULL,           -- digits × 1,000,000 + code (hs_code())
        importer_id SMALLINT NOT NULL, -- country_ids.id
        exporter_id SMALLINT NOT NULL,
        hs_revision VARCHAR NOT NULL,  -- HS2012 | HS2017 | HS2022 | …
        value_usd DOUBLE NOT NULL,     -- US dollars (BACI thousands converted)
        quantity_t DOUBLE,             -- metric tonnes; NULL when not reported
        source VARCHAR NOT NULL,       -- baci | comtrade | table:<name>
        basis VARCHAR NOT NULL,        -- baci | import | export (which side reported) | table
        load_id INTEGER NOT NULL
    )""",
    *(
        f"CREATE OR REPLACE MACRO {name}({arg}) AS {body}"
        for name, (arg, body) in MACROS.items()
    ),
    """CREATE VIEW IF NOT EXISTS trade_flows AS
    SELECT f.year,
           e.iso3 AS exporter,         -- ISO3, or X-code for an unspecified area
           i.iso3 AS importer,
           hs_text(f.hs) AS hs6,       -- six digits; Comtrade HS4 aggregates keep 4
           f.hs_revision, f.value_usd, f.quantity_t, f.source, f.basis, f.load_id
    FROM flows AS f
    JOIN country_ids AS e ON e.id = f.exporter_id
    JOIN country_ids AS i ON i.id = f.importer_id""",
    """CREATE TABLE IF NOT EXISTS production (
        year SMALLINT NOT NULL,
        country VARCHAR NOT NULL,      -- ISO3; XOT other countries; WLD world total
        commodity VARCHAR NOT NULL,    -- normalised USGS commodity name, lower case
        stage VARCHAR NOT NULL,        -- mine | refinery | smelter | plant | …
        quantity DOUBLE,               -- NULL when withheld (W) or not available (NA)
        unit VARCHAR NOT NULL,         -- t | kg | kt | …
        source VARCHAR NOT NULL,       -- usgs
        edition VARCHAR NOT NULL,      -- MCS2022 | MCS2023 | MCS2024 | MCS2025
        type VARCHAR,                  -- USGS production type text as published
        is_estimate BOOLEAN NOT NULL,
        status VARCHAR,                -- NULL, 'W' (withheld) or 'NA'
        kind VARCHAR NOT NULL,         -- country | other | world_total
        load_id INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS countries (
        iso3 VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, kind VARCHAR NOT NULL
    )""",
]


def default_db_path() -> Path:
    """``$FRIENDSHORE_DB`` if set, else ``./friendshore.duckdb``."""
    return Path(os.environ.get(ENV_DB) or DEFAULT_DB)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class LoadResult:
    """What one file's load did: ``loaded``, ``replaced`` or ``unchanged``."""

    source: str
    file_name: str
    sha256: str
    status: str
    rows: int
    dataset_key: str
    load_id: int | None
    years: tuple[int, ...] = ()
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)


_LOCK_RE = re.compile(r"PID (\d+)")
# Names of engine temp tables: fixed identifiers such as _simulate_world.
_TEMP_NAME = re.compile(r"_[a-z][a-z_]*")


class Store:
    """A friendshore DuckDB store (one file, or ``:memory:``).

    Parameters
    ----------
    path
        Database file; ``None`` means :func:`default_db_path`.
    read_only
        Open without write access (several readers may share a file).
    memory_limit
        Optional DuckDB ``memory_limit`` such as ``"500MB"``; DuckDB spills beyond it.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self.read_only = read_only
        in_memory = str(self.path) == ":memory:"
        if read_only and not in_memory and not self.path.exists():
            raise StoreMissingError(
                f"No store at {self.path}. Load data first "
                "(friendshore load …) or point --db / FRIENDSHORE_DB at a store."
            )
        config: dict[str, Any] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        self.con = self._connect(config)
        if not read_only:
            self._ensure_schema()
            self._define_table_macros()
            return
        self._check_version()
        if (self._version() or SCHEMA_VERSION) < SCHEMA_VERSION:
            # Written by an older friendshore: upgrade once (needs write access
            # for a moment), then read as asked.
            self.close()
            self.read_only = False
            self.con = self._connect(config)
            try:
                self._ensure_schema()
            finally:
                self.close()
            self.read_only = True
            self.con = self._connect(config)
        self._define_table_macros()

    def _connect(self, config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
        in_memory = str(self.path) == ":memory:"
        try:
            con = duckdb.connect(
                ":memory:" if in_memory else str(self.path),
                read_only=self.read_only,
                config=config,
            )
        except duckdb.IOException as exc:
            raise _open_error(self.path, exc, read_only=self.read_only) from None
        except duckdb.Error as exc:
            raise StoreError(f"Cannot open store {self.path}: {exc}") from None
        return con

    def _define_table_macros(self) -> None:
        """The row filter is code, not data: defined on every connection (read-only
        ones too) from the package's constants, so a store never holds a stale one."""
        for name, (args, sql) in TABLE_MACROS.items():
            self.con.execute(
                f"CREATE OR REPLACE TEMP MACRO {name}({', '.join(args)}) AS TABLE {sql}"
            )
        # The scalar ones too, so a store written before a macro existed (opened
        # read-only, without its DDL re-run) still answers every query.
        for name, (arg, body) in MACROS.items():
            self.con.execute(f"CREATE OR REPLACE TEMP MACRO {name}({arg}) AS {body}")

    # -- lifecycle --------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (idempotent)."""
        with suppress(duckdb.Error):
            self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_schema(self) -> None:
        version = self._version()
        with self.transaction() as con:
            if version is not None and version < 2:
                # Schema 1 kept trade_flows as a text-keyed table: move it aside,
                # create the coded layout, copy the rows in, drop the old table.
                con.execute("ALTER TABLE trade_flows RENAME TO _trade_flows_v1")
            for ddl in _DDL:
                con.execute(ddl)
            self._check_version()
            if version is not None and version < 2:
                con.execute(
                    "CREATE TEMP VIEW _flows_in AS SELECT * FROM _trade_flows_v1"
                )
                insert_flows(con)
                con.execute("DROP VIEW _flows_in")
                con.execute("DROP TABLE _trade_flows_v1")
            con.execute(
                """INSERT INTO meta VALUES ('schema_version', $v)
                   ON CONFLICT DO UPDATE SET value = excluded.value""",
                {"v": str(SCHEMA_VERSION)},
            )
        self._sync_countries()

    def _stored_version(self) -> int | None:
        """The schema version in ``meta`` (None: no row); CatalogException: no meta."""
        rows = self.con.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ).fetchall()
        return int(rows[0][0]) if rows else None

    def _version(self) -> int | None:
        """The stored schema version; None for a new (empty) file."""
        try:
            return self._stored_version()
        except duckdb.CatalogException:
            return None

    def _check_version(self) -> None:
        try:
            version = self._stored_version()
        except duckdb.CatalogException:
            raise StoreError(
                f"{self.path} is a DuckDB file but not a friendshore store"
            ) from None
        if version is not None and version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}; this friendshore "
                f"reads up to {SCHEMA_VERSION}. Upgrade friendshore."
            )

    def _sync_countries(self) -> None:
        import pyarrow as pa  # only when writing: a reading command never loads it

        iso3, name, kind = zip(*countries.table_rows(), strict=True)
        table = pa.table({"iso3": iso3, "name": name, "kind": kind})
        self.con.register("_countries_src", table)
        try:
            self.con.execute("BEGIN")
            self.con.execute("DELETE FROM countries")
            self.con.execute("INSERT INTO countries SELECT * FROM _countries_src")
            self.con.execute(
                "CREATE OR REPLACE TEMP VIEW _new_codes AS "
                "SELECT iso3 AS code FROM _countries_src"
            )
            self.con.execute(NEW_COUNTRY_IDS)
            self.con.execute("DROP VIEW _new_codes")
            self.con.execute("COMMIT")
        finally:
            self.con.unregister("_countries_src")

    # -- queries ------------------------------------------------------------------
    def pl(self, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Run SQL with DuckDB-bound ``$name`` parameters; Polars result.

        Handed over through the Arrow PyCapsule stream, not ``relation.pl()``,
        which imports pyarrow: ~0.1-0.3 s of a reading command's start-up (issue 17).
        """
        return pl.DataFrame(self._rel(sql, params))

    def _rel(
        self, sql: str, params: Mapping[str, Any] | None
    ) -> duckdb.DuckDBPyRelation:
        rel = self.con.sql(sql, params=dict(params) if params else None)
        if rel is None:
            raise StoreError(f"statement returned no result: {sql[:60]!r}")
        return rel

    def fetchall(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run SQL and return every row as tuples."""
        return self.con.execute(sql, dict(params or {})).fetchall()

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement whose result is not needed (DDL, DML)."""
        self.con.execute(sql, dict(params or {})).fetchall()

    def write_parquet(
        self, sql: str, path: Path, partition_by: tuple[str, ...] = ()
    ) -> None:
        """Write a query's result as zstd Parquet: one file, or a Hive-partitioned
        directory when ``partition_by`` names columns (the path is never SQL text).
        """
        rel = self._rel(sql, None)
        if partition_by:
            rel.write_parquet(
                str(path), compression="zstd", partition_by=list(partition_by)
            )
        else:
            rel.write_parquet(str(path), compression="zstd")

    def register(self, name: str, data: pa.Table | polars.DataFrame) -> None:
        """Expose an Arrow table or Polars frame to SQL under ``name`` (no copy)."""
        if isinstance(data, pl.DataFrame):
            data = data.to_arrow()
        self.con.register(name, data)

    def country_positions(self) -> polars.DataFrame:
        """``id`` (Int16) 1..the largest id and its ``iso3`` (null if unused), by id.

        Row ``id`` is position ``id`` of the per-country lookup lists the coded-flows
        queries index by ``exporter_id`` (``list[exporter_id]``).
        """
        ids = self.pl("SELECT id, iso3 FROM country_ids")
        n = int(ids.select(pl.col("id").max().fill_null(0)).item())
        return (
            pl.DataFrame({"id": range(1, n + 1)}, schema={"id": pl.Int16})
            .join(ids.with_columns(pl.col("id").cast(pl.Int16)), on="id", how="left")
            .sort("id")
        )

    def temp_table(
        self, name: str, sql: str, params: Mapping[str, Any] | None = None
    ) -> None:
        """Materialise a query as a TEMP table (read-only stores allow these).

        For an intermediate result that a later query joins: a native table hashes
        several times faster than a registered Arrow frame. Drop it with
        :meth:`drop_temp`.
        """
        if not _TEMP_NAME.fullmatch(name):
            raise StoreError(f"not a temporary table name: {name!r}")
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}", dict(params or {})
        ).fetchall()

    def drop_temp(self, name: str) -> None:
        """Drop a table made by :meth:`temp_table` (no error if it is gone)."""
        if not _TEMP_NAME.fullmatch(name):
            raise StoreError(f"not a temporary table name: {name!r}")
        self.con.execute(f"DROP TABLE IF EXISTS temp.{name}").fetchall()

    def unregister(self, name: str) -> None:
        """Drop a name registered with :meth:`register`."""
        self.con.unregister(name)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One DuckDB transaction: committed on success, rolled back on any error."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")

    def write_registry(self, registry: Registry) -> None:
        """(Re)create ``registry_groups`` and ``registry_members`` in one transaction,
        so the registry's groups and memberships join in SQL."""
        groups, members = registry.tables()
        self.register("_registry_groups_src", groups)
        self.register("_registry_members_src", members)
        try:
            with self.transaction() as con:
                con.execute(
                    "CREATE OR REPLACE TABLE registry_groups AS "
                    "SELECT * FROM _registry_groups_src ORDER BY group_name"
                ).fetchall()
                con.execute(
                    "CREATE OR REPLACE TABLE registry_members AS "
                    "SELECT * FROM _registry_members_src "
                    "ORDER BY group_name, since, iso3"
                ).fetchall()
        finally:
            self.unregister("_registry_groups_src")
            self.unregister("_registry_members_src")

    # -- loads ------------------------------------------------------------------
    def find_load(
        self, source: str, sha256: str, options: str | None = None
    ) -> tuple[int, str] | None:
        """(load_id, file_name) of an earlier load of identical content and options."""
        rows = self.fetchall(
            """SELECT load_id, file_name FROM loads
               WHERE source = $s AND sha256 = $h AND options IS NOT DISTINCT FROM $o""",
            {"s": source, "h": sha256, "o": options},
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def record_load(
        self,
        *,
        source: str,
        file_name: str,
        file_path: str,
        sha256: str,
        dataset_key: str,
        target: str,
        insert: Callable[[Writer, int], tuple[int, tuple[int, ...]]],
        options: str | None = None,
    ) -> LoadResult:
        """Load one file as one transaction and record it in ``loads``.

        ``insert(writer, load_id)`` writes the rows through the
        :class:`~friendshore.store.writes.Writer` (which tags them with ``load_id``)
        into ``target`` and returns ``(rows, years)``. Identical content already loaded
        for this source is a no-op (status ``unchanged``). Rows of earlier loads with
        the same ``dataset_key`` are deleted first (status ``replaced``). The same bytes
        loaded with different ``options`` (a column mapping, say) count as a change. Any error
        rolls everything back, so the store is exactly as it was.
        """
        from friendshore import __version__

        started = time.perf_counter()
        earlier = self.find_load(source, sha256, options)
        if earlier is not None:
            return LoadResult(
                source,
                file_name,
                sha256,
                "unchanged",
                0,
                dataset_key,
                earlier[0],
                notes=(
                    f"identical to {earlier[1]} (load {earlier[0]}), already loaded",
                ),
            )
        with self.transaction() as con:
            prev = [
                r[0]
                for r in con.execute(
                    "SELECT load_id FROM loads WHERE source = $s AND dataset_key = $k",
                    {"s": source, "k": dataset_key},
                ).fetchall()
            ]
            if prev:
                for table in LOADED_TABLES:
                    con.execute(
                        f"DELETE FROM {table} WHERE list_contains($ids, load_id)",
                        {"ids": prev},
                    ).fetchall()
                con.execute(
                    "DELETE FROM loads WHERE list_contains($ids, load_id)",
                    {"ids": prev},
                ).fetchall()
            (load_id,) = con.execute(
                "SELECT nextval('load_id_seq')::INTEGER"
            ).fetchall()[0]
            rows, years = insert(Writer(con, load_id), load_id)
            con.execute(
                """INSERT INTO loads VALUES ($id, $source, $file, $path, $sha, $key,
                   $target, $rows, $years, $at, $version, $options)""",
                {
                    "id": load_id,
                    "source": source,
                    "file": file_name,
                    "path": file_path,
                    "sha": sha256,
                    "key": dataset_key,
                    "target": target,
                    "rows": rows,
                    "years": ",".join(str(y) for y in sorted(years)),
                    "at": datetime.now(UTC).replace(tzinfo=None),
                    "version": __version__,
                    "options": options,
                },
            ).fetchall()
        return LoadResult(
            source,
            file_name,
            sha256,
            "replaced" if prev else "loaded",
            rows,
            dataset_key,
            load_id,
            tuple(sorted(years)),
            seconds=time.perf_counter() - started,
        )

    def loads(self) -> polars.DataFrame:
        """The ``loads`` table, oldest first."""
        return self.pl("SELECT * FROM loads ORDER BY load_id")

    def info(self) -> dict[str, polars.DataFrame]:
        """Summary for ``friendshore info``: per-source/year counts and loaded files."""
        trade = self.pl(
            """SELECT source, year, hs_revision, count(*) AS rows,
                      count(DISTINCT importer) AS importers,
                      count(DISTINCT exporter) AS exporters,
                      count(DISTINCT hs6) AS products,
                      sum(value_usd) AS value_usd
               FROM trade_flows GROUP BY ALL ORDER BY source, year, hs_revision"""
        )
        prod = self.pl(
            """SELECT source, edition, year, count(*) AS rows,
                      count(DISTINCT commodity) AS commodities
               FROM production GROUP BY ALL ORDER BY edition, year"""
        )
        loads = self.pl(
            """SELECT load_id, source, file_name, rows, years, dataset_key,
                      left(sha256, 12) AS sha256, loaded_at
               FROM loads ORDER BY load_id"""
        )
        size = self.path.stat().st_size if self.path.exists() else 0
        store = pl.DataFrame(
            {
                "path": [str(self.path)],
                "size_bytes": [size],
                "schema_version": [SCHEMA_VERSION],
            }
        )
        return {
            "store": store,
            "trade_flows": trade,
            "production": prod,
            "loads": loads,
        }


def insert_flow_rows(
    con: duckdb.DuckDBPyConnection, rows: pa.Table | pl.DataFrame
) -> int:
    """:func:`insert_flows` for rows in memory (columns :data:`FLOW_COLUMNS`)."""
    if isinstance(rows, pl.DataFrame):
        rows = rows.to_arrow()
    con.register("_flows_in", rows.select(list(FLOW_COLUMNS)))
    try:
        return insert_flows(con)
    finally:
        con.unregister("_flows_in")


def _open_error(path: Path, exc: duckdb.Error, *, read_only: bool) -> Exception:
    msg = str(exc)
    if "lock" in msg.lower():
        m = _LOCK_RE.search(msg)
        who = f"PID {m.group(1)}" if m else "another process"
        # DuckDB: one read-write process, or any number of read-only ones; a
        # writer shuts readers out too, so --read-only is advice only for writers.
        advice = (
            "readers must wait until it has finished writing"
            if read_only
            else "wait for it to finish, or open it with --read-only for reading"
        )
        return StoreBusyError(f"The store {path} is in use by {who}; {advice}.")
    return StoreError(f"Cannot open store {path}: {msg.splitlines()[0]}")
