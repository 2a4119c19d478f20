"""Any CSV or Parquet table → ``trade_flows`` or ``production``, by a column mapping.

``mapping`` maps canonical column names to the file's columns
(``{"exporter": "Reporter", "value_usd": "Value"}``; on the command line
``--map exporter=Reporter``). A canonical column left unmapped is taken from a file
column of the same name (case-insensitive) when there is one.

Targets and their canonical columns (``*`` = required):

* ``trade_flows`` (default): year*, exporter*, importer*, hs6*, value_usd* (US
  dollars), quantity_t (metric tonnes), hs_revision* — or one revision for the whole
  file with ``hs_revision="HS2017"`` (``--hs-revision``). Revisions are written
  ``HS1992`` … ``HS2022``; ``HS17``, ``2017`` and Comtrade's ``H0``…``H6`` are
  accepted. One row per (year, exporter, importer, hs6): a repeated key is an error.
* ``production``: year*, country*, commodity*, stage*, quantity*, unit*, edition
  (default: the source name), type, is_estimate (true/false, 1/0, yes/no; default
  false), status (empty, ``W`` or ``NA``). Country ``WLD`` is stored as a world total
  and ``XOT`` as "other countries"; commodity and stage are lower-cased.

Values: countries may be ISO3, ISO2, numeric trade codes or names
(:func:`friendshore.reference.countries.normalise`); trade aggregates (World, EU-27, "Areas,
nes", …) and ``WLD`` are not trading partners and are rejected in ``trade_flows``.
Numbers must parse as plain decimals (no thousands separators: ``1,200`` is ambiguous
across locales); values and quantities must not be negative. ``hs6`` is text: six
digits, a five-digit number is left-padded (``81292`` → ``081292``, lost by a
spreadsheet or an integer column); anything else is an error.

Rows are stored with ``source = 'table:<name>'`` (name defaults to the file stem) and,
in ``trade_flows``, basis ``table``. Each file is one load keyed by
``<file name>:<target>``; errors name the file, the row (CSV: the line number, the
header being line 1, for files without line breaks inside quoted cells; Parquet: the
1-based record number) and the file's column, and leave the store unchanged. Files are
loaded one by one: with several files, those before a bad one stay loaded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from friendshore.errors import ParameterError, SourceFormatError
from friendshore.progress import ProgressFn, no_progress
from friendshore.reference import countries
from friendshore.sources.csvfile import check_last_row, expand_paths, problem_row
from friendshore.store import LoadResult, Store, sha256_file
from friendshore.store.writes import Writer

SOURCE = "table"
TARGETS = ("trade_flows", "production")

# canonical column -> required?
COLUMNS: dict[str, dict[str, bool]] = {
    "trade_flows": {
        "year": True,
        "exporter": True,
        "importer": True,
        "hs6": True,
        "value_usd": True,
        "quantity_t": False,
        "hs_revision": True,  # unless the hs_revision option is given
    },
    "production": {
        "year": True,
        "country": True,
        "commodity": True,
        "stage": True,
        "quantity": True,
        "unit": True,
        "edition": False,
        "type": False,
        "is_estimate": False,
        "status": False,
    },
}

# HS revisions by year, and Comtrade's classification codes (H0 = HS1992 …).
HS_YEARS = ("1992", "1996", "2002", "2007", "2012", "2017", "2022")
_HS_ALIASES = {f"H{i}": f"HS{y}" for i, y in enumerate(HS_YEARS)}
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n", ""}
_ROW = "__row"


def hs_revision_name(text: str) -> str | None:
    """'HS2017' for 'HS2017', 'hs17', '2017' or 'H5'; None when not an HS revision."""
    t = text.strip().upper().replace(" ", "")
    if t in _HS_ALIASES:
        return _HS_ALIASES[t]
    m = re.fullmatch(r"(?:HS)?(\d{2}|\d{4})", t)
    if not m:
        return None
    digits = m.group(1)
    for year in HS_YEARS:
        if digits in (year, year[2:]):
            return f"HS{year}"
    return None


@dataclass(frozen=True)
class _Ctx:
    """What errors need to say where a cell is."""

    file: str
    row_offset: int  # added to the 0-based record index: 2 for CSV, 1 for Parquet
    columns: dict[str, str]  # canonical -> file column

    def fail(
        self, message: str, index: int | None, canonical: str
    ) -> SourceFormatError:
        row = None if index is None else index + self.row_offset
        return SourceFormatError(
            self.file, message, row=row, column=self.columns.get(canonical, canonical)
        )


def _read(path: Path) -> tuple[pl.DataFrame, int]:
    """The file as a frame (CSV: all text) and the row offset of its first record."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pl.read_parquet(path), 1
        if suffix in (".csv", ".txt"):
            raw = path.read_bytes()
            if not raw.strip():
                raise SourceFormatError(str(path), "empty file; expected a header row")
            if b"\x00" in raw[:4096]:  # UTF-16 ("Unicode text" from Excel) or binary
                raise SourceFormatError(
                    str(path),
                    "not UTF-8 text (UTF-16 or binary?); save it as UTF-8 CSV",
                )
            frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
            check_last_row(path, frame.width, frame.height)
            return frame.rename(lambda c: c.lstrip("\ufeff").strip()), 2
    except SourceFormatError:
        raise
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        row = problem_row(path) if suffix in (".csv", ".txt") else None
        raise SourceFormatError(
            str(path), f"cannot read the table: {first}", row=row
        ) from None
    raise SourceFormatError(str(path), "expected a .csv or .parquet file")


