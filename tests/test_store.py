"""The store: schema, load bookkeeping (no-op, replace, rollback), locking, paths."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from friendshore.errors import StoreBusyError, StoreError, StoreMissingError
from friendshore.store import (
    FLOW_COLUMNS,
    SCHEMA_VERSION,
    Store,
    default_db_path,
    insert_flow_rows,
)
from friendshore.store.writes import Writer

from .conftest import holding, table_snapshot


def _insert(values: list[tuple[int, str, str, float]]):  # type: ignore[no-untyped-def]
    """An insert callback writing the given (year, exporter, importer, value) rows."""

    def insert(w: Writer, load_id: int) -> tuple[int, tuple[int, ...]]:
        rows = pl.DataFrame(
            [
                (y, e, i, "850511", "HS2017", v, None, "test", "table", load_id)
                for y, e, i, v in values
            ],
            schema=dict.fromkeys(FLOW_COLUMNS),
            orient="row",
        )
        w.flow_rows(rows, source="test")
        return len(values), tuple(sorted({v[0] for v in values}))

    return insert


def _load(
    store: Store,
    sha: str,
    key: str,
    rows: list[tuple[int, str, str, float]],
    insert=None,
):  # type: ignore[no-untyped-def]
    """Record a load of ``rows`` (or run ``insert`` instead) under ``key``."""
    return store.record_load(
        source="test",
        file_name=f"{key}.csv",
        file_path=f"/x/{key}.csv",
        sha256=sha,
        dataset_key=key,
        target="trade_flows",
        insert=insert or _insert(rows),
    )


def test_schema_created_with_version(store: Store) -> None:
    tables = {
        r[0] for r in store.fetchall("SELECT table_name FROM information_schema.tables")
    }
    assert {"trade_flows", "production", "loads", "countries", "meta"} <= tables
    assert store.fetchall("SELECT value FROM meta WHERE key='schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    # the bundled country table: trade codes resolve to ISO3
    assert store.fetchall("SELECT kind FROM countries WHERE iso3 = 'TWN'") == [
        ("country",)
    ]


def test_identical_reload_is_noop(store: Store) -> None:
    first = _load(store, "aaa", "k1", [(2022, "CHN", "USA", 10.0)])
    again = _load(store, "aaa", "k1", [(2022, "CHN", "USA", 10.0)])
    assert (first.status, again.status) == ("loaded", "unchanged")
    assert again.rows == 0
    assert store.fetchall("SELECT count(*) FROM trade_flows") == [(1,)]
    assert store.fetchall("SELECT count(*) FROM loads") == [(1,)]


def test_changed_file_replaces_its_rows_only(store: Store) -> None:
    _load(store, "aaa", "k1", [(2022, "CHN", "USA", 10.0), (2022, "JPN", "USA", 5.0)])
    _load(store, "bbb", "k2", [(2021, "DEU", "FRA", 7.0)])
    res = _load(store, "ccc", "k1", [(2022, "CHN", "USA", 12.0)])
    assert res.status == "replaced"
    rows = store.fetchall(
        "SELECT exporter, value_usd FROM trade_flows ORDER BY exporter"
    )
    assert rows == [("CHN", 12.0), ("DEU", 7.0)]
    assert store.fetchall("SELECT dataset_key, sha256 FROM loads ORDER BY 1") == [
        ("k1", "ccc"),
        ("k2", "bbb"),
    ]


def test_failed_load_leaves_store_exactly_as_it_was(store: Store) -> None:
    _load(store, "aaa", "k1", [(2022, "CHN", "USA", 10.0)])
    before = table_snapshot(store)

    def boom(w: Writer, load_id: int) -> tuple[int, tuple[int, ...]]:
        _insert([(2022, "KOR", "USA", 1.0)])(w, load_id)
        raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        _load(store, "zzz", "k1", [], insert=boom)
    assert table_snapshot(store) == before


def test_db_path_env_and_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("FRIENDSHORE_DB", raising=False)
    assert default_db_path() == Path("friendshore.duckdb")
    monkeypatch.setenv("FRIENDSHORE_DB", str(tmp_path / "env.duckdb"))
    assert default_db_path() == tmp_path / "env.duckdb"


def test_read_only_needs_an_existing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreMissingError, match="No store at"):
        Store(tmp_path / "absent.duckdb", read_only=True)


def test_not_a_friendshore_store(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(StoreError, match="not a friendshore store"):
        Store(path, read_only=True)


@pytest.mark.slow
def test_second_writer_gets_a_clear_busy_error(db_path: Path) -> None:
    Store(db_path).close()
    with (
        holding(db_path, read_only=False) as pid,
        pytest.raises(StoreBusyError, match=rf"in use by PID {pid}"),
    ):
        Store(db_path)
    Store(db_path).close()  # free again once the holder is gone
    assert db_path.exists()


def test_same_bytes_with_other_options_is_a_change(store: Store) -> None:
    def load(options: str):  # type: ignore[no-untyped-def]
        return store.record_load(
            source="test",
            file_name="k.csv",
            file_path="k.csv",
            sha256="same",
            dataset_key="k",
            target="trade_flows",
            options=options,
            insert=_insert([(2022, "CHN", "USA", 1.0)]),
        )

    assert load('{"map": "a"}').status == "loaded"
    assert load('{"map": "a"}').status == "unchanged"
    assert load('{"map": "b"}').status == "replaced"
    assert store.fetchall("SELECT count(*) FROM trade_flows") == [(1,)]


def test_schema_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    """A store written by schema 1 (text-keyed trade_flows table) opens, read-only
    too, with the same rows behind the trade_flows view."""
    import duckdb

    db = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute(
        """CREATE TABLE trade_flows (year SMALLINT NOT NULL, exporter VARCHAR NOT NULL,
           importer VARCHAR NOT NULL, hs6 VARCHAR NOT NULL,
           hs_revision VARCHAR NOT NULL, value_usd DOUBLE NOT NULL, quantity_t DOUBLE,
           source VARCHAR NOT NULL, basis VARCHAR NOT NULL, load_id INTEGER NOT NULL)"""
    )
    rows = [
        (2022, "CHN", "USA", "010121", "HS2017", 5.0, None, "baci", "baci", 1),
        (2022, "X697", "DEU", "8505", "HS2017", 2.5, 0.1, "comtrade", "import", 2),
        (2021, "DEU", "FRA", "850511", "HS2017", 1.0, 3.0, "baci", "baci", 1),
    ]
    con.executemany(
        "INSERT INTO trade_flows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
    )
    con.close()
    with Store(db, read_only=True) as store:
        got = store.fetchall("SELECT * FROM trade_flows ORDER BY value_usd DESC")
        assert got == rows
        assert store.fetchall("SELECT value FROM meta WHERE key='schema_version'") == [
            (str(SCHEMA_VERSION),)
        ]
        tables = {
            r[0] for r in store.fetchall("SELECT table_name FROM duckdb_tables()")
        }
        assert "_trade_flows_v1" not in tables


def _flow_rows(rows: list[tuple[int, str, str, str]], load_id: int = 1) -> pl.DataFrame:
    """(year, exporter, importer, hs) rows as trade_flows-shaped frame, value 1."""
    return pl.DataFrame(
        [
            (y, e, i, hs, "HS2017", 1.0, None, "test", "table", load_id)
            for y, e, i, hs in rows
        ],
        schema=dict.fromkeys(FLOW_COLUMNS),
        orient="row",
    )


def test_hs_codes_keep_their_digits_through_the_coded_layout(store: Store) -> None:
    # Comtrade keeps chapters (2 digits) and headings (4); chapter 01 codes start
    # with a zero that a plain integer would lose.
    codes = ["01", "0101", "010121", "85", "8505", "850511", "100101"]
    with store.transaction() as con:
        insert_flow_rows(con, _flow_rows([(2022, "CHN", "USA", c) for c in codes]))
    assert sorted(
        r[0] for r in store.fetchall("SELECT hs6 FROM trade_flows")
    ) == sorted(codes)
    # digits x 1,000,000 + the number, worked by hand
    assert sorted(r[0] for r in store.fetchall("SELECT hs FROM flows")) == [
        2_000_001,
        2_000_085,
        4_000_101,
        4_008_505,
        6_010_121,
        6_100_101,
        6_850_511,
    ]


def test_rows_are_stored_by_year_product_importer_exporter(store: Store) -> None:
    rows = [
        (2023, "CHN", "USA", "850511"),
        (2022, "JPN", "USA", "850511"),
        (2022, "CHN", "DEU", "850511"),
        (2022, "CHN", "USA", "280530"),
        (2022, "AUS", "USA", "850511"),
    ]
    with store.transaction() as con:
        insert_flow_rows(con, _flow_rows(rows))
    ids = dict(store.fetchall("SELECT iso3, id FROM country_ids"))
    stored = store.fetchall(
        "SELECT year, hs, importer_id, exporter_id FROM flows ORDER BY rowid"
    )
    want = sorted((y, 6_000_000 + int(hs), ids[i], ids[e]) for y, e, i, hs in rows)
    assert stored == want


def test_a_new_area_code_gets_the_next_id_and_a_failed_load_none(store: Store) -> None:
    (top,) = store.fetchall("SELECT max(id) FROM country_ids")[0]

    def failing(w: Writer, load_id: int) -> tuple[int, tuple[int, ...]]:
        w.flow_rows(_flow_rows([(2022, "X991", "USA", "850511")], load_id), source="t")
        raise ValueError("bad row")

    before = table_snapshot(store)
    with pytest.raises(ValueError, match="bad row"):
        _load(store, "fff", "f", [], insert=failing)
    assert table_snapshot(store) == before
    with store.transaction() as con:
        insert_flow_rows(con, _flow_rows([(2022, "X991", "USA", "850511")]))
    assert store.fetchall("SELECT id FROM country_ids WHERE iso3 = 'X991'") == [
        (top + 1,)
    ]
    assert store.fetchall("SELECT exporter FROM trade_flows") == [("X991",)]


def test_a_store_from_a_newer_friendshore_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    with Store(db) as store:
        store.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    for read_only in (False, True):
        with pytest.raises(StoreError, match="schema version 99; this friendshore"):
            Store(db, read_only=read_only)
