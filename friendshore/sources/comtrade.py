"""UN Comtrade loader: API / Comtrade+ CSVs (and the legacy portal layout) → ``trade_flows``.

Layouts read
------------
* **v1** — the CSV the UN Comtrade API returns (``comtradeapicall``) and the
  Comtrade+ portal exports: ``typeCode, freqCode, refYear, reporterCode, flowCode,
  partnerCode, partner2Code, classificationCode, cmdCode, customsCode, mosCode,
  motCode, qty, netWgt, primaryValue, …``. Description columns may be empty (the API
  without descriptions) or filled (the portal); extra appended columns are ignored.
* **legacy** — the old comtrade.un.org export: ``Classification, Year, Period, Trade
  Flow Code, Reporter Code, Partner Code, Commodity Code, Netweight (kg), Trade Value
  (US$), …`` (flow codes 1 import, 2 export, 3 re-export, 4 re-import).

Rules (each skip is counted in ``LoadResult.notes``)
-----------------------------------------------------
* Annual goods data only: ``freqCode`` other than ``A`` (monthly) and ``typeCode``
  other than ``C`` (services) are skipped.
* Flows: ``M`` (import) gives importer = reporter, exporter = partner, basis
  ``import``; ``X`` (export) gives exporter = reporter, importer = partner, basis
  ``export``. Re-exports, re-imports and other flow codes are skipped.
* Only all-modes totals count: ``motCode`` 0, ``mosCode`` 0, ``customsCode`` C00,
  ``partner2Code`` 0 (an empty cell, as in legacy files, also means "total"). Some
  reporters publish per-transport-mode rows beside the total; summing them would
  double-count.
* Countries: numeric codes through :func:`friendshore.reference.countries.from_trade_code` (the
  ISO columns are often empty); an unknown code is an error. Aggregate reporters
  (EU-27, …) are skipped; aggregate partners (World, EU-27, "Areas, nes", …) are not
  suppliers.
* World remainder: where a reporter's World total (partner 0) for a (flow, year,
  commodity) exceeds the sum of its listed real partners by 0.5 USD or more, the
  remainder becomes one partner :data:`~friendshore.reference.countries.REST_OF_WORLD`
  (``XRW``), so shares stay honest when only some partners were downloaded. Its
  quantity is the World quantity minus the listed ones when all are known. A World
  total below the listed sum gives no remainder (noted).
* Commodity codes are text: 6-digit codes keep leading zeros; 4- and 2-digit codes
  are aggregates kept at their own level (never padded into fake HS6); ``TOTAL`` is
  skipped. ``classificationCode`` H0…H6 gives the HS revision (HS1992…HS2022).
* ``value_usd`` = ``primaryValue`` (US$). ``quantity_t`` = ``netWgt`` / 1000 (kg → t);
  Comtrade writes 0 or nothing when the weight is not reported, so a weight of 0
  falls back to ``qty`` when its unit is kilograms (``qtyUnitCode`` 8), else NULL.
* Bad input fails the whole file (nothing loaded) with file, line and column:
  unparsable numbers anywhere; unknown country codes, classifications and commodity
  codes in the rows that would load.
* Duplicates within one reporter's report (same flow, partner, year, commodity): a
  row in its original classification wins over a converted one; identical copies
  collapse; conflicting copies are an error.

Mirror rule (``prefer``)
------------------------
A flow (year, exporter, importer, commodity code) may be reported twice: by the
importer (basis ``import``) and by the exporter (basis ``export``). With
``prefer="imports"`` (the default; importers' CIF records are the usual choice) the
import-basis row is kept and the export-basis row only fills flows the importer did
not report (a mirror); ``prefer="exports"`` is the reverse. The rule holds within a
file and against Comtrade rows already in the store, inside the load's transaction: a
stored row of the less-preferred basis is deleted, and a new row is skipped when an
equal-or-more-preferred row is already stored. So the same flow in two files is
stored once. ``XRW`` remainder rows are never matched against mirrors (only an
identical ``XRW`` row from an earlier load, which is kept).

World totals are kept (DESIGN.md "Residual and unspecified areas"): an importer's
reported World total is never exceeded. Mirror rows into an importer that reports a
World total fill partners it did not list out of its unexplained remainder, scaled
down pro rata where they exceed it; the load's notes say how many were scaled. This
holds within one file (a World total and the mirrors into it arrive together in
Comtrade downloads); mirrors loaded from another file are not refitted. Rows
superseded in another load leave that load's ``loads.rows`` count as it was.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from friendshore.errors import SourceFormatError, UnknownNameError
from friendshore.progress import ProgressFn, no_progress
from friendshore.reference import countries
from friendshore.sources.csvfile import check_last_row, expand_paths, problem_row
from friendshore.store import LoadResult, Store, sha256_file
from friendshore.store.writes import Writer

SOURCE = "comtrade"
PREFER_CHOICES = ("imports", "exports")

# classificationCode → HS revision (WCO edition years).
HS_REVISIONS = {
    "H0": "HS1992",
    "H1": "HS1996",
    "H2": "HS2002",
    "H3": "HS2007",
    "H4": "HS2012",
    "H5": "HS2017",
    "H6": "HS2022",
}

# Differences below this many US$ between a World total and its listed partners are
# float noise in the published values, not an unlisted supplier.
REMAINDER_TOLERANCE_USD = 0.5

KG_UNIT_CODE = "8"  # Comtrade quantity unit code 8 = kilograms

# Canonical internal column → v1 (API / Comtrade+) column name.
_V1_REQUIRED = {
    "year": "refYear",
    "reporter": "reporterCode",
    "flow": "flowCode",
    "partner": "partnerCode",
    "classification": "classificationCode",
    "cmd": "cmdCode",
    "value": "primaryValue",
}
_V1_OPTIONAL = {
    "type": "typeCode",
    "freq": "freqCode",
    "period": "period",
    "partner2": "partner2Code",
    "customs": "customsCode",
    "mos": "mosCode",
    "mot": "motCode",
    "netwgt": "netWgt",
    "qty": "qty",
    "qty_unit": "qtyUnitCode",
    "original": "isOriginalClassification",
}
# Canonical column → legacy portal column name (matched ignoring case, spaces and
# punctuation, so ``TradeFlow Code`` and ``Netweightkg`` variants match too).
_LEGACY_REQUIRED = {
    "classification": "Classification",
    "year": "Year",
    "flow": "Trade Flow Code",
    "reporter": "Reporter Code",
    "partner": "Partner Code",
    "cmd": "Commodity Code",
    "value": "Trade Value (US$)",
}
_LEGACY_OPTIONAL = {
    "period": "Period",
    "partner2": "2nd Partner Code",
    "customs": "Customs Proc. Code",
    "mot": "Mode of Transport Code",
    "netwgt": "Netweight (kg)",
    "qty": "Qty",
    "qty_unit": "Qty Unit Code",
}
_LEGACY_FLOWS = {"1": "M", "2": "X", "3": "RX", "4": "RM"}

# The "all" code of each breakdown column; an empty cell also means "not broken down".
_TOTAL_CODES = {"partner2": "0", "customs": "C00", "mos": "0", "mot": "0"}
_BREAKDOWN_NAMES = {
    "partner2": "second partner",
    "customs": "customs procedure",
    "mos": "mode of supply",
    "mot": "transport mode",
}

_BASIS = {"M": "import", "X": "export"}

_OUT_SCHEMA = {
    "year": pl.Int16,
    "exporter": pl.String,
    "importer": pl.String,
    "hs6": pl.String,
    "hs_revision": pl.String,
    "value_usd": pl.Float64,
    "quantity_t": pl.Float64,
    "basis": pl.String,
}


@dataclass(frozen=True)
class ComtradeRows:
    """A parsed Comtrade file: ``trade_flows`` rows (without ``load_id``) and notes."""

    frame: pl.DataFrame
    notes: tuple[str, ...]


# -- public API -----------------------------------------------------------------------


def load_comtrade(
    store: Store,
    paths: list[Path],
    *,
    progress: ProgressFn = no_progress,
    prefer: str = "imports",
) -> list[LoadResult]:
    """Load UN Comtrade CSV files (or folders of them) into ``trade_flows``.

    Every file is parsed and checked before any is loaded, so a bad file loads
    nothing; each file is then one transaction (see :meth:`Store.record_load`).

    Parameters
    ----------
    store
        The open, writable store.
    paths
        CSV files, or folders whose ``*.csv`` files are loaded in name order.
    progress
        Progress callback (one step per file).
    prefer
        ``"imports"`` or ``"exports"``: which side's report wins when both report a
        flow (module docstring, "Mirror rule").
    """
    preferred = _preferred_basis(prefer)
    files = expand_paths(paths)
    total = float(len(files))
    prepared: list[tuple[Path, str, ComtradeRows | None]] = []
    for i, path in enumerate(files):
        progress("comtrade: reading files", float(i), total)
        sha = sha256_file(path)
        # Identical content already loaded: record_load will say "unchanged".
        parsed = None if store.find_load(SOURCE, sha) else read_comtrade(path, prefer)
        prepared.append((path, sha, parsed))
    results: list[LoadResult] = []
    for i, (path, sha, parsed) in enumerate(prepared):
        progress("comtrade: loading files", float(i), total)
        frame = parsed.frame if parsed else pl.DataFrame(schema=_OUT_SCHEMA)
        store_notes: list[str] = []

        def insert(
            w: Writer,
            load_id: int,
            frame: pl.DataFrame = frame,
            store_notes: list[str] = store_notes,
        ) -> tuple[int, tuple[int, ...]]:
            return _insert(w, frame, preferred, store_notes)

        result = store.record_load(
            source=SOURCE,
            file_name=path.name,
            file_path=str(path),
            sha256=sha,
            dataset_key=path.name,
            target="trade_flows",
            insert=insert,
            options=json.dumps({"prefer": prefer}),
        )
        if parsed is not None and result.status != "unchanged":
            notes = result.notes + parsed.notes + tuple(store_notes)
            result = replace(result, notes=notes)
        results.append(result)
    progress("comtrade: loading files", total, total)
    return results


def read_comtrade(path: Path, prefer: str = "imports") -> ComtradeRows:
    """Parse one Comtrade CSV into ``trade_flows`` rows (mirror rule applied within it).

    Raises
    ------
    SourceFormatError
        The file is empty, not a Comtrade file, misses required columns, or has an
        unparsable number, unknown country code, commodity code or classification
        (file, row — the 1-based line, header = 1 — and column).
    """
    preferred = _preferred_basis(prefer)
    file = str(path)
    raw, names = _read_normalised(path)
    notes: list[str] = []
    df = _parse(raw, names, file)
    df = _filter(df, notes)
    df = _map_countries(df, names, file)
    df = _dedupe_reports(df, file, names["value"], notes)
    df, import_totals = _orient(df, notes)
    frame = _mirror_within(df, preferred, notes)
    frame = _fit_to_world_totals(frame, import_totals, notes)
    rest = countries.REST_OF_WORLD
    n_rest = frame.filter((pl.col("exporter") == rest) | (pl.col("importer") == rest))
    if n_rest.height:
        notes.append(f"{n_rest.height} {rest} rows (World − listed partners)")
    return ComtradeRows(frame, tuple(notes))


# -- reading and checking --------------------------------------------------------------


def _preferred_basis(prefer: str) -> str:
    if prefer not in PREFER_CHOICES:
        raise UnknownNameError("--prefer value", prefer, list(PREFER_CHOICES))
    return "import" if prefer == "imports" else "export"


def _key(name: str) -> str:
    """Column-name key for the legacy layout: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _read_normalised(path: Path) -> tuple[pl.DataFrame, dict[str, str]]:
    """Read every column as text; rename to canonical names.

    Returns the frame (with ``line``, the file line of each record) and, per
    canonical column, the column name as the file spells it (for error messages).
    """
    file = str(path)
    if path.stat().st_size == 0:
        raise SourceFormatError(file, "empty file; expected a UN Comtrade CSV")
    try:
        raw = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except pl.exceptions.NoDataError:
        raise SourceFormatError(
            file, "empty file; expected a UN Comtrade CSV"
        ) from None
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SourceFormatError(
            file, f"cannot read as CSV: {first}", row=problem_row(path)
        ) from None
    raw = raw.rename({c: c.strip().lstrip("\ufeff").strip() for c in raw.columns})
    cols = set(raw.columns)

    if cols & set(_V1_REQUIRED.values()):
        required, optional, layout = _V1_REQUIRED, _V1_OPTIONAL, "API/Comtrade+"
        found = {c: c for c in raw.columns}
    else:
        by_key = {_key(c): c for c in raw.columns}
        legacy_keys = {_key(v) for v in _LEGACY_REQUIRED.values()}
        if not (set(by_key) & (legacy_keys - {"year", "classification"})):
            shown = ", ".join(raw.columns[:8]) + (" …" if raw.width > 8 else "")
            raise SourceFormatError(
                file,
                "not a UN Comtrade file: expected the API/Comtrade+ columns "
                f"({', '.join(_V1_REQUIRED.values())}) or the legacy portal columns "
                f"({', '.join(_LEGACY_REQUIRED.values())}); found {shown}",
            )
        required, optional, layout = _LEGACY_REQUIRED, _LEGACY_OPTIONAL, "legacy"
        found = {
            v: by_key[_key(v)]
            for v in (*required.values(), *optional.values())
            if _key(v) in by_key
        }

    missing = [v for v in required.values() if v not in found]
    if missing:
        raise SourceFormatError(
            file,
            f"missing required {layout} column(s): {', '.join(missing)}",
        )
    if raw.height == 0:
        raise SourceFormatError(file, "no records: the file has a header only")
    check_last_row(path, raw.width, raw.height)

    names: dict[str, str] = {}
    exprs: list[pl.Expr] = [
        pl.int_range(2, raw.height + 2, dtype=pl.Int64).alias("line")
    ]
    wanted = {**required, **optional}
    for canon in (*_V1_REQUIRED, *_V1_OPTIONAL):  # every canonical column, both layouts
        if wanted.get(canon) in found:
            names[canon] = found[wanted[canon]]
            exprs.append(pl.col(names[canon]).str.strip_chars().alias(canon))
        else:
            exprs.append(pl.lit(None, dtype=pl.String).alias(canon))
    df = raw.select(exprs)
    if layout == "legacy":
        df = df.with_columns(
            pl.col("flow").replace(_LEGACY_FLOWS),
            # Legacy periods: 2019 (annual) or 201901 (monthly); no freq column.
            pl.when(pl.col("period").str.len_chars() == 6)
            .then(pl.lit("M"))
            .otherwise(pl.lit("A"))
            .alias("freq"),
        )
    elif "freq" not in names:
        df = df.with_columns(
            pl.when(pl.col("period").str.len_chars() == 6)
            .then(pl.lit("M"))
            .otherwise(pl.lit("A"))
            .alias("freq")
        )
    return df, names


