"""Hostile input, fuzzed: every loader and scenario files, fed mutated real files.

Each case must end in a correct load or a clean :class:`InputError` (one line) that
leaves the store exactly as it was; never another exception type. Mutations are
derived from the real files publishers ship (``data/sources``, the BACI fixtures):
random truncation, UTF-16 and Latin-1 bytes, extra, missing and ragged columns,
huge, negative, NaN and infinite numbers, duplicate rows, and non-CSV bytes
(random binary, a zip, gzip, a PNG header).

What "correct" means on success (the invariants checked after every load):

* trade values and quantities are finite and >= 0 (a stored NaN, inf or negative
  number is a failure even when no error was raised);
* every row the load wrote carries its ``load_id`` and their count is the count in
  ``loads``; deleting them gives back the store as it was (nothing else touched);
* a truncated file loads at most what its complete lines say: the rows of the same
  file cut back to its last line break are all there, and the cut-off last line adds
  at most the rows one line can make.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import shutil
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from friendshore.engines.scenarios.model import Scenario, load_scenario
from friendshore.errors import InputError, ParameterError
from friendshore.sources.baci import load_baci
from friendshore.sources.comtrade import load_comtrade
from friendshore.sources.table import load_table
from friendshore.sources.usgs import load_usgs
from friendshore.store import LoadResult, Store

from .conftest import DATA, FIXTURES, SOURCES, table_snapshot

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Cells that are not a usable trade value or quantity, and some that are (1e308 is
# finite; "-0" is zero).
BAD_NUMBERS = (
    "-1",
    "-0.5",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e400",
    "9" * 400,
)
ODD_NUMBERS = ("1e308", "0", "-0", "1e-400", "0x1F", "1,000", "", " ", "١٢٣", "12abc")

TABLE_MAP = {
    "year": "Year",
    "exporter": "Partner",
    "importer": "Reporter",
    "hs6": "Commodity",
    "hs_revision": "Classification",
    "value_usd": "TradeValue",
    "quantity_t": "NetWeightT",
}
BACI25 = FIXTURES / "baci" / "V202501"


@dataclass(frozen=True)
class Spec:
    """How to feed one loader: its real files and the columns holding numbers."""

    name: str
    files: tuple[Path, ...]
    load: Callable[[Store, list[Path]], list[LoadResult]]
    value_columns: tuple[str, ...]  # every row's cell is checked (strict oracle)
    rows_per_line: int  # most rows one source line can produce
    beside: tuple[Path, ...] = ()  # files the loader needs next to the data file
    # Columns kept out of the number mutations (none at present).
    known_gaps: tuple[str, ...] = ()


SPECS = {
    "comtrade": Spec(
        "comtrade",
        tuple(
            SOURCES / "comtrade" / f
            for f in ("gallium_trade_data.csv", "lithium_trade_data.csv")
        ),
        load_comtrade,
        ("primaryValue", "netWgt", "qty"),
        1,
    ),
    "usgs": Spec(
        "usgs",
        (
            SOURCES / "usgs/mcs2022/rare_earths_mcs2022-raree_world.csv",
            SOURCES / "usgs/mcs2023/mcs2023-galli_world.csv",
            SOURCES / "usgs/mcs2024/mcs2024-galli_world.csv",
            SOURCES / "usgs/mcs2025/MCS2025_World_Data_critical_subset.csv",
        ),
        load_usgs,
        (),  # a Prod_ cell of a capacity-type row is not stored: no strict oracle
        4,
    ),
    "table": Spec(
        "table",
        (FIXTURES / "reliability" / "lithium_imports_table.csv",),
        partial(load_table, mapping=TABLE_MAP),
        ("TradeValue", "NetWeightT"),
        1,
    ),
    "baci": Spec(
        "baci",
        (BACI25 / "BACI_HS17_Y2022_V202501.csv",),
        load_baci,
        ("v", "q"),
        1,
        beside=(BACI25 / "country_codes_V202501.csv",),
    ),
}


# -- the store every example runs against ------------------------------------------
@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """An on-disk store holding real data no fuzzed file overlaps (cobalt, copper)."""
    store = Store(tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb")
    load_comtrade(store, [SOURCES / "comtrade" / "cobalt_trade_data.csv"])
    load_usgs(store, [SOURCES / "usgs" / "mcs2023" / "mcs2023-coppe_world.csv"])
    assert store.fetchall("SELECT count(*) FROM loads") == [(2,)]
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzzfiles")


# -- running one attempt -------------------------------------------------------------
Row = tuple[Any, ...]


def _bad_numbers(store: Store) -> list[Row]:
    return store.fetchall(
        """SELECT 'trade_flows', value_usd, quantity_t FROM trade_flows
           WHERE NOT isfinite(value_usd) OR value_usd < 0
              OR NOT coalesce(isfinite(quantity_t) AND quantity_t >= 0, true)
           UNION ALL
           SELECT 'production', quantity, NULL FROM production
           WHERE NOT coalesce(isfinite(quantity) AND quantity >= 0, true)"""
    )


def _rows(store: Store, ids: list[int]) -> Counter[Row]:
    """Content of the rows the given loads wrote (load_id left out)."""
    trade = store.fetchall(
        """SELECT year, exporter, importer, hs6, hs_revision, value_usd, quantity_t,
                  source, basis FROM trade_flows WHERE list_contains($ids, load_id)""",
        {"ids": ids},
    )
    prod = store.fetchall(
        """SELECT year, country, commodity, stage, quantity, unit, source, edition,
                  type, is_estimate, status, kind
           FROM production WHERE list_contains($ids, load_id)""",
        {"ids": ids},
    )
    return Counter(trade + prod)


def attempt(
    store: Store, spec: Spec, path: Path
) -> tuple[Counter[Row] | None, InputError | None]:
    """Load ``path``; check the contract; undo a success. (rows written, error)."""
    before = table_snapshot(store)
    try:
        results = spec.load(store, [path])
    except InputError as exc:
        assert "\n" not in str(exc).strip(), f"error is not one line: {exc!r}"
        assert table_snapshot(store) == before, "a failed load changed the store"
        return None, exc
    ids = [r.load_id for r in results if r.status != "unchanged" and r.load_id]
    try:
        assert ids, f"no load recorded: {results}"
        assert _bad_numbers(store) == [], "a non-finite or negative number was stored"
        rows = _rows(store, ids)
        recorded = store.fetchall(
            "SELECT sum(rows) FROM loads WHERE list_contains($ids, load_id)",
            {"ids": ids},
        )[0][0]
        assert recorded == sum(rows.values()) == sum(r.rows for r in results)
    finally:  # undo the load even when a check failed: the next example needs it so
        for table in ("flows", "production", "loads"):
            store.execute(
                f"DELETE FROM {table} WHERE list_contains($ids, load_id)", {"ids": ids}
            )
        # Codes the load saw first (an X-code, say) got ids: forget them too.
        store.execute(
            "DELETE FROM country_ids WHERE id > $n",
            {"n": max((r[0] for r in before["country_ids"]), default=0)},
        )
    assert table_snapshot(store) == before, "a load touched rows outside its own"
    return rows, None


# -- mutations of a real file ---------------------------------------------------------
def _records(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def _write(records: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    return out.getvalue().encode("utf-8")


def _zip(name: str, raw: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, raw)
    return buf.getvalue()


KINDS = (
    "truncate",
    "utf16",
    "utf16le",
    "latin1",
    "extra_column",
    "ragged_row",
    "drop_column",
    "bad_number",
    "odd_number",
    "duplicate_row",
    "conflicting_duplicate",
    "binary",
    "zip",
    "truncated_zip",
    "gzip",
    "png",
)


def mutate(
    data: st.DataObject,
    raw: bytes,
    name: str,
    value_columns: tuple[str, ...] = (),
    avoid: tuple[str, ...] = (),
) -> tuple[str, bytes]:
    """A hostile variant of ``raw``: (kind, bytes); numbers go to value columns often."""
    kind = data.draw(st.sampled_from(KINDS), label="kind")
    text = raw.decode("utf-8-sig")
    recs = _records(raw)
    width = len(recs[0])
    body = [i for i in range(1, len(recs)) if any(c.strip() for c in recs[i])]
    r = data.draw(st.sampled_from(body), label="row")
    c = data.draw(st.integers(0, width - 1), label="column")
    values = [j for j, h in enumerate(recs[0]) if h in value_columns]
    if values and data.draw(st.booleans(), label="in a value column"):
        c = data.draw(st.sampled_from(values), label="value column")
    if kind == "truncate":
        return kind, raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")]
    if kind in ("utf16", "utf16le"):
        return kind, text.encode("utf-16" if kind == "utf16" else "utf-16-le")
    if kind == "latin1":
        recs[r][c] = recs[r][c] + "Côte d’Ivoire é"
        return kind, _write(recs).replace(
            "Côte d’Ivoire é".encode(), b"C\xf4te d\x92Ivoire \xe9"
        )
    if kind == "extra_column":
        head = data.draw(st.sampled_from(["zz", recs[0][c], "", "value_usd"]))
        return kind, _write(
            [[*rec, head if i == 0 else "1"] for i, rec in enumerate(recs)]
        )
    if kind == "ragged_row":
        recs[r] = [*recs[r], "surplus"]
        return kind, _write(recs)
    if kind == "drop_column":
        return kind, _write([rec[:c] + rec[c + 1 :] for rec in recs])
    if kind in ("bad_number", "odd_number"):
        if recs[0][c] in avoid:
            c = data.draw(
                st.sampled_from([j for j in range(width) if recs[0][j] not in avoid])
            )
        pool = BAD_NUMBERS if kind == "bad_number" else ODD_NUMBERS
        recs[r][c] = data.draw(st.sampled_from(pool), label="token")
        return kind, _write(recs)
    if kind == "duplicate_row":
        return kind, _write([*recs, recs[r]])
    if kind == "conflicting_duplicate":
        twin = list(recs[r])
        numeric = [j for j, v in enumerate(twin) if v.replace(".", "", 1).isdigit()]
        if numeric:
            j = numeric[-1]
            twin[j] = str(float(twin[j]) + 1)
        return kind, _write([*recs, twin])
    if kind == "binary":
        return kind, data.draw(st.binary(min_size=1, max_size=3000), label="bytes")
    if kind in ("zip", "truncated_zip"):
        z = _zip(name, raw)
        return kind, z if kind == "zip" else z[: len(z) // 2]
    if kind == "gzip":
        return kind, gzip.compress(raw)
    return kind, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + data.draw(
        st.binary(max_size=200)
    )


def _place(workdir: Path, spec: Spec, real: Path, content: bytes, sub: str) -> Path:
    folder = workdir / spec.name / sub
    folder.mkdir(parents=True, exist_ok=True)
    for extra in spec.beside:
        shutil.copy(extra, folder / extra.name)
    path = folder / real.name
    path.write_bytes(content)
    return path


def _check_truncation(
    store: Store, workdir: Path, spec: Spec, real: Path, cut: bytes, got: Counter[Row]
) -> None:
    """A truncated file that loads keeps every row its complete lines give."""
    clean = cut[: cut.rfind(b"\n") + 1]
    expected, _ = attempt(store, spec, _place(workdir, spec, real, clean, "clean"))
    expected = expected or Counter()
    if spec.name == "comtrade":
        # XRW remainders are World minus the listed partners: any cut line moves one,
        # and a cut import row may replace its export mirror (one row each way).
        def real_partners(c: Counter[Row]) -> Counter[Row]:
            return Counter({k: v for k, v in c.items() if "XRW" not in k[1:3]})

        expected, got = real_partners(expected), real_partners(got)
        assert (expected - got).total() <= 1, expected - got
    else:
        assert expected - got == Counter(), "rows of complete lines were lost"
    assert (got - expected).total() <= spec.rows_per_line


def _fuzz(data: st.DataObject, store: Store, workdir: Path, spec: Spec) -> None:
    real = data.draw(st.sampled_from(spec.files), label="file")
    raw = real.read_bytes()
    kind, content = mutate(data, raw, real.name, spec.value_columns, spec.known_gaps)
    path = _place(workdir, spec, real, content, "case")
    rows, error = attempt(store, spec, path)
    if kind == "bad_number" and spec.value_columns:
        header = _records(raw)[0]
        recs = _records(content)
        changed = [
            header[j]
            for i, rec in enumerate(_records(raw))
            for j, cell in enumerate(rec)
            if i < len(recs) and j < len(recs[i]) and recs[i][j] != cell
        ]
        if set(changed) & set(spec.value_columns):
            assert error is not None, f"{changed} accepted a bad number"
            assert any(f"column {col!r}" in str(error) for col in changed), error
    if kind == "truncate" and rows is not None:
        _check_truncation(store, workdir, spec, real, content, rows)


@FUZZ
@given(data=st.data())
def test_fuzz_comtrade(data: st.DataObject, fuzz_store: Store, workdir: Path) -> None:
    _fuzz(data, fuzz_store, workdir, SPECS["comtrade"])


@FUZZ
@given(data=st.data())
def test_fuzz_usgs(data: st.DataObject, fuzz_store: Store, workdir: Path) -> None:
    _fuzz(data, fuzz_store, workdir, SPECS["usgs"])


@FUZZ
@given(data=st.data())
def test_fuzz_table(data: st.DataObject, fuzz_store: Store, workdir: Path) -> None:
    _fuzz(data, fuzz_store, workdir, SPECS["table"])


@FUZZ
@given(data=st.data())
def test_fuzz_baci(data: st.DataObject, fuzz_store: Store, workdir: Path) -> None:
    _fuzz(data, fuzz_store, workdir, SPECS["baci"])


# -- deterministic cases the fuzzing found -----------------------------------------------
def _replace_cell(raw: bytes, row: int, column: str, value: str) -> bytes:
    recs = _records(raw)
    recs[row][recs[0].index(column)] = value
    return _write(recs)


@pytest.mark.parametrize("token", ["-1", "NaN", "inf", "1e400", "9" * 400])
@pytest.mark.parametrize(
    ("spec_name", "file", "column"),
    [
        ("comtrade", "gallium_trade_data.csv", "primaryValue"),
        ("comtrade", "gallium_trade_data.csv", "netWgt"),
        ("table", "lithium_imports_table.csv", "TradeValue"),
        ("table", "lithium_imports_table.csv", "NetWeightT"),
        ("usgs", "mcs2024-galli_world.csv", "Prod_kg_2022"),
    ],
)
def test_unusable_values_are_rejected_with_row_and_column(
    fuzz_store: Store,
    workdir: Path,
    spec_name: str,
    file: str,
    column: str,
    token: str,
) -> None:
    spec = SPECS[spec_name]
    real = next(f for f in spec.files if f.name == file)
    # Row 2 of the file (the first record): China's gallium / the first lithium flow.
    content = _replace_cell(
        real.read_bytes(), 2 if spec_name == "usgs" else 1, column, token
    )
    path = _place(workdir, spec, real, content, "value")
    rows, error = attempt(fuzz_store, spec, path)
    assert rows is None and error is not None
    line = 3 if spec_name == "usgs" else 2
    assert f", row {line}, column {column!r}:" in str(error)


@pytest.mark.parametrize("column", ["v", "q"])
def test_baci_rejects_unusable_values(
    fuzz_store: Store, workdir: Path, column: str
) -> None:
    spec = SPECS["baci"]
    real = spec.files[0]
    failures = []
    # 1e308 thousand USD overflows to inf as USD; 1e308 tonnes is finite and allowed
    tokens = ("-1", "NaN", "inf", "1e400", *(("1e308",) if column == "v" else ()))
    for token in tokens:
        content = _replace_cell(real.read_bytes(), 1, column, token)
        _, error = attempt(fuzz_store, spec, _place(workdir, spec, real, content, "v"))
        if error is None or f"column {column!r}" not in str(error):
            failures.append(token)
    assert failures == []


@pytest.mark.parametrize(
    ("spec_name", "file", "column"),
    [
        ("comtrade", "gallium_trade_data.csv", "primaryValue"),
        ("usgs", "mcs2024-galli_world.csv", "Prod_kg_est_2023"),
        ("table", "lithium_imports_table.csv", "TradeValue"),
    ],
)
def test_file_cut_inside_its_last_value_is_rejected(
    fuzz_store: Store, workdir: Path, spec_name: str, file: str, column: str
) -> None:
    """A download cut inside the last row's number must not load a smaller number."""
    spec = SPECS[spec_name]
    real = next(f for f in spec.files if f.name == file)
    raw = real.read_bytes()
    recs = _records(raw)
    last = max(i for i, rec in enumerate(recs) if any(c.strip() for c in rec))
    j = recs[0].index(column)
    assert len(recs[last][j]) >= 2, "need a number of two digits or more to cut"
    prefix = _write(recs[:last]) + ",".join(recs[last][:j]).encode() + b","
    cut = prefix + recs[last][j][:1].encode()
    rows, error = attempt(fuzz_store, spec, _place(workdir, spec, real, cut, "cut"))
    assert rows is None, "a truncated last row was loaded"
    assert "looks truncated" in str(error)


