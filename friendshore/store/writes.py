"""What a loader may write, inside one load's transaction.

The loaders (``friendshore.sources``) parse files into Arrow/Polars frames, or name a
CSV file for DuckDB's own reader (BACI's 10-million-row years), and hand them to a
:class:`Writer`; the writer owns every SQL text that writes ``flows`` and
``production`` and turns DuckDB's errors into :class:`CsvReadError` /
:class:`MissingValueError`, so no loader imports ``duckdb``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from friendshore.errors import StoreError
from friendshore.progress import ProgressFn, no_progress
from friendshore.store.layout import FLOW_COLUMNS, HS_BASE

if TYPE_CHECKING:
    import pyarrow as pa

# Where a BACI code does not map (country or product): no real id is negative.
MARK = -1

PRODUCTION_COLUMNS = (
    "year",
    "country",
    "commodity",
    "stage",
    "quantity",
    "unit",
    "source",
    "edition",
    "type",
    "is_estimate",
    "status",
    "kind",
)


class CsvReadError(StoreError):
    """DuckDB's CSV reader or a cast refused the file; the message is DuckDB's."""


class MissingValueError(StoreError):
    """A NOT NULL column of ``flows`` got a NULL (an empty field in the file)."""


# New codes get the next free ids (dense, in code order); existing ids never change.
NEW_COUNTRY_IDS = """
INSERT INTO country_ids
SELECT CAST((SELECT coalesce(max(id), 0) FROM country_ids)
            + row_number() OVER (ORDER BY code) AS SMALLINT), code