def _fail_first(
    df: pl.DataFrame, bad: pl.Series, file: str, column: str, message: str
) -> None:
    """Raise for the first row where ``bad`` is true (``{value}`` = the cell text)."""
    if bad.any():
        i = bad.arg_true()[0]
        row = df.row(i, named=True)
        raise SourceFormatError(
            file,
            message.format(value=row.get("_cell")),
            row=int(row["line"]),
            column=column,
        )


def _number(
    df: pl.DataFrame,
    canon: str,
    names: dict[str, str],
    file: str,
    *,
    dtype: pl.DataType | type[pl.DataType],
    required: bool,
    what: str,
) -> pl.Series:
    """Cast a text column with checks: the first bad cell names its row and column."""
    text = df[canon]
    parsed = text.cast(dtype, strict=False)
    bad = (text.is_not_null() & parsed.is_null()).fill_null(False)
    if dtype == pl.Float64:
        bad = bad | (parsed.is_not_null() & ~parsed.is_finite().fill_null(True))
        bad = bad | (parsed < 0).fill_null(False)
    probe = df.with_columns(text.alias("_cell"))
    column = names.get(canon, canon)
    _fail_first(probe, bad, file, column, f"expected {what}, got {{value!r}}")
    if required:
        _fail_first(
            probe, text.is_null(), file, column, f"expected {what}, got nothing"
        )
    return parsed