# -- scenario files ---------------------------------------------------------------------
SCENARIOS = tuple(sorted((DATA / "scenarios").glob("*.toml")))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + "}"


_SCALARS = (
    st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
        max_size=12,
    )
    | st.sampled_from(["USA", "all", "prc", "eu", "850511", "permanent-magnets", ""])
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "JPN", "draws"]), inner, max_size=2)
    ),
    max_leaves=6,
)


@FUZZ
@given(data=st.data())
def test_fuzz_scenario_files(data: st.DataObject, workdir: Path) -> None:
    real = data.draw(st.sampled_from(SCENARIOS), label="file")
    text = real.read_text(encoding="utf-8")
    lines = text.splitlines()
    kind = data.draw(
        st.sampled_from(
            [
                "truncate",
                "utf16",
                "binary",
                "latin1",
                "value",
                "drop",
                "unknown_key",
                "duplicate_key",
            ]
        ),
        label="kind",
    )
    keyed = [
        i for i, ln in enumerate(lines) if "=" in ln and not ln.lstrip().startswith("#")
    ]
    i = data.draw(st.sampled_from(keyed), label="line")
    key = lines[i].split("=", 1)[0].strip()
    if kind == "truncate":
        content = text.encode()[: data.draw(st.integers(0, len(text.encode()) - 1))]
    elif kind == "utf16":
        content = text.encode("utf-16")
    elif kind == "binary":
        content = data.draw(st.binary(min_size=1, max_size=500))
    elif kind == "latin1":
        content = text.replace("=", '= "caf\xe9" #', 1).encode("latin-1", "replace")
    elif kind == "value":
        lines[i] = f"{key} = {_toml_value(data.draw(_VALUES, label='value'))}"
        content = "\n".join(lines).encode()
    elif kind == "drop":
        content = "\n".join(lines[:i] + lines[i + 1 :]).encode()
    elif kind == "unknown_key":
        content = (f"{key}x = 1\n" + text).encode()
    else:
        content = "\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]]).encode()
    path = workdir / "scenario" / real.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    try:
        scenario = load_scenario(path)
    except ParameterError as exc:
        assert str(exc).startswith(str(path)), exc
        return
    assert isinstance(scenario, Scenario)
    assert 0 <= scenario.max_concern_share <= 1
    assert (
        math.isfinite(scenario.capacity_expansion) and scenario.capacity_expansion >= 0
    )
    assert 0 <= scenario.reshoring <= 1