def _resolve_columns(
    frame: pl.DataFrame,
    file: str,
    target: str,
    mapping: dict[str, str],
    constant_hs: bool,
) -> dict[str, str]:
    """canonical -> file column; every missing or unknown column in one error."""
    spec = COLUMNS[target]
    by_lower = {c.lower(): c for c in frame.columns}
    out: dict[str, str] = {}
    absent: list[str] = []
    for canonical, column in mapping.items():
        if column in frame.columns:
            out[canonical] = column
        else:
            absent.append(f"{canonical}={column}")
    missing: list[str] = []
    for canonical, required in spec.items():
        if canonical in out or (canonical == "hs_revision" and constant_hs):
            continue
        if canonical.lower() in by_lower and canonical not in mapping:
            out[canonical] = by_lower[canonical.lower()]
        elif required:
            missing.append(canonical)
    problems = []
    if absent:
        problems.append("mapped column(s) not in the file: " + ", ".join(absent))
    if missing:
        problems.append(
            "required column(s) not mapped: "
            + ", ".join(missing)
            + " (use --map CANONICAL=COLUMN)"
        )
    if problems:
        have = ", ".join(frame.columns[:12]) + (" …" if frame.width > 12 else "")
        raise SourceFormatError(file, "; ".join(problems) + f"; file columns: {have}")
    return out


def _text(frame: pl.DataFrame, column: str) -> pl.Series:
    """A column as stripped text, empty cells as null."""
    c = pl.col(column).cast(pl.String).str.strip_chars()
    return frame.select(pl.when(c == "").then(None).otherwise(c)).to_series()


def _first(mask: pl.Series) -> int | None:
    """Index of the first True in a boolean series, else None."""
    idx = mask.fill_null(False).arg_true()
    return int(idx[0]) if idx.len() else None


def _number(
    frame: pl.DataFrame, ctx: _Ctx, canonical: str, *, required: bool
) -> pl.Series:
    text = _text(frame, ctx.columns[canonical])
    values = text.cast(pl.Float64, strict=False)
    # inf, -inf and 1e400 (parses as inf) are no more a number than NaN is.
    bad = _first(text.is_not_null() & (values.is_null() | ~values.is_finite()))
    if bad is not None:
        raise ctx.fail(f"expected a number, got {text[bad]!r}", bad, canonical)
    if required and (bad := _first(values.is_null())) is not None:
        raise ctx.fail("expected a number, got an empty cell", bad, canonical)
    if (bad := _first(values < 0)) is not None:
        raise ctx.fail(f"expected a number >= 0, got {text[bad]!r}", bad, canonical)
    return values


def _year(frame: pl.DataFrame, ctx: _Ctx) -> pl.Series:
    text = _text(frame, ctx.columns["year"])
    values = text.cast(pl.Float64, strict=False)
    ok = (
        values.is_not_null()
        & (values == values.floor())
        & values.is_between(1000, 2999)
    )
    bad = _first(~ok.fill_null(False))
    if bad is not None:
        raise ctx.fail(f"expected a year such as 2022, got {text[bad]!r}", bad, "year")
    return values.cast(pl.Int16)


def _mapped(
    frame: pl.DataFrame,
    ctx: _Ctx,
    canonical: str,
    convert: Callable[[str], str | None],
    expected: str,
) -> pl.Series:
    """Map each distinct text value once (fast on big tables); first failure raises."""
    text = _text(frame, ctx.columns[canonical])
    lookup: dict[str, str | None] = {}
    for value in text.unique().drop_nulls().to_list():
        lookup[value] = convert(value)
    bad_values = {v for v, r in lookup.items() if r is None}
    bad = _first(text.is_null() | text.is_in(list(bad_values)))
    if bad is not None:
        got = "an empty cell" if text[bad] is None else repr(text[bad])
        raise ctx.fail(f"expected {expected}, got {got}", bad, canonical)
    return text.replace_strict(lookup, return_dtype=pl.String)