def _parse(df: pl.DataFrame, names: dict[str, str], file: str) -> pl.DataFrame:
    """Typed columns: year, reporter/partner codes, value, kg; codes checked."""
    for canon, what in (
        ("flow", "a flow code"),
        ("classification", "a classification code"),
        ("cmd", "a commodity code"),
    ):
        _fail_first(
            df, df[canon].is_null(), file, names[canon], f"expected {what}, got nothing"
        )
    year = _number(
        df, "year", names, file, dtype=pl.Int64, required=True, what="a year"
    )
    bad_year = (year < 1900) | (year > 2100)
    probe = df.with_columns(df["year"].alias("_cell"))
    _fail_first(probe, bad_year, file, names["year"], "expected a year, got {value!r}")
    reporter = _number(
        df,
        "reporter",
        names,
        file,
        dtype=pl.Int64,
        required=True,
        what="a country code",
    )
    partner = _number(
        df, "partner", names, file, dtype=pl.Int64, required=True, what="a country code"
    )
    value = _number(
        df,
        "value",
        names,
        file,
        dtype=pl.Float64,
        required=True,
        what="a US$ amount ≥ 0",
    )
    netwgt = _number(
        df,
        "netwgt",
        names,
        file,
        dtype=pl.Float64,
        required=False,
        what="a weight in kg ≥ 0",
    )
    qty = _number(
        df, "qty", names, file, dtype=pl.Float64, required=False, what="a quantity ≥ 0"
    )
    # Weight 0 or empty means "not reported"; fall back to qty when it is in kg.
    kg = (
        pl.when(pl.col("_netwgt") > 0)
        .then(pl.col("_netwgt"))
        .when((pl.col("qty_unit") == KG_UNIT_CODE) & (pl.col("_qty") > 0))
        .then(pl.col("_qty"))
        .otherwise(None)
    )
    df = df.with_columns(
        year.cast(pl.Int16).alias("year"),
        reporter.alias("reporter"),
        partner.alias("partner"),
        value.alias("value"),
        netwgt.alias("_netwgt"),
        qty.alias("_qty"),
        pl.col("flow").str.to_uppercase(),
        pl.col("classification").str.to_uppercase(),
    ).with_columns(kg.alias("kg"))
    return df.drop("_netwgt", "_qty")


