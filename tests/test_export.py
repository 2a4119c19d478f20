"""Parquet written by friendshore.export: the embedded Arrow schema and its metadata."""

from __future__ import annotations

from collections.abc import Iterator
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


def test_streamed_frames_are_one_file_with_every_row_in_order_and_the_provenance(
    tmp_path: Path,
) -> None:
    """A panel written year by year through Polars' sink: the frames come back
    whole and in order, strings as large strings, the provenance in both the
    file's key-value metadata and the embedded Arrow schema; a generator is
    drawn once, frame by frame."""
    drawn: list[int] = []

    def years() -> Iterator[pl.DataFrame]:
        for y, codes in ((1995, "abcde"), (1996, "xyz")):
            drawn.append(y)
            yield pl.DataFrame(
                {"year": [y] * len(codes), "hs6": list(codes), "v": [1.5] * len(codes)}
            )

    out = tmp_path / "panel.parquet"
    meta = {"friendshore.command": "exposure"}
    assert export.write_parquet_frames(years(), out, meta) == 8
    assert drawn == [1995, 1996]
    back = pl.read_parquet(out)
    assert back["year"].to_list() == [1995] * 5 + [1996] * 3
    assert back["hs6"].to_list() == list("abcdexyz")
    schema = pq.read_schema(out)
    assert str(schema.field("hs6").type) == "large_string"
    assert schema.metadata[b"friendshore.command"] == b"exposure"
    assert pq.read_metadata(out).metadata[b"friendshore.command"] == b"exposure"


def test_streamed_frames_with_a_nested_column_and_no_frames(tmp_path: Path) -> None:
    """Nested columns take the pyarrow route with the same provenance; an empty
    panel writes no file."""
    frames = [pl.DataFrame({"k": [1], "tiers": [["ally", "other"]]})] * 2
    out = tmp_path / "nested.parquet"
    assert export.write_parquet_frames(iter(frames), out, {"a": "b"}) == 2
    assert pl.read_parquet(out)["tiers"].to_list() == [["ally", "other"]] * 2
    assert pq.read_schema(out).metadata[b"a"] == b"b"
    none = tmp_path / "none.parquet"
    assert export.write_parquet_frames(iter([]), none, {"a": "b"}) == 0
    assert not none.exists()