# -- the same through the CLI: exit 2 and one line ---------------------------------------
_HOSTILE: dict[str, Callable[[bytes, str], bytes]] = {
    "random binary": lambda raw, name: bytes(range(256)) * 4,
    "a zip": lambda raw, name: _zip(name, raw),
    "a PNG": lambda raw, name: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
    "UTF-16": lambda raw, name: raw.decode("utf-8-sig").encode("utf-16"),
    "cut in half": lambda raw, name: raw[: len(raw) // 2],
    "only a BOM": lambda raw, name: b"\xef\xbb\xbf",  # USGS raised IndexError
}
_CLI_CASES = [
    pytest.param(source, real, options, hostile, id=f"{source}-{hostile}", marks=marks)
    for source, real, options in [
        ("comtrade", SPECS["comtrade"].files[0], []),
        ("usgs", SPECS["usgs"].files[2], []),
        (
            "table",
            SPECS["table"].files[0],
            [f"--map={k}={v}" for k, v in TABLE_MAP.items()],
        ),
        ("baci", SPECS["baci"].files[0], []),
    ]
    for hostile in _HOSTILE
    for marks in [[]]
]


@pytest.mark.parametrize(("source", "real", "options", "hostile"), _CLI_CASES)
def test_cli_hostile_file_is_one_error_line(
    cli,
    db_path: Path,
    tmp_path: Path,
    source: str,
    real: Path,
    options: list[str],
    hostile: str,
) -> None:  # type: ignore[no-untyped-def]
    with Store(db_path) as store:
        load_usgs(store, [SOURCES / "usgs" / "mcs2023" / "mcs2023-coppe_world.csv"])
        before = table_snapshot(store)
    spec = SPECS[source]
    content = _HOSTILE[hostile](real.read_bytes(), real.name)
    path = _place(tmp_path, spec, real, content, "cli")
    result = cli("load", source, path, *options)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}"), lines
    with Store(db_path, read_only=True) as store:
        assert table_snapshot(store) == before


@pytest.mark.parametrize("hostile", ["random binary", "UTF-16", "cut in half"])
def test_cli_hostile_scenario_is_one_error_line(
    cli, db_path: Path, tmp_path: Path, hostile: str
) -> None:  # type: ignore[no-untyped-def]
    Store(db_path).close()
    real = DATA / "scenarios" / "us-magnets.toml"
    path = tmp_path / real.name
    path.write_bytes(_HOSTILE[hostile](real.read_bytes(), real.name))
    result = cli("simulate", path)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {path}")
