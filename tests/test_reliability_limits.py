"""Limits: a store opened with a small DuckDB ``memory_limit`` still answers by spilling.

Two million BACI-shaped flows (one year, 199 × 200 country pairs, 5 000 products:
995 000 importer-product groups) are written with DuckDB ``range()`` straight into
``trade_flows``. The exposure of every importer and product is then computed with
``memory_limit='500MB'`` (the issue's figure) and again with ``'100MB'``, small
enough that DuckDB must spill its aggregation to the store's ``.tmp`` directory; both
must give the same answer, checked against plain SQL over the same rows.

Measured outside the suite (10 million flows, the size of a BACI year; see the
README's reliability table): the exposure finishes with 500MB, spilling ~0.9 GB.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest

from friendshore.engines.exposure import product_exposure
from friendshore.store import Store, insert_flows

N_FLOWS = 2_000_000
N_PRODUCTS = 5_000


def _fill(db: Path) -> None:
    with Store(db, memory_limit="500MB") as store:
        store.execute(
            """INSERT INTO loads VALUES (1, 'baci', 'BACI_HS17_Y2022_V202501.csv',
               'generated', 'none', 'HS2017:2022', 'trade_flows', $n, '2022',
               TIMESTAMP '2025-01-01', 'test', NULL)""",
            {"n": N_FLOWS},
        )
        # Flow i: exporter i mod 200, importer one of the other 199, product from a
        # multiplicative hash of i, value 1..1 000 003 USD.
        store.execute(
            """CREATE TEMP TABLE _flows_in AS
               WITH c AS (SELECT iso3, row_number() OVER (ORDER BY iso3) - 1 AS k
                          FROM countries WHERE kind = 'country')
               SELECT 2022 AS year, e.iso3 AS exporter, m.iso3 AS importer,
                      (100000 + (i * 7919) % $products)::VARCHAR AS hs6,
                      'HS2017' AS hs_revision,
                      (1 + (i * 2654435761) % 1000003)::DOUBLE AS value_usd,
                      NULL::DOUBLE AS quantity_t, 'baci' AS source, 'baci' AS basis,
                      1 AS load_id
               FROM range($n) t(i)
               JOIN c AS e ON e.k = i % 200
               JOIN c AS m ON m.k = (i // 200) % 199
                              + CASE WHEN (i // 200) % 199 >= i % 200 THEN 1 ELSE 0 END
            """,
            {"n": N_FLOWS, "products": N_PRODUCTS},
        )
        insert_flows(store.con)
        store.execute("DROP TABLE _flows_in")


@contextmanager
def temp_bytes(db: Path) -> Iterator[list[int]]:
    """Peak bytes in DuckDB's spill directory (``<db>.tmp``) while the block runs."""
    folder = Path(f"{db}.tmp")
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if folder.is_dir():
                size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
                peak[0] = max(peak[0], size)
            time.sleep(0.005)

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


@pytest.mark.slow
def test_exposure_of_two_million_flows_under_a_small_memory_limit(
    db_path: Path,
) -> None:
    _fill(db_path)
    with Store(db_path, read_only=True) as store:
        expected = store.pl(
            """SELECT importer, hs6, sum(value_usd) AS v, count(*) AS n,
                      sum(value_usd * value_usd) / sum(value_usd) ^ 2 AS hhi
               FROM trade_flows GROUP BY importer, hs6"""
        )
    assert expected["n"].sum() == N_FLOWS

    answers = {}
    for limit in ("500MB", "100MB"):
        with Store(db_path, read_only=True, memory_limit=limit) as store:
            (setting,) = store.fetchall("SELECT current_setting('memory_limit')")[0]
            assert setting.endswith("MiB") and float(setting.split()[0]) < 500
            with temp_bytes(db_path) as spilled:
                out = product_exposure(store, year=2022)
        answers[limit] = (out, spilled[0])

    small, spilled_small = answers["100MB"]
    assert spilled_small > 0, "100MB should force DuckDB to spill to disk"
    for out, _ in answers.values():
        got = out.select(
            "importer", "hs6", v="import_value_usd", n="n_suppliers", hhi="hhi"
        )
        joined = expected.join(got, on=["importer", "hs6"], how="full", coalesce=True)
        assert joined.height == expected.height == out.height
        assert joined.filter(pl.col("n") != pl.col("n_right")).height == 0
        assert (joined["v"] - joined["v_right"]).abs().max() < 1e-6
        assert (joined["hhi"] - joined["hhi_right"]).abs().max() < 1e-12
    assert (
        answers["500MB"][0]
        .sort("importer", "hs6")
        .equals(small.sort("importer", "hs6"))
    )
