"""Checks shared by the loaders that read CSV text with polars."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from friendshore.errors import SourceFormatError

# Bytes read from a file's end to find its last line.
_TAIL_BYTES = 1 << 16


def check_last_row(path: Path, fields: int, records: int) -> None:
    """Fail when the last line has fewer fields than the header: a cut-off download.

    Polars fills a short row's missing cells with nulls without a word, so a file
    cut inside its last row's number would load a wrong, smaller value. A complete
    CSV writes empty cells as empty fields, so its rows are never short.
    """
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - _TAIL_BYTES))
        tail = fh.read()
    body = tail.rstrip(b"\r\n")
    cut = body.rfind(b"\n")
    if cut < 0 and size > len(tail):
        return  # a last line longer than the tail: not worth reading it all
    last = body[cut + 1 :].decode("utf-8", "replace")
    try:
        n = len(next(csv.reader([last]), []))
    except csv.Error:  # a stray CR or NUL: not CSV text, polars' checks will say so
        return
    if 0 < n < fields:
        raise SourceFormatError(
            str(path),
            f"the last row has {n} of the header's {fields} fields; the file looks "
            "truncated (download it again)",
            row=records + 1,
        )


def expand_paths(
    paths: Iterable[Path], suffixes: tuple[str, ...] = (".csv",), kinds: str = ".csv"
) -> list[Path]:
    """Files named on the command line, a folder standing for its files of ``suffixes``."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                q for q in p.iterdir() if q.is_file() and q.suffix.lower() in suffixes
            )
            if not found:
                raise SourceFormatError(str(p), f"this folder holds no {kinds} files")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise SourceFormatError(str(p), "no such file or folder")
    return files


def problem_row(path: Path) -> int | None:
    """The line of the first record a strict CSV reader cannot read, or whose field
    count differs from the header's: where a parser's error lies, for its message."""
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.reader(fh, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                return None
            for row in reader:
                if row and len(row) != len(header):
                    return reader.line_num
        except csv.Error:
            return reader.line_num
    return None