def _filter(df: pl.DataFrame, notes: list[str]) -> pl.DataFrame:
    """Keep annual goods M/X totals; count what is skipped and why."""
    goods = pl.col("type").is_null() | (pl.col("type").str.to_uppercase() == "C")
    n = df.height
    df = df.filter(goods)
    if df.height < n:
        notes.append(f"{n - df.height} non-goods rows skipped")
    annual = pl.col("freq").is_null() | (pl.col("freq").str.to_uppercase() == "A")
    n = df.height
    df = df.filter(annual)
    if df.height < n:
        notes.append(f"{n - df.height} monthly rows skipped (annual only)")
    totals = pl.lit(True)
    for canon, code in _TOTAL_CODES.items():
        is_total = pl.col(canon).is_null() | (pl.col(canon).str.to_uppercase() == code)
        n_broken = df.filter(~is_total).height
        if n_broken:
            notes.append(
                f"{n_broken} rows by {_BREAKDOWN_NAMES[canon]} skipped (totals kept)"
            )
        totals = totals & is_total
    df = df.filter(totals)
    flows = Counter(df.filter(~pl.col("flow").is_in(list(_BASIS)))["flow"].to_list())
    if flows:
        shown = ", ".join(
            f"{n} {code or '(empty)'}"
            for code, n in sorted(flows.items(), key=lambda kv: str(kv[0]))
        )
        notes.append(f"{sum(flows.values())} other-flow rows skipped ({shown})")
    df = df.filter(pl.col("flow").is_in(list(_BASIS)))
    n = df.height
    df = df.filter(pl.col("cmd").str.to_uppercase() != "TOTAL")
    if df.height < n:
        notes.append(f"{n - df.height} TOTAL-commodity rows skipped")
    return df


