"""USGS Mineral Commodity Summaries (MCS) world production tables → ``production``.

Reads the layouts USGS has published (see the shared real-data SOURCES.md §1–2):

* **wide, one file per commodity** (MCS2022–MCS2024): ``Source,Country,Type,`` then
  production columns ``Prod_<unit>_<year>`` / ``Prod_<unit>_est_<year>`` (``Est``
  in MCS2022, an optional qualifier as in ``Prod_Sponge_t_Est_2022``), notes,
  reserves or capacity columns, trailing empty columns and rows, CRLF, UTF-8 BOM.
  The commodity comes from the USGS file code (``mcs2024-raree_world.csv`` →
  ``raree`` → "rare earths", :data:`COMMODITIES`); a prefix added by a re-publisher
  (``rare_earths_mcs2022-raree_world.csv``) is ignored.
* **long, one file for all commodities** (MCS2025): ``SOURCE,COMMODITY,COUNTRY,TYPE,
  UNIT_MEAS,PROD_2023,PROD_EST_ 2024,…`` (the space inside ``PROD_EST_ 2024`` is
  USGS's). The commodity is the trimmed, lower-cased ``COMMODITY`` (typo
  ``Gemanium`` → germanium); the unit comes from ``UNIT_MEAS``.

What is stored: **production only**, one row per country × production column with a
published cell. Capacity (``Cap_*``/``CAP_*``) and reserves columns are not stored,
nor are rows whose ``Type`` names a capacity but no production (MCS2023 cement
"Clinker capacity" sits in the ``Prod_*`` columns). A capacity-only file (MCS
abrasives) loads as zero rows with a note. Empty production cells *are* stored, as
quantity NULL with status NULL ("listed, no figure published"): MCS2025 leaves
empty the cells MCS2024 filled with 0, W or NA (all of germanium), and a row per
listed country keeps such a table visible instead of silently absent. Queries
summing production skip NULLs either way.

Cell values (every token found in the MCS2022–2025 world files; anything else is a
:class:`SourceFormatError` naming the row and column):

* numbers, also quoted with thousands separators (``"1,100,000"``), padded with
  spaces or no-break spaces, or prefixed with USGS's estimate mark ``e``
  (``e24,000``, sand and gravel 2024) → quantity; the ``e`` sets ``is_estimate``;
* ``W`` (withheld to avoid disclosing company data) → NULL, status ``'W'``;
* ``NA`` (not available) → NULL, status ``'NA'``;
* no number published → NULL, status ``'NA'``: ``XX`` (USGS "not applicable", boron
  world total), ``<100`` (zirconium, an upper bound), ``Less than ½ unit.`` (rounds
  to zero) and ``Included with ilmenite`` (counted in another row; NULL avoids
  counting it twice).

``is_estimate`` is true for ``est``/``Est`` columns and ``e``-marked cells. Units are
the short codes of :data:`UNITS` (``Prod_kt_…``, ``UNIT_MEAS`` "thousand metric
tons" → ``kt``); an unknown unit is kept verbatim.

Countries: the name is tried as published, then without footnote marks glued to it
(``Japane``, ``Other countries4``, ``World total (rounded) 10``; the trailing ``e``
is only dropped when the exact name is unknown, so ``Ukraine`` stays Ukraine), then
without a qualifier (``India (ocher)``, ``Bolivia, ulexite`` → the country; the
row's Type says what was measured). No-break spaces count as spaces. ``Other
countries…``/``Other`` → ``XOT`` (kind ``other``, one unspecified producer);
``World total…`` → ``WLD`` (kind ``world_total``: the published, rounded total, kept
beside the listed countries and never counted as one).

Stage (:func:`stage_of`) is derived from the Type text; the published Type is kept
in ``type``. Vocabulary: ``mine`` (mine output, ores, concentrates), ``smelter``
(primary metal from smelters: aluminum, magnesium), ``refinery`` (refined metal or
chemical; gallium "Primary production" is primary low-purity gallium, a refining
stage recovered from alumina/zinc process liquors), ``plant`` (plant output:
chemicals, cement, silicon, pig iron and steel, synthetic products, titanium
sponge) and ``production`` (no stage stated or several stages summed, e.g. "boron
total all types").
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from friendshore.errors import SourceFormatError
from friendshore.progress import ProgressFn, no_progress
from friendshore.reference import countries
from friendshore.sources.csvfile import expand_paths
from friendshore.store import LoadResult, Store, sha256_file
from friendshore.store.writes import Writer

SOURCE = "usgs"

# USGS MCS data-release file codes → commodity names: the MCS chapter titles,
# lower case (U.S. Geological Survey, Mineral Commodity Summaries 2024, table of
# contents; doi:10.3133/mcs2024). Defense-relevant names are fixed by the
# industry map, which keys on them.
COMMODITIES: dict[str, str] = {
    "abras": "abrasives (manufactured)",
    "alumi": "aluminum",
    "antim": "antimony",
    "arsen": "arsenic",
    "asbes": "asbestos",
    "barit": "barite",
    "bauxi": "bauxite and alumina",
    "beryl": "beryllium",
    "bismu": "bismuth",
    "boron": "boron",
    "bromi": "bromine",
    "cadmi": "cadmium",
    "cemen": "cement",
    "chrom": "chromium",
    "clays": "clays",
    "cobal": "cobalt",
    "coppe": "copper",
    "diamo": "diamond (industrial)",
    "diato": "diatomite",
    "felds": "feldspar and nepheline syenite",
    "feore": "iron ore",
    "fepig": "iron oxide pigments",
    "feste": "iron and steel",
    "fluor": "fluorspar",
    "galli": "gallium",
    "garne": "garnet (industrial)",
    "gemst": "gemstones",
    "germa": "germanium",
    "gold": "gold",
    "graph": "graphite",
    "gypsu": "gypsum",
    "heliu": "helium",
    "indiu": "indium",
    "iodin": "iodine",
    "kyani": "kyanite and related minerals",
    "lead": "lead",
    "lime": "lime",
    "lithi": "lithium",
    "manga": "manganese",
    "mercu": "mercury",
    "mgcomp": "magnesium compounds",
    "mgmet": "magnesium metal",
    "mica": "mica (natural)",
    "molyb": "molybdenum",
    "nicke": "nickel",
    "niobi": "niobium",
    "nitro": "nitrogen (fixed)-ammonia",
    "peat": "peat",
    "perli": "perlite",
    "phosp": "phosphate rock",
    "plati": "platinum-group metals",
    "potas": "potash",
    "pumic": "pumice and pumicite",
    "raree": "rare earths",
    "rheni": "rhenium",
    "salt": "salt",
    "sandi": "sand and gravel (industrial)",
    "selen": "selenium",
    "silve": "silver",
    "simet": "silicon",
    "sodaa": "soda ash",
    "stond": "stone (dimension)",
    "stron": "strontium",
    "sulfu": "sulfur",
    "talc": "talc and pyrophyllite",
    "tanta": "tantalum",
    "tellu": "tellurium",
    "timin": "titanium mineral concentrates",
    "tin": "tin",
    "titan": "titanium and titanium dioxide",
    "tungs": "tungsten",
    "vanad": "vanadium",
    "vermi": "vermiculite",
    "wolla": "wollastonite",
    "yttri": "yttrium",
    "zeoli": "zeolites (natural)",
    "zinc": "zinc",
    "zirco": "zirconium and hafnium",
    "zirco-hafni": "zirconium and hafnium",
}

# Misspellings in USGS's own COMMODITY column (MCS2025).
COMMODITY_TYPOS = {"gemanium": "germanium"}

# Unit tokens of the Prod_<unit>_ columns and MCS2025 UNIT_MEAS texts → short codes.
UNITS: dict[str, str] = {
    "t": "t",  # metric tons
    "kg": "kg",
    "kt": "kt",  # thousand metric tons
    "Mt": "Mt",  # million metric tons (MCS2023 iron and steel)
    "mmt": "Mt",  # million metric tons (MCS2024 iron ore, iron and steel)
    "mct": "Mct",  # million carats (industrial diamond)
    "kct": "kct",  # thousand carats (gem diamond)
    "mcm": "Mm3",  # million cubic meters (helium)
    "metric tons": "t",
    "kilograms": "kg",
    "thousand metric tons": "kt",
    "million metric tons": "Mt",
    "million carats": "Mct",
    "thousand carats": "kct",
    "million cubic meters": "Mm3",
}

# Cell tokens that publish no number → status (see the module docstring).
_STATUS_TOKENS = {
    "w": "W",
    "na": "NA",
    "xx": "NA",
    "<100": "NA",
    "less than ½ unit.": "NA",
    "included with ilmenite": "NA",
}

# Stage rules, first match wins, on the lower-cased Type text (USGS typos included:
# "Mne production", "Mine poduction").
_STAGE_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"natural and synthetic|all types|all forms"), "production"),
    (re.compile(r"smelter"), "smelter"),
    (
        re.compile(r"\bplant\b|cement|clinker|pig iron|raw steel|synthetic|sponge"),
        "plant",
    ),
    (re.compile(r"refinery|refined|^primary production"), "refinery"),
    (
        re.compile(r"\bmine\b|\bmne\b|\bores?\b|crude|ulexite|concentrates?"),
        "mine",
    ),
]

_FILE_RE = re.compile(r"mcs(\d{4})-([a-z]+(?:-[a-z]+)*)_world", re.IGNORECASE)
_EDITION_RE = re.compile(r"MCS\d{4}")
_NUMBER_RE = re.compile(r"(e)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")
_FOOTNOTE_RE = re.compile(r"\s*\d+$")
_QUALIFIER_RE = re.compile(r"\s*(\([^)]*\)|,[^,]*)$")

_COLUMNS = (
    "year",
    "country",
    "commodity",
    "stage",
    "quantity",
    "unit",
    "edition",
    "type",
    "is_estimate",
    "status",
    "kind",
)
_SCHEMA = pa.schema(
    [
        ("year", pa.int16()),
        ("country", pa.string()),
        ("commodity", pa.string()),
        ("stage", pa.string()),
        ("quantity", pa.float64()),
        ("unit", pa.string()),
        ("edition", pa.string()),
        ("type", pa.string()),
        ("is_estimate", pa.bool_()),
        ("status", pa.string()),
        ("kind", pa.string()),
    ]
)


# One production row, in the order of _COLUMNS.
Row = tuple[
    int, str, str, str, float | None, str, str, str | None, bool, str | None, str
]
InsertFn = Callable[[Writer, int], tuple[int, tuple[int, ...]]]


@dataclass(frozen=True)
class _ProdColumn:
    """One production column: where it is and what its header says."""

    index: int
    header: str
    year: int
    unit: str | None  # None: the row's UNIT_MEAS (MCS2025)
    is_estimate: bool


@dataclass
class ParsedFile:
    """Rows of one USGS file, ready to insert (columns of :data:`_COLUMNS`)."""

    path: Path
    rows: list[Row]
    notes: list[str]

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted({r[0] for r in self.rows}))


def stage_of(type_text: str) -> str:
    """The production stage a USGS Type text names (vocabulary in the module doc)."""
    text = " ".join(type_text.replace("\u00a0", " ").split()).lower()
    for pattern, stage in _STAGE_RULES:
        if pattern.search(text):
            return stage
    return "production"


def _clean(text: str) -> str:
    """Collapse whitespace, no-break spaces included."""
    return " ".join(text.replace("\u00a0", " ").split())


def _footnote_variants(name: str) -> Iterator[str]:
    """The name, then without glued footnote digits, then without a trailing 'e'."""
    yield name
    bare = _FOOTNOTE_RE.sub("", name)
    if bare != name:
        yield bare
    if bare.endswith("e"):
        yield bare[:-1]


def resolve_country(name: str) -> tuple[str, str] | None:
    """(ISO3 or XOT/WLD, kind) for a USGS country cell; None when unknown."""
    text = _clean(name)
    low = text.lower()
    if low.startswith("world total"):
        return countries.WORLD_TOTAL, "world_total"
    if low == "other" or low.startswith("other countries"):
        return countries.OTHER_COUNTRIES, "other"
    if not text:
        return None
    for candidate in _footnote_variants(text):
        iso3 = countries.from_name(candidate)
        if iso3:
            return iso3, "country"
    for candidate in _footnote_variants(text):
        bare = _QUALIFIER_RE.sub("", candidate)
        if bare and bare != candidate:
            for variant in _footnote_variants(bare):
                iso3 = countries.from_name(variant)
                if iso3:
                    return iso3, "country"
    return None


def _parse_value(
    raw: str, file: str, line: int, column: str
) -> tuple[float | None, str | None, bool]:
    """(quantity, status, estimate mark) of a cell (empty: no quantity, no status)."""
    text = _clean(raw)
    if not text:
        return None, None, False
    status = _STATUS_TOKENS.get(text.lower())
    if status:
        return None, status, False
    m = _NUMBER_RE.fullmatch(text)
    if not m:
        raise SourceFormatError(
            file,
            f"expected a number, W or NA, got {raw.strip()!r}",
            row=line,
            column=column,
        )
    value = float(m.group(2).replace(",", "") + (m.group(3) or ""))
    if not math.isfinite(value):  # a digit string beyond 1.8e308 parses as inf
        raise SourceFormatError(
            file,
            f"expected a finite number, got {raw.strip()!r}",
            row=line,
            column=column,
        )
    return value, None, bool(m.group(1))


def _norm_header(h: str) -> str:
    return re.sub(r"\s+", "", h.replace("\u00a0", " ")).lower()


def _prod_column(index: int, header: str, file: str) -> _ProdColumn | None:
    """Parse ``Prod_<qualifier>_<unit>_[est_]<year>`` or ``PROD_[EST_]<year>``."""
    compact = re.sub(r"\s+", "", header.replace("\u00a0", " "))
    parts = compact.split("_")
    if parts[0].lower() != "prod" or len(parts) < 2:
        return None
    if parts[1].lower().startswith("note"):
        return None
    if not re.fullmatch(r"\d{4}", parts[-1]):
        raise SourceFormatError(
            file,
            "unrecognised production column; expected Prod_<unit>_[est_]<year>",
            row=1,
            column=header,
        )
    middle = parts[1:-1]
    est = bool(middle) and middle[-1].lower() == "est"
    if est:
        middle = middle[:-1]
    unit = UNITS.get(middle[-1], middle[-1]) if middle else None
    return _ProdColumn(index, header, int(parts[-1]), unit, est)


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every CSV record; header is line 1."""
    raw = path.read_bytes()
    if not raw.strip():
        raise SourceFormatError(str(path), "empty file; expected a USGS MCS table")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # USGS's original MCS2025 file is Windows-1252 (SOURCES.md §2).
        text = raw.decode("cp1252", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    out: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            out.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise SourceFormatError(
            str(path), f"not a readable CSV: {exc}", row=reader.line_num
        ) from None
    if not out:  # nothing but a byte-order mark
        raise SourceFormatError(str(path), "empty file; expected a USGS MCS table")
    return out


def _find(headers: list[str], name: str) -> int | None:
    for i, h in enumerate(headers):
        if _norm_header(h) == name:
            return i
    return None


def parse_file(path: Path) -> ParsedFile:
    """Parse one USGS MCS world file into production rows (no store involved)."""
    file = str(path)
    records = _read_rows(path)
    headers = [h.strip() for h in records[0][1]]
    i_source = _find(headers, "source")
    i_country = _find(headers, "country")
    i_type = _find(headers, "type")
    i_commodity = _find(headers, "commodity")
    i_unit = _find(headers, "unit_meas")
    data = [(n, cells) for n, cells in records[1:] if any(c.strip() for c in cells)]
    if i_type is None and i_country is not None and len(headers) > i_country + 1:
        # mcs2024-fluor names its Type column by the Type text every row repeats.
        j = i_country + 1
        cand = headers[j]
        if cand and all(
            _clean(c[j] if j < len(c) else "") == _clean(cand) for _, c in data
        ):
            i_type = j
    missing = [
        name
        for name, i in (("Source", i_source), ("Country", i_country), ("Type", i_type))
        if i is None
    ]
    if missing:
        cols = ", ".join(repr(m) for m in missing)
        raise SourceFormatError(
            file,
            f"not a USGS MCS world table: missing column(s) {cols}",
            row=1,
        )
    assert i_source is not None and i_country is not None and i_type is not None
    prod = [c for i, h in enumerate(headers) if (c := _prod_column(i, h, file))]
    long_format = i_commodity is not None
    if long_format and i_unit is None:
        raise SourceFormatError(
            file, "MCS2025 layout without a 'UNIT_MEAS' column", row=1
        )
    if not prod:
        if any(_norm_header(h).startswith("cap_") for h in headers):
            return ParsedFile(
                path, [], ["capacity only: capacity is not stored, no rows loaded"]
            )
        raise SourceFormatError(
            file,
            "no production columns; expected Prod_<unit>_<year> or PROD_<year>",
            row=1,
        )
    file_edition, file_commodity = _from_file_name(path, long_format)

    rows: list[Row] = []
    skipped_capacity = 0
    for line, cells in data:
        if len(cells) < len(headers):
            # No published MCS file has a short row (all 2022-2025 world files
            # checked): one means a cut-off download, whose last number may be cut too.
            raise SourceFormatError(
                file,
                f"the row has {len(cells)} of the header's {len(headers)} fields; "
                "the file looks truncated (download it again)",
                row=line,
            )
        type_text = cells[i_type].strip()
        low_type = type_text.lower()
        if "capacity" in low_type and "production" not in low_type:
            skipped_capacity += 1
            continue
        values = [
            (col, _parse_value(cells[col.index], file, line, col.header))
            for col in prod
        ]
        edition = _edition(cells[i_source], file_edition, file, line, headers[i_source])
        where = resolve_country(cells[i_country])
        if where is None:
            raise SourceFormatError(
                file,
                f"unknown country {cells[i_country].strip()!r}",
                row=line,
                column=headers[i_country],
            )
        if long_format:
            assert i_commodity is not None and i_unit is not None
            commodity = _clean(cells[i_commodity]).lower()
            commodity = COMMODITY_TYPOS.get(commodity, commodity)
            if not commodity:
                raise SourceFormatError(
                    file, "empty commodity", row=line, column=headers[i_commodity]
                )
            unit_text = _clean(cells[i_unit])
            if not unit_text:
                raise SourceFormatError(
                    file, "empty unit", row=line, column=headers[i_unit]
                )
        else:
            commodity = file_commodity or ""
            unit_text = ""
        stage = stage_of(type_text)
        for col, (quantity, status, est_mark) in values:
            unit = col.unit or UNITS.get(unit_text.lower(), unit_text)
            rows.append(
                (
                    col.year,
                    where[0],
                    commodity,
                    stage,
                    quantity,
                    unit,
                    edition,
                    type_text or None,
                    col.is_estimate or est_mark,
                    status,
                    where[1],
                )
            )
    notes = []
    if skipped_capacity:
        notes.append(f"{skipped_capacity} capacity rows not stored")
    return ParsedFile(path, rows, notes)


def _from_file_name(path: Path, long_format: bool) -> tuple[str | None, str | None]:
    """(edition, commodity) named by a USGS file name such as mcs2024-raree_world."""
    m = _FILE_RE.search(path.name)
    if long_format:
        year = re.search(r"MCS(\d{4})", path.name, re.IGNORECASE)
        return (f"MCS{year.group(1)}" if year else None), None
    if not m:
        raise SourceFormatError(
            str(path),
            "cannot tell the commodity: expected a USGS file name such as "
            "mcs2024-raree_world.csv",
        )
    code = m.group(2).lower()
    if code not in COMMODITIES:
        raise SourceFormatError(
            str(path),
            f"unknown USGS commodity code {code!r} in the file name",
        )
    return f"MCS{m.group(1)}", COMMODITIES[code]


def _edition(cell: str, fallback: str | None, file: str, line: int, column: str) -> str:
    """'MCS2024' from the Source cell ('MCS 2024' too); the file's when empty."""
    text = re.sub(r"\s+", "", cell.replace("\u00a0", " ")).upper()
    if not text and fallback:
        return fallback
    if not _EDITION_RE.fullmatch(text):
        raise SourceFormatError(
            file,
            f"expected an MCS edition such as MCS2024, got {cell!r}",
            row=line,
            column=column,
        )
    return text


def _inserter(parsed: ParsedFile) -> InsertFn:
    def insert(w: Writer, load_id: int) -> tuple[int, tuple[int, ...]]:
        columns: list[Any] = list(zip(*parsed.rows, strict=True))
        columns = columns or [[] for _ in _COLUMNS]
        table = pa.table(
            {
                name: pa.array(col, type=_SCHEMA.field(name).type)
                for name, col in zip(_COLUMNS, columns, strict=True)
            },
            schema=_SCHEMA,
        )
        w.production_rows(table, source=SOURCE)
        return len(parsed.rows), parsed.years

    return insert


def load_usgs(
    store: Store, paths: list[Path], *, progress: ProgressFn = no_progress
) -> list[LoadResult]:
    """Load USGS MCS world files (or folders of them) into ``production``.

    Every file is parsed before any is loaded, so a bad file leaves the store
    untouched; each file is then one load (one transaction) keyed by its name.
    """
    files = expand_paths(paths)
    parsed = []
    for i, path in enumerate(files):
        progress(f"reading {path.name}", i, len(files))
        parsed.append(parse_file(path))
    results = []
    for i, pf in enumerate(parsed):
        progress(f"loading {pf.path.name}", i, len(parsed))
        result = store.record_load(
            source=SOURCE,
            file_name=pf.path.name,
            file_path=str(pf.path),
            sha256=sha256_file(pf.path),
            dataset_key=pf.path.name,
            target="production",
            insert=_inserter(pf),
        )
        if pf.notes and result.status != "unchanged":
            result = dataclasses.replace(result, notes=(*result.notes, *pf.notes))
        results.append(result)
    progress("done", len(parsed), len(parsed))
    return results
