"""A small table as plain Python columns, for reference data printed without Polars.

The registry and industry commands answer from bundled CSV files in a few
milliseconds; loading Polars (and pyarrow) to print them would cost more than the
answer. :class:`Rows` holds their columns as lists with a type per column, prints as
CSV or JSON exactly as a Polars frame of the same data would, and becomes one with
:meth:`Rows.to_polars` where the API returns frames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

# Column kinds and the Polars types they become.
KINDS = ("str", "int", "float", "date", "bool")


class Rows:
    """Named columns of equal length, each of one kind (``str``, ``int``, …)."""

    def __init__(
        self, data: Mapping[str, Sequence[Any]], schema: Mapping[str, str]
    ) -> None:
        if list(data) != list(schema):
            raise ValueError("data and schema must name the same columns in order")
        lengths = {len(v) for v in data.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        bad = sorted(k for k, kind in schema.items() if kind not in KINDS)
        if bad:
            raise ValueError(f"unknown column kinds for {', '.join(bad)}")
        self.data = {k: list(v) for k, v in data.items()}
        self.schema = dict(schema)

    @property
    def columns(self) -> list[str]:
        """Column names, in order."""
        return list(self.data)

    @property
    def height(self) -> int:
        """Number of rows."""
        return len(next(iter(self.data.values()), []))

    def is_numeric(self, name: str) -> bool:
        """Whether a column holds numbers (right-aligned in a table)."""
        return self.schema[name] in ("int", "float")

    def to_dicts(self) -> list[dict[str, Any]]:
        """One dict per row."""
        names = self.columns
        return [
            dict(zip(names, row, strict=True))
            for row in zip(*self.data.values(), strict=True)
        ]

    def to_csv(self) -> str:
        """CSV text as Polars writes it: ISO dates, true/false, nothing for null,
        ``""`` for an empty string."""
        lines = [",".join(_quote(c) for c in self.columns)]
        for row in zip(*self.data.values(), strict=True):
            lines.append(",".join(_csv_cell(v) for v in row))
        return "\n".join(lines) + "\n"

    def to_polars(self) -> pl.DataFrame:
        """The same table as a Polars frame."""
        import polars as pl

        types = {
            "str": pl.String,
            "int": pl.Int64,
            "float": pl.Float64,
            "date": pl.Date,
            "bool": pl.Boolean,
        }
        return pl.DataFrame(
            self.data, schema={k: types[v] for k, v in self.schema.items()}
        )


def _quote(text: str) -> str:
    if text == "" or any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return _quote(str(value))