def _map_countries(df: pl.DataFrame, names: dict[str, str], file: str) -> pl.DataFrame:
    """ISO3 codes for reporter and partner; unknown codes, HS codes, revisions fail."""
    for canon in ("reporter", "partner"):
        codes = df[canon].unique().to_list()
        unknown = {c for c in codes if countries.from_trade_code(c) is None}
        if unknown:
            bad = df[canon].is_in(sorted(unknown))
            probe = df.with_columns(df[canon].cast(pl.String).alias("_cell"))
            _fail_first(
                probe,
                bad,
                file,
                names[canon],
                "unknown UN Comtrade country code {value} (expected an M49/Comtrade "
                "reporter or partner code)",
            )
    iso = {
        c: countries.from_trade_code(c)
        for c in set(df["reporter"]) | set(df["partner"])
    }
    agg = {c: countries.is_aggregate_code(c) for c in iso}
    probe = df.with_columns(pl.col("classification").alias("_cell"))
    _fail_first(
        probe,
        ~df["classification"].is_in(list(HS_REVISIONS)).fill_null(False),
        file,
        names["classification"],
        "unknown classification {value!r}: expected an HS revision code H0–H6 "
        "('HS' as reported names no revision; download with a fixed one)",
    )
    cmd_ok = df["cmd"].str.contains(r"^(\d{2}|\d{4}|\d{6})$").fill_null(False)
    probe = df.with_columns(pl.col("cmd").alias("_cell"))
    _fail_first(
        probe,
        ~cmd_ok,
        file,
        names["cmd"],
        "expected an HS code of 2, 4 or 6 digits read as text, got {value!r} "
        "(a lost leading zero?)",
    )
    return df.with_columns(
        pl.col("reporter")
        .replace_strict(iso, return_dtype=pl.String)
        .alias("reporter_iso"),
        pl.col("partner")
        .replace_strict(iso, return_dtype=pl.String)
        .alias("partner_iso"),
        pl.col("reporter")
        .replace_strict(agg, return_dtype=pl.Boolean)
        .alias("reporter_agg"),
        pl.col("partner")
        .replace_strict(agg, return_dtype=pl.Boolean)
        .alias("partner_agg"),
        pl.col("classification").replace_strict(HS_REVISIONS).alias("hs_revision"),
    )


