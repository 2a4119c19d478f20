"""CEPII BACI loader: a release zip, its extracted folder, or single year files.

A BACI release (e.g. ``BACI_HS17_V202501.zip``) holds one trade file per year,
``BACI_HS17_Y2017_V202501.csv`` …, with the header ``t,i,j,k,v,q`` (year, exporter
code, importer code, HS6 product code, value in THOUSANDS of USD, quantity in metric
tonnes), plus ``country_codes_V202501.csv`` and ``product_codes_HS17_V202501.csv``.

Each year file is one load (``dataset_key`` ``HS2017:2017``): a newer release of
the same revision and year replaces the earlier rows. The rows stream from DuckDB's
CSV reader straight into ``trade_flows``; Python never holds them. Country codes come
from the release's own code file only, because BACI renumbers countries between
releases (Italy is 381 in V202201 and 380 in V202501). Validation is a columnar check
of the inserted rows for marker values and for values or quantities that are not
finite and >= 0; the slow row-by-row rescan that names the offending line runs only
when that check fails. A file whose last line lacks its line break is taken as
truncated. Uniqueness of (t, i, j, k) is trusted, not checked: CEPII publishes one
row per flow, and the check (a hash aggregate over the year) would add ~13 % to the
load time of a 10-million-row year.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from friendshore.errors import ParameterError, SourceFormatError
from friendshore.progress import ProgressFn, no_progress
from friendshore.reference import countries
from friendshore.store import LoadResult, Store, sha256_file
from friendshore.store.writes import CsvReadError, MissingValueError, Writer

SOURCE = "baci"

# BACI names its revisions by two digits; the store uses the HS edition year.
HS_REVISIONS = {
    "92": "HS1992",
    "96": "HS1996",
    "02": "HS2002",
    "07": "HS2007",
    "12": "HS2012",
    "17": "HS2017",
    "22": "HS2022",
}
TAIWAN_CODE = 490  # BACI "Other Asia, nes" is Taiwan (pseudo ISO3 S19 / N/A)
EXPECTED_COLUMNS = ("t", "i", "j", "k", "v", "q")
# DuckDB types the CSV reader parses each column into. q stays text because BACI
# pads "NA" with spaces to the column width, which a fixed nullstr cannot match.
_CSV_TYPES = {
    "t": "SMALLINT",
    "i": "INTEGER",
    "j": "INTEGER",
    "k": "INTEGER",
    "v": "DOUBLE",
    "q": "VARCHAR",
}
_EXPECTED_WHAT = {
    "t": "a year",
    "i": "a numeric BACI country code",
    "j": "a numeric BACI country code",
    "k": "a numeric HS6 product code",
    "v": "a finite number >= 0 (value in thousands of USD)",
    "q": "a finite number >= 0 (quantity in tonnes) or NA",
}
_COPY_CHUNK = 1 << 20

_YEAR_FILE_RE = re.compile(r"^BACI_.*_Y\d{4}.*\.csv$", re.IGNORECASE)
_HS_RE = re.compile(r"(?:^|[_\-.])HS(\d{2})(?=[_\-.]|$)", re.IGNORECASE)
_YEAR_RE = re.compile(r"_Y(\d{4})(?=[_\-.]|$)", re.IGNORECASE)
_RELEASE_RE = re.compile(r"_V(\d{6})(?=[_\-.]|$)", re.IGNORECASE)
_CSV_LINE_RE = re.compile(r"CSV Error on Line: (\d+)")
_CSV_COLUMN_RE = re.compile(r'converting column "([^"]+)"')
_CSV_VALUE_RE = re.compile(r'Could not convert string "([^"]*)"')
_CSV_NCOLS_RE = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


# -- files and where they come from -------------------------------------------------
@dataclass(frozen=True)
class _Member:
    """A file on disk, or a member of a zip archive on disk."""

    path: Path  # the file, or the zip archive
    member: str | None = None  # name inside the zip

    @property
    def name(self) -> str:
        """Base name of the file (or of the zip member)."""
        return Path(self.member).name if self.member else self.path.name

    @property
    def label(self) -> str:
        """How errors name it: the path as given, ``zip:member`` for a member."""
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    @contextmanager
    def open(self) -> Iterator[io.BufferedIOBase]:
        """Binary stream of the bytes (a zip member decompresses on the fly)."""
        if self.member is None:
            with self.path.open("rb") as fh:
                yield fh
        else:
            with _zip(self.path) as zf, zf.open(self.member) as fh:
                yield fh  # type: ignore[misc]

    def read_bytes(self) -> bytes:
        """All bytes (for the small code files only)."""
        with _zip_errors(self), self.open() as fh:
            return fh.read()


@dataclass(frozen=True)
class _YearFile:
    """One BACI year file to load, with the code file of its release."""

    data: _Member
    hs_revision: str
    year: int
    columns: tuple[str, ...]
    country_codes: _Member


@contextmanager
def _zip(path: Path) -> Iterator[zipfile.ZipFile]:
    """Open an archive; errors while reading a member are the caller's to label."""
    with _zip_errors(_Member(path)):
        zf = zipfile.ZipFile(path)
    with zf:
        yield zf