FROM (SELECT DISTINCT code FROM _new_codes) AS n
WHERE code NOT IN (SELECT iso3 FROM country_ids)
"""


def country_ids(con: duckdb.DuckDBPyConnection, codes: list[str]) -> dict[str, int]:
    """The ``country_ids`` id of each code, adding codes not seen before.

    Run inside the load's transaction, so a failed load leaves no new ids behind.
    """
    import pyarrow as pa  # only when writing: a reading command never loads it

    con.register("_new_codes", pa.table({"code": pa.array(codes, pa.string())}))
    try:
        con.execute(NEW_COUNTRY_IDS).fetchall()
        rows = con.execute(
            """SELECT c.iso3, c.id FROM country_ids AS c
               SEMI JOIN _new_codes AS n ON n.code = c.iso3"""
        ).fetchall()
    finally:
        con.unregister("_new_codes")
    return {iso3: int(i) for iso3, i in rows}


def insert_flows(con: duckdb.DuckDBPyConnection) -> int:
    """Write the ``trade_flows``-shaped rows of ``_flows_in`` into ``flows``.

    ``_flows_in`` is a table, view or registered frame with the ``trade_flows``
    columns: ISO3/X-code countries and HS text of 2, 4 or 6 digits. New country codes
    get ids; the rows are written ordered by (year, hs, importer, exporter). Returns
    the number of rows written.
    """
    con.execute(
        """CREATE OR REPLACE TEMP VIEW _new_codes AS
           SELECT exporter AS code FROM _flows_in
           UNION SELECT importer FROM _flows_in"""
    ).fetchall()
    try:
        con.execute(NEW_COUNTRY_IDS).fetchall()
    finally:
        con.execute("DROP VIEW _new_codes").fetchall()
    (rows,) = con.execute(
        """INSERT INTO flows
           SELECT n.year, hs_code(n.hs6) AS hs, i.id AS importer_id,
                  e.id AS exporter_id, n.hs_revision, n.value_usd,
                  n.quantity_t, n.source, n.basis, n.load_id
           FROM _flows_in AS n
           JOIN country_ids AS e ON e.iso3 = n.exporter
           JOIN country_ids AS i ON i.iso3 = n.importer
           ORDER BY n.year, hs, importer_id, exporter_id"""
    ).fetchall()[0]
    return int(rows)


class Writer:
    """One load's handle on the store: ``load_id`` and the writes a loader needs."""

    def __init__(self, con: duckdb.DuckDBPyConnection, load_id: int) -> None:
        self._con = con
        self.load_id = load_id

    # -- frames -------------------------------------------------------------------
    def country_ids(self, codes: list[str]) -> dict[str, int]:
        """The store's id of each ISO3/X-code, adding codes not seen before."""
        return country_ids(self._con, codes)

    def flow_rows(self, rows: pa.Table | pl.DataFrame, *, source: str) -> int:
        """Write ``trade_flows``-shaped rows (without ``source``/``load_id``):
        countries as ISO3 and HS text, coded by the store on the way in."""
        frame = rows if isinstance(rows, pl.DataFrame) else pl.from_arrow(rows)
        assert isinstance(frame, pl.DataFrame)
        frame = frame.with_columns(
            pl.lit(source).alias("source"), pl.lit(self.load_id).alias("load_id")
        )
        self._con.register("_flows_in", frame.select(FLOW_COLUMNS).to_arrow())
        try:
            return insert_flows(self._con)
        finally:
            self._con.unregister("_flows_in")

    def production_rows(self, rows: pa.Table | pl.DataFrame, *, source: str) -> int:
        """Write ``production`` rows (every column but ``source`` and ``load_id``)."""
        table = rows.to_arrow() if isinstance(rows, pl.DataFrame) else rows
        self._con.register("_production_in", table)
        try:
            cols = ", ".join(c for c in PRODUCTION_COLUMNS if c != "source")
            (n,) = self._con.execute(
                f"""INSERT INTO production ({cols}, source, load_id)
                    SELECT {cols}, $source, $id FROM _production_in""",
                {"source": source, "id": self.load_id},
            ).fetchall()[0]
        finally:
            self._con.unregister("_production_in")
        return int(n)

    def comtrade_rows(self, frame: pl.DataFrame, preferred: str) -> tuple[int, int]:
        """Write Comtrade rows under the mirror rule against stored Comtrade rows.

        The same flow reported by both sides keeps the ``preferred`` basis: a stored
        mirror-side row is replaced, a new mirror-side row is skipped. Returns
        ``(inserted, superseded)``.
        """
        params = {"pref": preferred}
        # Same flow, same source: rank 0 = preferred basis, 1 = the mirror side.
        match = """t.source = 'comtrade' AND t.year = n.year AND t.hs = n.hs
                   AND t.importer_id = n.importer_id AND t.exporter_id = n.exporter_id"""
        rank_t = "CASE WHEN t.basis = $pref THEN 0 ELSE 1 END"
        rank_n = "CASE WHEN n.basis = $pref THEN 0 ELSE 1 END"
        con = self._con
        codes = pl.concat([frame["exporter"], frame["importer"]]).unique().sort()
        country_ids(con, codes.to_list())  # new area codes get ids first
        con.register("_comtrade_rows", frame.to_arrow())
        try:
            # The rows with the store's coded keys.
            con.execute(
                """CREATE OR REPLACE TEMP VIEW _comtrade_new AS
                   SELECT r.*, hs_code(r.hs6) AS hs, i.id AS importer_id,
                          e.id AS exporter_id
                   FROM _comtrade_rows AS r
                   JOIN country_ids AS i ON i.iso3 = r.importer
                   JOIN country_ids AS e ON e.iso3 = r.exporter"""
            ).fetchall()
            (superseded,) = con.execute(
                f"""SELECT count(*) FROM flows t JOIN _comtrade_new n ON {match}
                    WHERE {rank_t} > {rank_n}""",
                params,
            ).fetchall()[0]
            con.execute(
                f"""DELETE FROM flows t USING _comtrade_new n
                    WHERE {match} AND {rank_t} > {rank_n}""",
                params,
            ).fetchall()
            keep = f"""NOT EXISTS (SELECT 1 FROM flows t
                                    WHERE {match} AND {rank_t} <= {rank_n})"""
            (inserted,) = con.execute(
                f"SELECT count(*) FROM _comtrade_new n WHERE {keep}", params
            ).fetchall()[0]
            con.execute(
                f"""INSERT INTO flows (year, hs, importer_id, exporter_id, hs_revision,
                        value_usd, quantity_t, source, basis, load_id)
                    SELECT n.year, n.hs, n.importer_id, n.exporter_id, n.hs_revision,
                           n.value_usd, n.quantity_t, 'comtrade', n.basis, $load_id
                    FROM _comtrade_new n WHERE {keep}
                    ORDER BY n.year, n.hs, n.importer_id, n.exporter_id""",
                {**params, "load_id": self.load_id},
            ).fetchall()
            # On an error the load's rollback drops the view with everything else.
            con.execute("DROP VIEW _comtrade_new").fetchall()
        finally:
            con.unregister("_comtrade_rows")
        return int(inserted), int(superseded)

    # -- BACI: DuckDB's CSV reader straight into flows ------------------------------
    def baci_csv(
        self,
        path: Path,
        columns: dict[str, str],
        ids_by_code: list[int | None],
        hs_revision: str,
    ) -> int:
        """Insert a BACI year file (``t,i,j,k,v,q``) read by DuckDB; rows written.

        Codes that do not map are written as :data:`MARK` for :meth:`baci_bad_rows`
        to count. Raises :class:`CsvReadError` (the reader's message, with its line)
        or :class:`MissingValueError` (an empty ``t`` or ``v``).
        """
        try:
            (rows,) = self._con.execute(
                _BACI_INSERT,
                {
                    "path": str(path),
                    "columns": columns,
                    "ids_by_code": ids_by_code,
                    "hs_revision": hs_revision,
                    "load_id": self.load_id,
                },
            ).fetchall()[0]
        except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
            raise CsvReadError(str(exc)) from None
        except duckdb.ConstraintException as exc:
            raise MissingValueError(str(exc)) from None
        return int(rows)

    def baci_bad_rows(self, year: int) -> int:
        """Rows of this load with an unmapped code, another year or a bad number."""
        (bad,) = self._con.execute(
            _BACI_CHECK, {"year": year, "load_id": self.load_id}
        ).fetchall()[0]
        return int(bad)

    def baci_first_problem(
        self,
        path: Path,
        columns: list[str],
        codes: list[int],
        year: int,
    ) -> tuple[int, str] | None:
        """``(line, problem)`` of the file's first bad row (failure path only).

        ``problem`` is the column letter, a kind (``|`` not a valid value, ``=``
        another year, ``?`` an unknown country code) and the text found. The load's
        transaction may already be aborted by the failed INSERT, so the rescan (which
        reads only the CSV) runs on a cursor of its own. Raises :class:`CsvReadError`
        when DuckDB cannot read the file even as text.
        """
        try:
            with self._con.cursor() as cur:
                found = cur.execute(
                    _BACI_LOCATE,
                    {
                        "path": str(path),
                        "columns": dict.fromkeys(columns, "VARCHAR"),
                        "codes": codes,
                        "year": year,
                    },
                ).fetchall()
        except duckdb.Error as exc:
            raise CsvReadError(str(exc)) from None
        return (int(found[0][0]), str(found[0][1])) if found else None

    @contextmanager
    def progress(self, desc: str, progress: ProgressFn) -> Iterator[None]:
        """Report DuckDB's own percentage of the running statement from a thread."""
        if progress is no_progress:
            yield
            return
        con = self._con
        before = con.execute(
            "SELECT current_setting('enable_progress_bar'), "
            "current_setting('enable_progress_bar_print')"
        ).fetchall()[0]
        con.execute("SET enable_progress_bar_print = false").fetchall()
        con.execute("SET enable_progress_bar = true").fetchall()
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(0.25):
                try:
                    pct = con.query_progress()
                except duckdb.Error:
                    return
                if pct >= 0:
                    progress(desc, pct, 100.0)

        thread = threading.Thread(target=poll, name="load-progress", daemon=True)
        thread.start()
        try:
            yield
            progress(desc, 100.0, 100.0)
        finally:
            stop.set()
            thread.join()
            # A failed INSERT aborts the transaction and refuses the SETs; the
            # settings then stay on (printing off), which changes no result.
            with suppress(duckdb.Error):
                con.execute(f"SET enable_progress_bar = {bool(before[0])}").fetchall()
                con.execute(
                    f"SET enable_progress_bar_print = {bool(before[1])}"
                ).fetchall()