_REPORT_KEY = ["reporter_iso", "flow", "partner_iso", "year", "cmd"]


def _dedupe_reports(
    df: pl.DataFrame, file: str, value_column: str, notes: list[str]
) -> pl.DataFrame:
    """One row per reporter, flow, partner, year and commodity.

    Aggregate reporters are dropped. Original-classification rows win over converted
    ones; identical copies collapse; conflicting copies are an error.
    """
    agg_reporters = df.filter(pl.col("reporter_agg"))
    if agg_reporters.height:
        shown = ", ".join(sorted(set(agg_reporters["reporter_iso"])))
        notes.append(
            f"{agg_reporters.height} aggregate-reporter rows ({shown}) skipped"
        )
        df = df.filter(~pl.col("reporter_agg"))
    n = df.height
    is_orig = pl.col("original").str.to_lowercase().is_in(["true", "1"])
    df = df.with_columns(is_orig.fill_null(True).alias("_orig"))
    df = df.filter(pl.col("_orig") == pl.col("_orig").max().over(_REPORT_KEY))
    if df.height < n:
        notes.append(f"{n - df.height} converted-classification rows skipped")
    n = df.height
    df = df.unique(
        subset=[*_REPORT_KEY, "value", "kg"], keep="first", maintain_order=True
    )
    if df.height < n:
        notes.append(f"{n - df.height} duplicate rows skipped")
    dup = df.filter(pl.len().over(_REPORT_KEY) > 1).sort("line")
    if dup.height:
        first = dup.row(0, named=True)
        same = pl.all_horizontal(pl.col(k) == first[k] for k in _REPORT_KEY)
        other = dup.filter(same & (pl.col("line") != first["line"]))["line"][0]
        raise SourceFormatError(
            file,
            f"conflicting duplicate of row {first['line']}: reporter "
            f"{first['reporter_iso']}, flow {first['flow']}, partner "
            f"{first['partner_iso']}, {first['year']}, {first['cmd']}",
            row=int(other),
            column=value_column,
        )
    return df.drop("_orig")


_GROUP = ["reporter_iso", "flow", "year", "cmd"]


