"""Injection: no user-supplied value is ever formatted into SQL.

Two halves. A static scan of ``friendshore/**/*.py`` finds every f-string, ``%``,
``.format()`` and ``+`` that builds SQL text from a non-constant value; each such
value must be on :data:`ALLOWED`, a reviewed list of fixed identifiers and constant
SQL fragments (a new one fails this test until someone checks that no user value
can reach it). Then the CLI is fed file names, source names, column mappings, codes,
group names and HS codes written as SQL attacks: each loads or fails with one line,
and every table is still there with the rows it had.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

from friendshore.sources.comtrade import load_comtrade
from friendshore.store import Store

from .conftest import FIXTURES, ROOT, SOURCES, table_snapshot

PACKAGE = ROOT / "friendshore"
SQL = re.compile(
    r"\b(SELECT|INSERT|DELETE|UPDATE|FROM|WHERE|JOIN|CREATE|DROP|ALTER|ATTACH|"
    r"COPY|PRAGMA|SET|VALUES|read_csv|read_parquet)\b"
)

# (file relative to the repository, interpolated expression) -> why it is safe.
ALLOWED: dict[tuple[str, str], str] = {
    ("friendshore/store/__init__.py", "table"): "loop over the constant LOADED_TABLES",
    ("friendshore/store/writes.py", "cols"): "joined from PRODUCTION_COLUMNS",
    (
        "friendshore/store/__init__.py",
        "', '.join(args)",
    ): "TABLE_MACROS: constant names",
    ("friendshore/store/layout.py", "KEY_BASE"): "module constant integer",
    ("friendshore/store/layout.py", "6 * HS_BASE"): "module constant integer",
    ("friendshore/store/writes.py", "match"): "constant SQL fragment",
    ("friendshore/store/writes.py", "rank_t"): "constant SQL fragment",
    ("friendshore/store/writes.py", "rank_n"): "constant SQL fragment",
    ("friendshore/store/writes.py", "keep"): "constant SQL fragment",
    ("friendshore/store/writes.py", "MARK"): "module constant -1",
    ("friendshore/store/writes.py", "6 * HS_BASE"): "module constant integer",
    ("friendshore/store/__init__.py", "HS_BASE"): "module constant integer",
    (
        "friendshore/store/__init__.py",
        "name",
    ): "temp table name checked against _TEMP_NAME",
    ("friendshore/store/__init__.py", "sql"): "a named query's text (queries/*.sql)",
    ("friendshore/store/writes.py", "_CODES"): "module constant subquery",
    ("friendshore/store/writes.py", "bool(before[0])"): "a bool, True/False",
    ("friendshore/store/writes.py", "bool(before[1])"): "a bool, True/False",
    (
        "friendshore/store/__init__.py",
        "arg",
    ): "MACROS: a module constant parameter name",
    ("friendshore/store/__init__.py", "body"): "MACROS: a module constant SQL body",
    ("friendshore/export/spark.py", "translate(_FLOWS_VIEW)"): "module constant view, "
    "translated with no parameters",
}


def _is_sql(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and bool(SQL.search(node.value))
    )


def sql_formatting(source: str) -> list[tuple[int, str]]:
    """(line, expression) of every non-constant value formatted into SQL text."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            if SQL.search(text):
                found += [
                    (node.lineno, ast.unparse(v.value))
                    for v in node.values
                    if isinstance(v, ast.FormattedValue)
                ]
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            if _is_sql(node.left):
                found.append((node.lineno, "% " + ast.unparse(node.right)))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            for mine, other in ((node.left, node.right), (node.right, node.left)):
                if _is_sql(mine) and not isinstance(
                    other, ast.Constant | ast.JoinedStr
                ):
                    found.append((node.lineno, "+ " + ast.unparse(other)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("format", "replace", "format_map")
        ):
            target = node.func.value
            named = re.search(r"sql|query", ast.unparse(target), re.IGNORECASE)
            if _is_sql(target) or (named and node.func.attr != "replace"):
                found.append((node.lineno, f".{node.func.attr}({ast.unparse(node)})"))
    return found


def test_the_scan_finds_formatted_sql() -> None:
    """The detector itself: each way of building SQL from a value is caught."""
    bad = """
con.execute(f"SELECT * FROM trade_flows WHERE importer = '{code}'")
con.execute("DELETE FROM loads WHERE file_name = '%s'" % name)
con.execute("SELECT * FROM t WHERE g = '{}'".format(group))
con.execute("SELECT * FROM read_csv('" + path + "')")
sql = query_sql("exposure_product"); con.execute(sql.format(year=year))
"""
    found = [expr for _, expr in sql_formatting(bad)]
    assert found[:2] == ["code", "% name"]
    assert found[2].startswith(".format(") and found[2].endswith(".format(group))")
    assert sorted(found[3:]) == ["+ path", ".format(sql.format(year=year))"]
    ok = """
con.execute("SELECT * FROM trade_flows WHERE importer = $code", {"code": code})
message = f"unknown group {name!r}; expected one of {choices}"
"""
    assert sql_formatting(ok) == []


def test_no_user_value_is_formatted_into_sql() -> None:
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for line, expr in sql_formatting(path.read_text(encoding="utf-8")):
            if (rel, expr) not in ALLOWED:
                offending.append(f"{rel}:{line}: {expr}")
    assert offending == [], "bind values as $parameters instead:\n" + "\n".join(
        offending
    )


# -- the CLI under attack ----------------------------------------------------------------
ATTACK = "x'; DROP TABLE loads; --"
TABLE_MAP = [
    "--map",
    "year=Year",
    "--map",
    "exporter=Partner",
    "--map",
    "importer=Reporter",
    "--map",
    "hs6=Commodity",
    "--map",
    "hs_revision=Classification",
    "--map",
    "value_usd=TradeValue",
]


@pytest.fixture
def seeded(db_path: Path) -> Path:
    with Store(db_path) as store:
        load_comtrade(store, [SOURCES / "comtrade" / "gallium_trade_data.csv"])
    return db_path


def _tables(
    db: Path,
) -> tuple[list[tuple[object, ...]], dict[str, list[tuple[object, ...]]]]:
    with Store(db, read_only=True) as store:
        names = store.fetchall(
            "SELECT table_name FROM duckdb_tables() ORDER BY table_name"
        )
        return names, table_snapshot(store)


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    return lines[0]


@pytest.mark.parametrize(
    "name", [f"{ATTACK}.csv", 'a"; DROP TABLE trade_flows; --.csv', "Robert'); --.csv"]
)
def test_file_names_with_sql_load_verbatim(
    cli, seeded: Path, tmp_path: Path, name: str
) -> None:  # type: ignore[no-untyped-def]
    tables, before = _tables(seeded)
    path = tmp_path / name
    shutil.copy(FIXTURES / "reliability" / "lithium_imports_table.csv", path)
    result = cli("load", "table", path, *TABLE_MAP, "--format", "json")
    assert result.exit_code == 0, result.stderr
    after_tables, after = _tables(seeded)
    assert set(tables) <= set(after_tables)  # load adds the registry tables
    assert after["loads"][:1] == before["loads"]
    with Store(seeded, read_only=True) as store:
        assert store.fetchall(
            "SELECT file_name, file_path, rows FROM loads WHERE source = 'table'"
        ) == [(name, str(path), 45)]
        assert store.fetchall(
            "SELECT DISTINCT source FROM trade_flows WHERE basis = 'table'"
        ) == [(f"table:{Path(name).stem}",)]


def test_source_name_with_sql_is_stored_verbatim(cli, seeded: Path) -> None:  # type: ignore[no-untyped-def]
    table = FIXTURES / "reliability" / "lithium_imports_table.csv"
    result = cli("load", "table", table, *TABLE_MAP, "--name", ATTACK)
    assert result.exit_code == 0, result.stderr
    with Store(seeded, read_only=True) as store:
        assert store.fetchall(
            "SELECT count(*) FROM trade_flows WHERE source = $s",
            {"s": f"table:{ATTACK}"},
        ) == [(45,)]
        assert store.fetchall("SELECT count(*) FROM loads") == [(2,)]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["load", "usgs", f"{ATTACK}_world.csv"],
            "cannot tell the commodity",
        ),
        (
            ["load", "table", "TABLE", "--map", f"year=Year{ATTACK}"],
            "mapped column(s) not in the file: year=Year" + ATTACK,
        ),
        (["exposure", "--importer", f"USA{ATTACK}"], "Error: "),
        (["exposure", "--bloc", "eu' OR '1'='1"], "Error: "),
        (["exposure", "--hs", "811292' OR '1'='1"], "Error: "),
        (["exposure", "--concern", f"prc{ATTACK}"], "Error: "),
        (["exposure", "--industry", f"magnets{ATTACK}"], "Error: "),
        (["exposure", "--source", f"comtrade{ATTACK}"], "Error: "),
    ],
)
def test_hostile_values_fail_with_one_line_and_touch_nothing(
    cli, seeded: Path, tmp_path: Path, args: list[str], expected: str
) -> None:  # type: ignore[no-untyped-def]
    tables, before = _tables(seeded)
    if "usgs" in args:
        path = tmp_path / args[2]
        shutil.copy(SOURCES / "usgs" / "mcs2024" / "mcs2024-galli_world.csv", path)
        args = [*args[:2], str(path)]
    if "TABLE" in args:
        args = [
            a
            if a != "TABLE"
            else str(FIXTURES / "reliability" / "lithium_imports_table.csv")
            for a in args
        ]
    result = cli(*args)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert expected in _one_error_line(result.stderr)
    assert _tables(seeded) == (tables, before)