_BACI_INSERT = f"""
INSERT INTO flows
SELECT s.t, s.hs, s.importer_id, s.exporter_id, $hs_revision, s.v, s.q,
       'baci', 'baci', $load_id
FROM (
    SELECT
        c.t,
        -- HS6 codes lose their leading zero in BACI (10121 is 010121): every code
        -- of 5 or 6 digits is a six-digit code, coded 6,000,000 + the number.
        CASE WHEN c.k BETWEEN 10000 AND 999999 THEN {6 * HS_BASE} + c.k
             ELSE {MARK} END AS hs,
        -- country ids by BACI code: $ids_by_code[code + 1] (a list lookup is cheaper
        -- than a join per flow); codes outside the list are marked.
        CASE WHEN c.j BETWEEN 0 AND len($ids_by_code) - 1
             THEN coalesce($ids_by_code[c.j + 1], {MARK}) ELSE {MARK} END
            AS importer_id,
        CASE WHEN c.i BETWEEN 0 AND len($ids_by_code) - 1
             THEN coalesce($ids_by_code[c.i + 1], {MARK}) ELSE {MARK} END
            AS exporter_id,
        c.v * 1000 AS v,  -- BACI values are thousands of USD
        CASE WHEN trim(c.q) IN ('NA', '') THEN NULL ELSE CAST(c.q AS DOUBLE) END AS q
    FROM read_csv($path, header = true, auto_detect = false, delim = ',',
                  quote = '"', columns = $columns) AS c
    -- The store's row order: each product's rows side by side (a year file is one
    -- year). Sorting on the product alone costs ~0.4 s less than the full key on a
    -- 10M-flow year and aggregates as fast; only numbers are sorted, the constant
    -- text columns are added after.
    ORDER BY hs
) AS s
"""