def _orient(df: pl.DataFrame, notes: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Exporter/importer/basis rows for real partners plus the World remainders.

    Also returns the importers' own World totals (``year, importer, hs6,
    world_usd, world_kg, hs_revision``): :func:`_fit_to_world_totals` keeps them.
    """
    real = df.filter(~pl.col("partner_agg"))
    n_agg = df.filter(pl.col("partner_agg") & (pl.col("partner") != 0)).height
    if n_agg:
        notes.append(
            f"{n_agg} aggregate-partner rows not suppliers (left in "
            f"{countries.REST_OF_WORLD})"
        )
    listed = real.group_by(_GROUP).agg(
        pl.col("value").sum().alias("listed_value"),
        pl.col("kg").sum().alias("listed_kg"),
        pl.col("kg").null_count().alias("listed_kg_missing"),
    )
    world = df.filter(pl.col("partner") == countries.WORLD_CODE).join(
        listed, on=_GROUP, how="left"
    )
    world = world.with_columns(
        (pl.col("value") - pl.col("listed_value").fill_null(0.0)).alias("rest")
    )
    below = world.filter(pl.col("rest") <= -REMAINDER_TOLERANCE_USD).height
    if below:
        notes.append(
            f"{below} World totals below listed partners: no {countries.REST_OF_WORLD}"
        )
    rest_kg = pl.col("kg") - pl.col("listed_kg").fill_null(0.0)
    kg_known = pl.col("listed_kg_missing").fill_null(0) == 0
    remainder = world.filter(pl.col("rest") >= REMAINDER_TOLERANCE_USD).with_columns(
        pl.lit(countries.REST_OF_WORLD).alias("partner_iso"),
        pl.col("rest").alias("value"),
        pl.when(kg_known & (rest_kg > 0)).then(rest_kg).otherwise(None).alias("kg"),
    )
    cols = ["year", "reporter_iso", "partner_iso", "flow", "cmd", "hs_revision"]
    both = pl.concat(
        [real.select(*cols, "value", "kg"), remainder.select(*cols, "value", "kg")]
    )
    is_import = pl.col("flow") == "M"
    import_totals = world.filter(is_import).select(
        pl.col("year").cast(pl.Int16),
        pl.col("reporter_iso").alias("importer"),
        pl.col("cmd").alias("hs6"),
        pl.col("value").alias("world_usd"),
        pl.col("kg").alias("world_kg"),
        pl.col("hs_revision"),
    )
    rows = both.select(
        pl.col("year").cast(pl.Int16),
        pl.when(is_import)
        .then("partner_iso")
        .otherwise("reporter_iso")
        .alias("exporter"),
        pl.when(is_import)
        .then("reporter_iso")
        .otherwise("partner_iso")
        .alias("importer"),
        pl.col("cmd").alias("hs6"),
        pl.col("hs_revision"),
        pl.col("value").alias("value_usd"),
        (pl.col("kg") / 1000.0).alias("quantity_t"),  # kg → metric tonnes
        pl.col("flow").replace_strict(_BASIS).alias("basis"),
    )
    return rows, import_totals


_FLOW_KEY = ["year", "exporter", "importer", "hs6"]


def _mirror_within(df: pl.DataFrame, preferred: str, notes: list[str]) -> pl.DataFrame:
    """Keep one row per flow: the preferred basis, the other side as a mirror."""
    rank = pl.when(pl.col("basis") == preferred).then(0).otherwise(1)
    n = df.height
    out = (
        df.with_columns(rank.alias("_rank"))
        .sort([*_FLOW_KEY, "_rank"])
        .unique(subset=_FLOW_KEY, keep="first", maintain_order=True)
        .drop("_rank")
    )
    if out.height < n:
        notes.append(f"{n - out.height} two-sided flows: {preferred} side kept")
    return out.cast(_OUT_SCHEMA)  # type: ignore[arg-type]


def _fit_to_world_totals(
    df: pl.DataFrame, totals: pl.DataFrame, notes: list[str]
) -> pl.DataFrame:
    """Keep every importer's reported World total: mirrors fill its remainder.

    For an importer that reports a World total W of a (year, code), its own
    partner rows (basis ``import``) stay as reported; the exporter-reported rows
    into it (basis ``export``: partners it did not list, or, with
    ``prefer="exports"``, the side preferred) are carved out of W − Σ own rows
    instead of being added on top of the remainder, which already holds them.
    Where they exceed that room they are scaled down pro rata (quantities too, so
    unit values stay); what is left is the ``XRW`` remainder (dropped below
    :data:`REMAINDER_TOLERANCE_USD`). Without this, China's 2021 imports of
    253090 came to 2.88 bn against its own World total of 1.72 bn.
    """
    if totals.height == 0:
        return df
    keys = ["year", "importer", "hs6"]
    rest = pl.col("exporter") == countries.REST_OF_WORLD
    own = (pl.col("basis") == "import") & ~rest
    mirror = pl.col("basis") == "export"
    sums = (
        df.join(totals.select(keys), on=keys, how="semi")
        .group_by(keys)
        .agg(
            pl.col("value_usd").filter(own).sum().alias("own_usd"),
            pl.col("quantity_t").filter(own).sum().alias("own_t"),
            pl.col("quantity_t").filter(own).null_count().alias("own_t_missing"),
            pl.col("value_usd").filter(mirror).sum().alias("mirror_usd"),
            mirror.sum().alias("n_mirror"),
        )
    )
    fit = totals.join(sums, on=keys, how="left").with_columns(
        (pl.col("world_usd") - pl.col("own_usd").fill_null(0.0)).alias("room"),
        pl.col("mirror_usd").fill_null(0.0),
        pl.col("n_mirror").fill_null(0),
    )
    fit = fit.with_columns(
        pl.when((pl.col("mirror_usd") > 0) & (pl.col("mirror_usd") > pl.col("room")))
        .then(pl.col("room").clip(lower_bound=0.0) / pl.col("mirror_usd"))
        .otherwise(1.0)
        .alias("scale")
    )
    scaled = fit.filter(pl.col("scale") < 1.0)
    n_scaled = int(scaled["n_mirror"].sum())
    if n_scaled:
        notes.append(
            f"{n_scaled} mirror rows scaled down to fit the importer's World total "
            f"({scaled.height} totals)"
        )
    in_fit = df.join(fit.select(*keys, "scale"), on=keys, how="left")
    is_mirror = mirror & pl.col("scale").is_not_null()
    kept = in_fit.filter(~(rest & pl.col("scale").is_not_null())).with_columns(
        pl.when(is_mirror)
        .then(pl.col(c) * pl.col("scale"))
        .otherwise(pl.col(c))
        .alias(c)
        for c in ("value_usd", "quantity_t")
    )
    kept = kept.filter(~is_mirror | (pl.col("value_usd") > 0)).drop("scale")
    # The new remainder: W − own rows − the (scaled) mirrors, with its quantity
    # where every part of it is known.
    mirror_t = (
        kept.join(fit.select(keys), on=keys, how="semi")
        .group_by(keys)
        .agg(
            pl.col("quantity_t").filter(mirror).sum().alias("mirror_t"),
            pl.col("quantity_t").filter(mirror).null_count().alias("mirror_t_missing"),
        )
    )
    value = pl.col("room") - pl.col("mirror_usd") * pl.col("scale")
    tonnes = (
        pl.col("world_kg") / 1000.0
        - pl.col("own_t").fill_null(0.0)
        - pl.col("mirror_t").fill_null(0.0)
    )
    known = (
        pl.col("world_kg").is_not_null()
        & (pl.col("own_t_missing").fill_null(0) == 0)
        & (pl.col("mirror_t_missing").fill_null(0) == 0)
    )
    remainder = (
        fit.join(mirror_t, on=keys, how="left")
        .filter(value >= REMAINDER_TOLERANCE_USD)
        .select(
            pl.col("year"),
            pl.lit(countries.REST_OF_WORLD).alias("exporter"),
            pl.col("importer"),
            pl.col("hs6"),
            value.alias("value_usd"),
            pl.when(known & (tonnes > 0)).then(tonnes).alias("quantity_t"),
            pl.lit("import").alias("basis"),
            pl.col("hs_revision"),
        )
    )
    return pl.concat([kept, remainder.select(kept.columns)]).cast(_OUT_SCHEMA)  # type: ignore[arg-type]


# -- writing ------------------------------------------------------------------------


def _insert(
    w: Writer, frame: pl.DataFrame, preferred: str, notes: list[str]
) -> tuple[int, tuple[int, ...]]:
    """Write the rows, applying the mirror rule against stored Comtrade rows."""
    years = tuple(sorted(set(frame["year"].to_list())))
    if frame.height == 0:
        return 0, years
    inserted, superseded = w.comtrade_rows(frame, preferred)
    skipped = frame.height - int(inserted)
    if skipped:
        notes.append(f"{skipped} flows already stored (same or preferred side)")
    if superseded:
        notes.append(f"{superseded} stored {_other(preferred)}-side rows replaced")
    return int(inserted), years


def _other(basis: str) -> str:
    return "export" if basis == "import" else "import"