def _country(target: str) -> Callable[[str], str | None]:
    def convert(value: str) -> str | None:
        iso3 = countries.normalise(value)
        if iso3 is None:
            return None
        entry = countries.lookup(iso3)
        if entry is not None and entry.kind == "aggregate":
            return None
        if target == "trade_flows" and iso3 == countries.WORLD_TOTAL:
            return None
        return iso3

    return convert


def _hs6(value: str) -> str | None:
    if re.fullmatch(r"\d{6}", value):
        return value
    if re.fullmatch(r"\d{5}", value):
        return "0" + value
    return None


def _nonempty(value: str) -> str | None:
    return value or None


def _trade_rows(
    frame: pl.DataFrame, ctx: _Ctx, hs_revision: str | None
) -> pl.DataFrame:
    country = _country("trade_flows")
    what = "a country (ISO3, ISO2, numeric trade code or name; no aggregates)"
    out = pl.DataFrame(
        {
            "year": _year(frame, ctx),
            "exporter": _mapped(frame, ctx, "exporter", country, what),
            "importer": _mapped(frame, ctx, "importer", country, what),
            "hs6": _mapped(frame, ctx, "hs6", _hs6, "a 6-digit HS code"),
        }
    )
    if hs_revision is not None:
        out = out.with_columns(hs_revision=pl.lit(hs_revision))
    else:
        hs = _mapped(
            frame, ctx, "hs_revision", hs_revision_name, "an HS revision such as HS2017"
        )
        out = out.with_columns(hs_revision=hs)
    out = out.with_columns(
        value_usd=_number(frame, ctx, "value_usd", required=True),
        quantity_t=(
            _number(frame, ctx, "quantity_t", required=False)
            if "quantity_t" in ctx.columns
            else pl.lit(None, dtype=pl.Float64)
        ),
    )
    keyed = out.select("year", "exporter", "importer", "hs6").with_row_index(_ROW)
    dup = keyed.filter(
        pl.int_range(pl.len()).over("year", "exporter", "importer", "hs6") > 0
    )
    if dup.height:
        first_dup = dup.row(0, named=True)
        same = keyed.filter(
            (pl.col("year") == first_dup["year"])
            & (pl.col("exporter") == first_dup["exporter"])
            & (pl.col("importer") == first_dup["importer"])
            & (pl.col("hs6") == first_dup["hs6"])
        )
        earlier = int(same[_ROW][0]) + ctx.row_offset
        raise ctx.fail(
            f"repeats the (year, exporter, importer, hs6) of row {earlier}",
            int(first_dup[_ROW]),
            "hs6",
        )
    return out


def _production_rows(frame: pl.DataFrame, ctx: _Ctx, edition: str) -> pl.DataFrame:
    country = _mapped(
        frame,
        ctx,
        "country",
        _country("production"),
        "a country (ISO3, ISO2, numeric trade code or name), WLD or XOT",
    )
    kind = (
        pl.when(country == countries.WORLD_TOTAL)
        .then(pl.lit("world_total"))
        .when(country == countries.OTHER_COUNTRIES)
        .then(pl.lit("other"))
        .otherwise(pl.lit("country"))
    )

    def low(value: str) -> str | None:
        return value.lower() or None

    def flag(value: str) -> str | None:
        v = value.lower()
        return "true" if v in _TRUE else "false" if v in _FALSE else None

    def status(value: str) -> str | None:
        return value.upper() if value.upper() in ("W", "NA") else None

    columns = ctx.columns

    def optional(
        name: str, convert: Callable[[str], str | None], what: str
    ) -> pl.Series | None:
        if name not in columns:
            return None
        text = _text(frame, columns[name])
        lookup = {v: convert(v) for v in text.unique().drop_nulls().to_list()}
        bad = _first(text.is_in([v for v, r in lookup.items() if r is None]))
        if bad is not None:
            raise ctx.fail(f"expected {what}, got {text[bad]!r}", bad, name)
        return text.replace_strict(lookup, return_dtype=pl.String, default=None)

    est = optional("is_estimate", flag, "true or false")
    stat = optional("status", status, "W, NA or an empty cell")
    typ = optional("type", _nonempty, "text")
    ed = optional("edition", _nonempty, "text")
    out = pl.DataFrame(
        {
            "year": _year(frame, ctx),
            "country": country,
            "commodity": _mapped(frame, ctx, "commodity", low, "a commodity name"),
            "stage": _mapped(frame, ctx, "stage", low, "a stage such as mine"),
            "quantity": _number(frame, ctx, "quantity", required=False),
            "unit": _mapped(frame, ctx, "unit", _nonempty, "a unit such as t"),
        }
    ).with_columns(
        edition=ed.fill_null(edition) if ed is not None else pl.lit(edition),
        type=typ if typ is not None else pl.lit(None, dtype=pl.String),
        is_estimate=(est == "true").fill_null(False)
        if est is not None
        else pl.lit(False),
        status=stat if stat is not None else pl.lit(None, dtype=pl.String),
        kind=kind,
    )
    return out