@contextmanager
def _zip_errors(where: _Member) -> Iterator[None]:
    """Turn a truncated or corrupt archive into a one-line SourceFormatError."""
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise SourceFormatError(
            where.label,
            f"not a readable zip archive (truncated or corrupt: {exc}); "
            "download the BACI release again",
        ) from None


# -- entry point --------------------------------------------------------------------
def load_baci(
    store: Store,
    paths: list[Path],
    *,
    progress: ProgressFn = no_progress,
    country_codes: Path | None = None,
    product_codes: Path | None = None,
    hs_revision: str | None = None,
) -> list[LoadResult]:
    """Load CEPII BACI year files into ``trade_flows``, one transaction per file.

    Parameters
    ----------
    store
        The store to load into.
    paths
        Release zips, folders they extract to, or ``BACI_HS??_Y????_V??????.csv``
        files (code files named ``country_codes_*.csv`` among them are used as such).
    progress
        ``progress(description, completed, total)`` callback.
    country_codes
        The release's ``country_codes_V*.csv``; default: the one in the zip/folder or
        beside the year file, of the same release.
    product_codes
        The release's ``product_codes_HS??_V*.csv``; checked, not stored.
    hs_revision
        HS revision (``HS17`` or ``HS2017``) for year files whose name does not say it.

    Returns
    -------
    list[LoadResult]
        One result per year file: ``loaded``, ``replaced`` or ``unchanged``.
    """
    forced_rev = _parse_revision(hs_revision) if hs_revision else None
    given_codes = _Member(country_codes) if country_codes else None
    if given_codes is None:
        named = [p for p in paths if _is_code_file(p.name, "country_codes")]
        given_codes = _Member(named[-1]) if named else None
    products = [_Member(product_codes)] if product_codes else []
    products += [_Member(p) for p in paths if _is_code_file(p.name, "product_codes")]

    # Plan every file first (names, headers, code files): a typo in the last path
    # fails before anything is loaded.
    plan: list[_YearFile] = []
    for path in paths:
        if _is_code_file(path.name, "country_codes", "product_codes"):
            continue
        found, found_products = _expand(path, given_codes, forced_rev)
        plan += found
        products += found_products
    if not plan:
        raise SourceFormatError(
            ", ".join(map(str, paths)) or "(no paths)",
            "no BACI trade file (BACI_HS??_Y????_V??????.csv) to load",
        )
    for member in dict.fromkeys(products):
        check_product_codes(member)
    code_maps: dict[_Member, dict[int, str]] = {}
    for item in plan:
        if item.country_codes not in code_maps:
            code_maps[item.country_codes] = read_country_codes(item.country_codes)

    results: list[LoadResult] = []
    with _Prefetch(plan, progress) as files:
        for n, item in enumerate(plan):
            progress("BACI files", n, len(plan))
            csv_path, sha = files.get(n)
            codes = code_maps[item.country_codes]
            results.append(_load_one(store, item, csv_path, sha, codes, progress))
            files.done(n)
    progress("BACI files", len(plan), len(plan))
    return results