# Columnar check of just this load's rows (zone maps skip other loads' row groups).
_BACI_CHECK = f"""
SELECT count(*) FILTER (WHERE exporter_id = {MARK} OR importer_id = {MARK}
                          OR hs = {MARK} OR year <> $year
                          -- values and quantities must be finite and >= 0
                          OR NOT isfinite(value_usd) OR value_usd < 0
                          OR NOT isfinite(coalesce(quantity_t, 0))
                          OR quantity_t < 0) AS bad
FROM flows WHERE load_id = $load_id
"""

# The release's BACI codes, bound as a list parameter (nothing formatted in).
_CODES = "(SELECT unnest($codes) AS code)"

# Failure path only: every field as text, numbered in file order (header = line 1).
_BACI_LOCATE = f"""
WITH raw AS (
    SELECT row_number() OVER () + 1 AS line, trim(t) AS t, trim(i) AS i,
           trim(j) AS j, trim(k) AS k, trim(v) AS v, trim(q) AS q
    FROM read_csv($path, header = true, auto_detect = false, delim = ',',
                  quote = '"', columns = $columns)
),
typed AS (
    SELECT *, TRY_CAST(t AS SMALLINT) AS t_n, TRY_CAST(i AS INTEGER) AS i_n,
           TRY_CAST(j AS INTEGER) AS j_n, TRY_CAST(k AS INTEGER) AS k_n,
           TRY_CAST(v AS DOUBLE) AS v_n, TRY_CAST(q AS DOUBLE) AS q_n
    FROM raw
),
flagged AS (
    SELECT line, CASE
        WHEN t_n IS NULL THEN 't|' || coalesce(t, '')
        WHEN t_n <> $year THEN 't=' || t
        WHEN i_n IS NULL THEN 'i|' || coalesce(i, '')
        WHEN i_n NOT IN {_CODES} THEN 'i?' || i
        WHEN j_n IS NULL THEN 'j|' || coalesce(j, '')
        WHEN j_n NOT IN {_CODES} THEN 'j?' || j
        WHEN k_n IS NULL OR k_n NOT BETWEEN 10000 AND 999999 THEN 'k|' || coalesce(k, '')
        WHEN v_n IS NULL OR NOT isfinite(v_n * 1000) OR v_n < 0
            THEN 'v|' || coalesce(v, '')
        WHEN q_n IS NULL AND coalesce(q, '') NOT IN ('NA', '') THEN 'q|' || q
        WHEN NOT isfinite(q_n) OR q_n < 0 THEN 'q|' || q
    END AS problem
    FROM typed
)
SELECT line, problem FROM flagged WHERE problem IS NOT NULL ORDER BY line LIMIT 1
"""