def parse_table(
    path: Path,
    *,
    target: str = "trade_flows",
    mapping: dict[str, str] | None = None,
    name: str | None = None,
    hs_revision: str | None = None,
) -> pl.DataFrame:
    """Validate one table file and return its canonical rows (no store involved)."""
    frame, offset = _read(path)
    if frame.height == 0:
        raise SourceFormatError(str(path), "no data rows")
    columns = _resolve_columns(
        frame, str(path), target, mapping or {}, hs_revision is not None
    )
    ctx = _Ctx(str(path), offset, columns)
    if target == "trade_flows":
        return _trade_rows(frame, ctx, hs_revision)
    return _production_rows(frame, ctx, name or path.stem)


def _check_options(
    mapping: dict[str, str], target: str, hs_revision: str | None
) -> str | None:
    """Validate loader options; the normalised HS revision option."""
    if target not in TARGETS:
        raise ParameterError(
            f"--target must be one of {', '.join(TARGETS)}, got {target!r}"
        )
    unknown = sorted(set(mapping) - set(COLUMNS[target]))
    if unknown:
        raise ParameterError(
            f"--map names unknown {target} column(s) {', '.join(unknown)}; "
            f"expected: {', '.join(COLUMNS[target])}"
        )
    if hs_revision is None:
        return None
    if target != "trade_flows":
        raise ParameterError("--hs-revision applies only to --target trade_flows")
    if "hs_revision" in mapping:
        raise ParameterError(
            "give either --hs-revision or --map hs_revision=…, not both"
        )
    hs = hs_revision_name(hs_revision)
    if hs is None:
        raise ParameterError(
            f"--hs-revision expects an HS revision such as HS2017, got {hs_revision!r}"
        )
    return hs


def load_table(
    store: Store,
    paths: list[Path],
    *,
    progress: ProgressFn = no_progress,
    mapping: dict[str, str] | None = None,
    name: str | None = None,
    hs_revision: str | None = None,
    target: str | None = None,
) -> list[LoadResult]:
    """Load CSV/Parquet tables through a column mapping into ``trade_flows`` or
    ``production`` (one load per file; see the module docstring for the rules)."""
    target = target or "trade_flows"
    mapping = dict(mapping or {})
    hs = _check_options(mapping, target, hs_revision)
    files = expand_paths(paths, (".csv", ".parquet", ".pq"), ".csv or .parquet")
    options = json.dumps(
        {"mapping": mapping, "name": name, "hs_revision": hs, "target": target},
        sort_keys=True,
    )
    results: list[LoadResult] = []
    for i, path in enumerate(files):
        progress(f"reading {path.name}", i, len(files))
        label = (name or path.stem).strip() or path.stem
        rows = parse_table(
            path, target=target, mapping=mapping, name=label, hs_revision=hs
        )

        def insert(
            w: Writer,
            load_id: int,
            rows: pl.DataFrame = rows,
            label: str = label,
        ) -> tuple[int, tuple[int, ...]]:
            # target is one of TARGETS (checked above)
            if target == "trade_flows":
                w.flow_rows(
                    rows.with_columns(pl.lit("table").alias("basis")),
                    source=f"table:{label}",
                )
            else:
                w.production_rows(rows, source=f"table:{label}")
            years = tuple(sorted(rows.get_column("year").unique().to_list()))
            return rows.height, years

        results.append(
            store.record_load(
                source=SOURCE,
                file_name=path.name,
                file_path=str(path),
                sha256=sha256_file(path),
                dataset_key=f"{path.name}:{target}",
                target=target,
                insert=insert,
                options=options,
            )
        )
    progress("done", len(files), len(files))
    return results
