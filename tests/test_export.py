"""Parquet written by friendshore.export: the embedded Arrow schema and its metadata."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from friendshore import export


def test_the_schema_with_metadata_is_what_pyarrow_would_have_built(
    tmp_path: Path,
) -> None:
    # issue 17: the schema handed to Polars' writer is built over the Arrow C
    # interface, without pyarrow; it must embed what the pyarrow-built schema
    # (export.arrow_schema, the earlier route) embedded: the same types (strings
    # as large_string) and the same key-value metadata, quotes and non-ASCII kept.
    df = pl.DataFrame(
        {
            "year": pl.Series([2022, 2023], dtype=pl.Int16),
            "importer": ["USA", "DEU"],
            "v": [1.5, None],
            "n": [1, 2],
            "day": [date(2024, 1, 1), None],
            "raw": [b"\x00", b"ab"],
            "ok": [True, False],
        }
    )
    meta = {"friendshore.command": "exposure", "friendshore.params": '{"q": "it\'s ü"}'}
    out = export.write_parquet(df, tmp_path / "x.parquet", meta)
    got = pq.read_schema(out)
    want = export.arrow_schema(df, meta)
    assert got.remove_metadata() == want.remove_metadata()
    assert str(got.field("importer").type) == "large_string"
    assert {k.decode(): v.decode() for k, v in got.metadata.items()} == meta
    kv = pq.read_metadata(out).metadata
    assert {k.decode(): v.decode() for k, v in kv.items() if k != b"ARROW:schema"} == (
        meta
    )
    assert pl.read_parquet(out).equals(df)


def test_no_metadata_writes_an_empty_map(tmp_path: Path) -> None:
    df = pl.DataFrame({"a": ["x"]})
    out = export.write_parquet(df, tmp_path / "x.parquet", {})
    assert pq.read_schema(out).metadata in (None, {})
    assert pl.read_parquet(out).equals(df)