class _Prefetch:
    """Each year file as a CSV on disk with its SHA-256, the next one readied early.

    A zip member is extracted (and hashed) to a temporary file; a plain file is only
    hashed. While DuckDB inserts year N, a helper thread extracts and hashes year
    N + 1 (zlib and hashlib release the GIL), so a 30-year release zip does not pay
    extraction and loading one after the other. The first file is prepared in the
    foreground with progress; the readied ones report none (the helper thread must
    not draw on the caller's progress display). Extracted files are deleted once
    loaded, so the disk holds at most two.
    """

    def __init__(self, plan: list[_YearFile], progress: ProgressFn) -> None:
        self.plan = plan
        self.progress = progress
        self.tmp = tempfile.TemporaryDirectory(prefix="friendshore-baci-")
        self.pool = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="baci-prefetch"
        )
        self.futures: dict[int, Future[tuple[Path, str]]] = {}

    def __enter__(self) -> _Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        for fut in self.futures.values():
            fut.cancel()
        self.pool.shutdown(wait=True)
        self.tmp.cleanup()

    def _prepare(self, n: int, progress: ProgressFn) -> tuple[Path, str]:
        data = self.plan[n].data
        if data.member is None:
            return data.path, sha256_file(data.path)
        dest = Path(self.tmp.name) / f"{n}-{data.name}"
        return dest, _extract(data, dest, progress)

    def get(self, n: int) -> tuple[Path, str]:
        """File ``n`` ready to read (waiting for it if readied in the background)."""
        fut = self.futures.pop(n, None)
        if n + 1 < len(self.plan):
            self.futures[n + 1] = self.pool.submit(self._prepare, n + 1, no_progress)
        if fut is None:
            return self._prepare(n, self.progress)
        return fut.result()

    def done(self, n: int) -> None:
        """File ``n`` is loaded: drop its extracted copy."""
        if self.plan[n].data.member is not None:
            with suppress(OSError):
                (Path(self.tmp.name) / f"{n}-{self.plan[n].data.name}").unlink()


def _is_code_file(name: str, *kinds: str) -> bool:
    low = name.lower()
    return low.endswith(".csv") and any(low.startswith(k) for k in kinds)


def _expand(
    path: Path, given_codes: _Member | None, forced_rev: str | None
) -> tuple[list[_YearFile], list[_Member]]:
    """The year files (and product code files) a zip, folder or CSV path stands for."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        members = [_Member(p) for p in files]
        where = "folder"
    elif path.suffix.lower() == ".zip" or _has_zip_magic(path):
        with _zip(path) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
        members = [_Member(path, n) for n in sorted(names)]
        where = "zip archive"
    elif path.is_file():
        beside = sorted(p for p in path.parent.iterdir() if p.is_file())
        cands = [_Member(p) for p in beside if _is_code_file(p.name, "country_codes")]
        return [
            _year_file(_Member(path), given_codes, cands, "beside it", forced_rev)
        ], []
    else:
        raise SourceFormatError(str(path), "no such file or folder")

    years = [m for m in members if _YEAR_FILE_RE.match(m.name)]
    if not years:
        raise SourceFormatError(
            str(path),
            f"this {where} holds no BACI trade file (BACI_HS??_Y????_V??????.csv)",
        )
    cands = [m for m in members if _is_code_file(m.name, "country_codes")]
    items = [_year_file(m, given_codes, cands, where, forced_rev) for m in years]
    products = [m for m in members if _is_code_file(m.name, "product_codes")]
    return items, products


def _has_zip_magic(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _match(pattern: re.Pattern[str], name: str) -> str | None:
    m = pattern.search(name)
    return m.group(1) if m else None


def _parse_revision(text: str) -> str:
    """``HS17`` / ``17`` / ``HS2017`` → ``HS2017``."""
    t = text.strip().upper().removeprefix("HS")
    if t in HS_REVISIONS:
        return HS_REVISIONS[t]
    if f"HS{t}" in HS_REVISIONS.values():
        return f"HS{t}"
    raise ParameterError(
        f"--hs-revision: unknown HS revision {text!r}; expected one of "
        + ", ".join(f"HS{k}" for k in HS_REVISIONS)
    )


def _year_file(
    data: _Member,
    given_codes: _Member | None,
    cands: list[_Member],
    where: str,
    forced_rev: str | None,
) -> _YearFile:
    """Check one year file's header and name; find its country code file."""
    columns = _check_header(data)
    hs = _match(_HS_RE, data.name)
    if forced_rev is not None:
        rev = forced_rev
    elif hs in HS_REVISIONS:
        rev = HS_REVISIONS[hs]
    else:
        said = f" (HS{hs} is not a BACI revision)" if hs else ""
        raise SourceFormatError(
            data.label,
            f"the file name does not say the HS revision{said}; name it as CEPII "
            "does, e.g. BACI_HS17_Y2022_V202501.csv (HS92, HS96, HS02, HS07, HS12, "
            "HS17 or HS22), or give --hs-revision",
        )
    year = _match(_YEAR_RE, data.name)
    if year is None:
        raise SourceFormatError(
            data.label,
            "the file name does not say the year; name it as CEPII does, "
            "e.g. BACI_HS17_Y2022_V202501.csv",
        )
    codes = given_codes or _release_codes(data, cands, where)
    return _YearFile(data, rev, int(year), columns, codes)


def _release_codes(data: _Member, cands: list[_Member], where: str) -> _Member:
    """The country code file of the year file's own release among ``cands``."""
    release = _match(_RELEASE_RE, data.name)
    same = [m for m in cands if _match(_RELEASE_RE, m.name) == release]
    if same:
        return same[0]
    if len(cands) == 1 and None in (release, _match(_RELEASE_RE, cands[0].name)):
        return cands[0]
    found = f" (found only {', '.join(m.name for m in cands)})" if cands else ""
    want = f"country_codes_V{release}.csv" if release else "country_codes_V*.csv"
    where = where if where == "beside it" else f"in this {where}"
    raise SourceFormatError(
        data.label,
        f"no {want} {where}{found}; BACI country codes differ between releases, "
        "so give the release's own file with --country-codes",
    )


def _decode(raw: bytes) -> str:
    """UTF-8 (BOM dropped), else latin-1: CEPII shipped both over the years."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _check_header(data: _Member) -> tuple[str, ...]:
    """Columns of a BACI trade file's header, in file order; raise if not BACI."""
    try:
        with _zip_errors(data), data.open() as fh:
            first = fh.readline(4096)
    except OSError as exc:
        raise SourceFormatError(data.label, f"cannot read: {exc.strerror}") from None
    text = _decode(first).strip()
    if not text:
        raise SourceFormatError(
            data.label, "empty file; expected a BACI trade file (header t,i,j,k,v,q)"
        )
    found = tuple(c.strip().strip('"').strip().lower() for c in text.split(","))
    missing = [c for c in EXPECTED_COLUMNS if c not in found]
    extra = [c for c in found if c not in EXPECTED_COLUMNS]
    if not missing and not extra and len(found) == len(EXPECTED_COLUMNS):
        return found
    shown = text if len(text) <= 60 else text[:57] + "…"
    if len(missing) == len(EXPECTED_COLUMNS):
        raise SourceFormatError(
            data.label,
            f"not a BACI trade file: expected the header t,i,j,k,v,q, found {shown!r}",
            row=1,
        )
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if extra:
        parts.append("unexpected " + ", ".join(extra))
    if not parts:
        parts.append("a column appears twice")
    raise SourceFormatError(
        data.label,
        f"expected the BACI columns t,i,j,k,v,q; {'; '.join(parts)}",
        row=1,
    )


# -- code files ---------------------------------------------------------------------
def _code_rows(member: _Member, kind: str) -> tuple[list[str], list[list[str]]]:
    """Header (lower case) and rows of a small CEPII code file."""
    text = _decode(member.read_bytes())
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:  # a stray carriage return or NUL inside a line
        what = (
            "a carriage return inside the line (a broken line end)"
            if "new-line" in str(exc)
            else f"not a readable CSV line ({exc})"
        )
        raise SourceFormatError(member.label, what, row=reader.line_num) from None
    if not rows or not any(c.strip() for c in rows[0]):
        raise SourceFormatError(member.label, f"empty file; expected a BACI {kind}")
    return [c.strip().lower() for c in rows[0]], rows[1:]


def read_country_codes(member: _Member | Path) -> dict[int, str]:
    """BACI country code → ISO3 (or ``X…`` area code) from a release's code file.

    Both layouts CEPII shipped work: V2022 (``country_code, …, iso_3digit_alpha``,
    latin-1, ``N/A``) and V2025 (``country_code, country_name, country_iso2,
    country_iso3``, UTF-8, pseudo codes ``S19``, ``R20``, ``ZA1``). 490 is Taiwan;
    a code without a real ISO3 becomes its own unspecified area (``X697``).
    """
    member = member if isinstance(member, _Member) else _Member(member)
    header, rows = _code_rows(member, "country code file")
    iso_col = next(
        (c for c in ("country_iso3", "iso_3digit_alpha") if c in header), None
    )
    missing = [c for c in ("country_code",) if c not in header]
    if iso_col is None:
        missing.append("country_iso3 (or iso_3digit_alpha)")
    if missing:
        raise SourceFormatError(
            member.label,
            "not a BACI country code file: missing column " + ", ".join(missing),
            row=1,
        )
    assert iso_col is not None  # else missing named it above
    ci, ii = header.index("country_code"), header.index(iso_col)
    out: dict[int, str] = {}
    for line, row in enumerate(rows, start=2):
        if not any(c.strip() for c in row):
            continue
        raw = row[ci].strip() if ci < len(row) else ""
        # BACI's codes are UN M49 numbers (at most 3 digits); four are allowed.
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 4):
            raise SourceFormatError(
                member.label,
                f"expected a numeric country code of up to 4 digits, found {raw!r}",
                row=line,
                column="country_code",
            )
        code = int(raw)
        if code in out:
            raise SourceFormatError(
                member.label,
                f"country code {code} appears twice",
                row=line,
                column="country_code",
            )
        iso = row[ii].strip() if ii < len(row) else ""
        if code == TAIWAN_CODE:
            out[code] = "TWN"
        elif re.fullmatch(r"[A-Z]{3}", iso):
            out[code] = iso
        else:  # N/A, pseudo codes S19/R20/ZA1, empty: an area, not a country
            out[code] = countries.unspecified_code(code)
    if not out:
        raise SourceFormatError(member.label, "no country codes below the header")
    return out


def check_product_codes(member: _Member | Path) -> int:
    """Check a ``product_codes_HS??_V*.csv`` (``code,description``); return its size."""
    member = member if isinstance(member, _Member) else _Member(member)
    header, rows = _code_rows(member, "product code file")
    missing = [c for c in ("code", "description") if c not in header]
    if missing:
        raise SourceFormatError(
            member.label,
            "not a BACI product code file: missing column " + ", ".join(missing),
            row=1,
        )
    ci = header.index("code")
    n = 0
    for line, row in enumerate(rows, start=2):
        if not any(c.strip() for c in row):
            continue
        code = row[ci].strip() if ci < len(row) else ""
        if not (code.isdigit() and len(code) <= 6):
            raise SourceFormatError(
                member.label,
                f"expected an HS6 code of up to 6 digits, found {code!r}",
                row=line,
                column="code",
            )
        n += 1
    return n


# -- loading one year file ----------------------------------------------------------
def _load_one(
    store: Store,
    item: _YearFile,
    csv_path: Path,
    sha: str,
    codes: dict[int, str],
    progress: ProgressFn,
) -> LoadResult:
    """Load one year file (``csv_path``: the file itself or its extracted copy)."""
    data = item.data

    def insert(w: Writer, load_id: int) -> tuple[int, tuple[int, ...]]:
        return _insert(w, item, csv_path, codes, progress)

    return store.record_load(
        source=SOURCE,
        file_name=data.name,
        file_path=str(data.path),
        sha256=sha,
        dataset_key=f"{item.hs_revision}:{item.year}",
        target="trade_flows",
        insert=insert,
    )


def _extract(data: _Member, dest: Path, progress: ProgressFn) -> str:
    """Stream a zip member to ``dest``; return the SHA-256 of its bytes."""
    h = hashlib.sha256()
    with _zip(data.path) as zf:
        size = zf.getinfo(data.member or "").file_size
        desc = f"Extracting {data.name}"
        done = 0
        with (
            _zip_errors(data),
            zf.open(data.member or "") as src,
            dest.open("wb") as out,
        ):
            while block := src.read(_COPY_CHUNK):
                h.update(block)
                out.write(block)
                done += len(block)
                progress(desc, done, size)
    return h.hexdigest()


def _insert(
    w: Writer,
    item: _YearFile,
    csv_path: Path,
    codes: dict[int, str],
    progress: ProgressFn,
) -> tuple[int, tuple[int, ...]]:
    """Insert one year file's rows; raise SourceFormatError naming the first bad row."""
    label = item.data.label
    columns = {c: _CSV_TYPES[c] for c in item.columns}  # the file's own column order
    ids = w.country_ids(sorted(set(codes.values())))
    by_code: list[int | None] = [None] * (max(codes) + 1)
    for code, iso3 in codes.items():
        by_code[code] = ids[iso3]
    try:
        with w.progress(f"Loading {item.data.name}", progress):
            rows = w.baci_csv(csv_path, columns, by_code, item.hs_revision)
    except CsvReadError as exc:
        raise _csv_error(w, exc, label, item, csv_path, codes) from None
    except MissingValueError:  # a NULL t or v: name the row
        raise _locate(w, label, item, csv_path, codes) from None
    if w.baci_bad_rows(item.year):
        raise _locate(w, label, item, csv_path, codes)
    if rows == 0:
        raise SourceFormatError(label, "no data rows below the header", row=2)
    if not _ends_with_newline(csv_path):
        # CEPII ends every file with a line break; without it the last number may be
        # cut (0.002 -> "0.") and would load as a smaller value.
        raise SourceFormatError(
            label,
            "the last line does not end with a line break; the file looks "
            "truncated (download it again)",
            row=int(rows) + 1,
        )
    return int(rows), (item.year,)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        if fh.seek(0, 2) == 0:
            return True
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"


def _csv_error(
    w: Writer,
    exc: CsvReadError,
    label: str,
    item: _YearFile,
    csv_path: Path,
    codes: dict[int, str],
) -> SourceFormatError:
    """Map a DuckDB CSV-reader error (it carries the line) to a SourceFormatError."""
    msg = str(exc)
    line = _CSV_LINE_RE.search(msg)
    if line is None:  # a cast in our SQL (q) failed: find the row ourselves
        return _locate(w, label, item, csv_path, codes)
    row = int(line.group(1))
    col = _CSV_COLUMN_RE.search(msg)
    if col is not None and col.group(1) in _EXPECTED_WHAT:
        value = _CSV_VALUE_RE.search(msg)
        found = f", found {value.group(1).strip()!r}" if value else ""
        return SourceFormatError(
            label,
            f"expected {_EXPECTED_WHAT[col.group(1)]}{found}",
            row=row,
            column=col.group(1),
        )
    ncols = _CSV_NCOLS_RE.search(msg)
    if ncols is not None:
        return SourceFormatError(
            label,
            f"expected {ncols.group(1)} comma-separated fields (t,i,j,k,v,q), "
            f"found {ncols.group(2)}",
            row=row,
        )
    first = msg.splitlines()[0].split(": ", 1)[-1]
    return SourceFormatError(label, f"cannot be read as CSV ({first})", row=row)


def _locate(
    w: Writer, label: str, item: _YearFile, csv_path: Path, codes: dict[int, str]
) -> SourceFormatError:
    """Rescan the file (failure path only) and describe its first bad row."""
    try:
        found = w.baci_first_problem(
            csv_path, list(item.columns), list(codes), item.year
        )
    except CsvReadError as exc:
        first = str(exc).splitlines()[0]
        return SourceFormatError(
            label, f"cannot be read as a BACI trade file ({first})"
        )
    if found is None:
        return SourceFormatError(label, "cannot be read as a BACI trade file")
    line, problem = found
    col, kind, value = problem[0], problem[1], problem[2:]
    if kind == "=":
        what = f"year {value} in a file whose name says Y{item.year}"
    elif kind == "?":
        what = (
            f"country code {value} is not in {item.country_codes.name}; "
            "use the release's own country_codes file"
        )
    else:
        what = f"expected {_EXPECTED_WHAT[col]}, found {value!r}"
    return SourceFormatError(label, what, row=int(line), column=col)
