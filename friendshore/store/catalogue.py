"""The catalogue of named SQL queries: ``queries/*.sql`` with their headers.

Each file holds one query; its stem is the public name. A header of ``-- key:
value`` comment lines (continuation lines indented further) declares::

    -- name: production_concentration
    -- public: yes                                   (or "no": an engine's own)
    -- description: what it answers (free text, may continue on indented lines)
    -- inputs: production
    -- params: year SMALLINT, commodity VARCHAR      (or "(none)")
    -- grain: edition, commodity, stage
    -- returns: edition VARCHAR, commodity VARCHAR, listed_total DOUBLE

A public query reads only the store's public tables and takes parameters a user can
type: ``friendshore query list`` shows it and ``query run`` runs it. An internal one
(``public: no``) is part of an engine: it reads the coded ``flows`` table and temp
tables the engine creates, with list parameters the engine builds, so the CLI neither
lists nor runs it.

The catalogue validates every file when it is read (name == file stem, every
``$param`` in the SQL declared and every declared param used) and reports the
problem as ``file:line``. Names are looked up only in the catalogue, so a user's
name never becomes a path; parameter values are bound by DuckDB, never formatted
into the SQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from friendshore._assets import queries_dir
from friendshore.errors import (
    ParameterError,
    QueryDefinitionError,
    UnknownNameError,
)
from friendshore.store import Store

HEADER_KEYS = (
    "name",
    "public",
    "description",
    "inputs",
    "params",
    "grain",
    "returns",
)
_PUBLIC = {"yes": True, "no": False}
_NONE = "(none)"

_KEY_LINE = re.compile(r"^--\s?(?P<key>[a-z_]+):\s*(?P<value>.*)$")
_CONT_LINE = re.compile(r"^--\s{2,}(?P<value>\S.*)$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A named DuckDB parameter; ``$1``-style positional ones are not allowed.
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# String literals, quoted identifiers and comments, blanked before looking for $params.
_NOT_CODE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)

# Declared parameter types → how a command-line string becomes a Python value.
_INT_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT"}
_FLOAT_TYPES = {"DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC"}
_TEXT_TYPES = {"VARCHAR", "TEXT", "STRING"}
_PARAM_TYPES = _INT_TYPES | _FLOAT_TYPES | _TEXT_TYPES | {"BOOLEAN", "DATE"}


@dataclass(frozen=True)
class Column:
    """A declared name and DuckDB type (a parameter or a returned column)."""

    name: str
    type: str


@dataclass(frozen=True)
class Query:
    """One named query: its header, SQL text and file."""

    name: str
    public: bool
    description: str
    inputs: tuple[str, ...]
    params: tuple[Column, ...]
    grain: tuple[str, ...]
    returns: tuple[Column, ...]
    sql: str
    path: Path

    @property
    def param_names(self) -> tuple[str, ...]:
        """Declared parameter names, in header order."""
        return tuple(p.name for p in self.params)

    def bind(self, raw: Mapping[str, str]) -> dict[str, Any]:
        """Typed parameter values from ``key=value`` strings.

        Raises
        ------
        ParameterError
            A missing, undeclared or ill-typed parameter (all of them at once).
        """
        declared = {p.name: p for p in self.params}
        extra = sorted(set(raw) - set(declared))
        missing = [n for n in declared if n not in raw]
        problems: list[str] = []
        if missing:
            problems.append(
                "missing " + ", ".join(_describe(declared[n]) for n in missing)
            )
        if extra:
            takes = ", ".join(map(_describe, self.params)) or "no parameters"
            problems.append(f"unknown {', '.join(extra)} (it takes {takes})")
        if problems:
            raise ParameterError(f"query {self.name}: " + "; ".join(problems))
        return {name: _convert(self.name, declared[name], raw[name]) for name in raw}


def _describe(col: Column) -> str:
    return f"{col.name} ({col.type})"


def _convert(query: str, param: Column, text: str) -> Any:
    """The Python value DuckDB binds for a declared type."""
    base = param.type.upper()
    if base.endswith("[]"):
        inner = Column(param.name, base[:-2])
        if not text.strip():
            return []  # "--param hs6=" is the empty list
        return [_convert(query, inner, part.strip()) for part in text.split(",")]
    base = base.split("(")[0]
    try:
        if base in _INT_TYPES:
            return int(text)
        if base in _FLOAT_TYPES:
            return float(text)
        if base == "BOOLEAN":
            lowered = text.strip().lower()
            if lowered in {"true", "1", "yes"}:
                return True
            if lowered in {"false", "0", "no"}:
                return False
            raise ValueError(text)
        if base == "DATE":
            return date.fromisoformat(text)
    except ValueError:
        raise ParameterError(
            f"query {query}: parameter {param.name} expects {param.type}, got {text!r}"
        ) from None
    return text


# -- parsing ---------------------------------------------------------------------


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses (``DECIMAL(18, 2)`` stays whole)."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        depth += (ch == "(") - (ch == ")")
        cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def _names(value: str) -> tuple[str, ...]:
    return () if value.strip() == _NONE else tuple(_split_top(value))


def _columns(value: str, where: str, key: str) -> tuple[Column, ...]:
    if value.strip() == _NONE:
        return ()
    cols: list[Column] = []
    for item in _split_top(value):
        name, _, typ = item.partition(" ")
        if not _IDENT.match(name) or not typ.strip():
            raise QueryDefinitionError(
                f"{where}: {key} entry {item!r} is not 'name TYPE'"
            )
        cols.append(Column(name, " ".join(typ.split())))
    return tuple(cols)


def parse_query(path: Path) -> Query:
    """Read and validate one ``.sql`` file.

    Raises
    ------
    QueryDefinitionError
        Header missing or malformed, name ≠ file stem, undeclared or unused
        parameters; the message starts with ``file:line``.
    """
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    header: dict[str, str] = {}
    key_line: dict[str, int] = {}
    current: str | None = None
    body_start = len(lines)
    for i, line in enumerate(lines, start=1):
        if not line.startswith("--"):
            body_start = i - 1
            break
        if m := _KEY_LINE.match(line):
            current = m["key"]
            if current in header:
                raise QueryDefinitionError(
                    f"{path.name}:{i}: duplicate key {current!r}"
                )
            header[current] = m["value"].strip()
            key_line[current] = i
        elif (m := _CONT_LINE.match(line)) and current is not None:
            header[current] += " " + m["value"].strip()
        else:
            raise QueryDefinitionError(
                f"{path.name}:{i}: expected '-- key: value' or an indented "
                "continuation line in the header"
            )
    unknown = [k for k in header if k not in HEADER_KEYS]
    if unknown:
        raise QueryDefinitionError(
            f"{path.name}:{key_line[unknown[0]]}: unknown header key(s) "
            f"{', '.join(unknown)}; expected {', '.join(HEADER_KEYS)}"
        )
    missing = [k for k in HEADER_KEYS if not header.get(k)]
    if missing:
        raise QueryDefinitionError(
            f"{path.name}:1: header lacks {', '.join(missing)} "
            f"(every query declares {', '.join(HEADER_KEYS)})"
        )

    def at(key: str) -> str:
        return f"{path.name}:{key_line[key]}"

    if header["name"] != path.stem:
        raise QueryDefinitionError(
            f"{at('name')}: name {header['name']!r} differs from the file name "
            f"{path.stem!r}"
        )
    public = _PUBLIC.get(header["public"].strip().lower())
    if public is None:
        raise QueryDefinitionError(
            f"{at('public')}: public is {header['public']!r}; expected yes or no"
        )
    params = _columns(header["params"], at("params"), "params")
    for p in params:
        base = p.type.upper().removesuffix("[]").split("(")[0]
        if base not in _PARAM_TYPES:
            raise QueryDefinitionError(
                f"{at('params')}: parameter {p.name} has unsupported type {p.type}; "
                f"use one of {', '.join(sorted(_PARAM_TYPES))} (or TYPE[])"
            )
    sql = "\n".join(lines[body_start:]).strip()
    if not sql:
        raise QueryDefinitionError(f"{path.name}:{len(lines)}: no SQL after the header")
    used = _used_params(lines, body_start)
    declared = {p.name for p in params}
    for name, line_no in used.items():
        if name not in declared:
            raise QueryDefinitionError(
                f"{path.name}:{line_no}: ${name} is not declared in the params header"
            )
    for name in declared - set(used):
        raise QueryDefinitionError(
            f"{at('params')}: parameter {name} is declared but the SQL never uses ${name}"
        )
    return Query(
        name=header["name"],
        public=public,
        description=header["description"],
        inputs=_names(header["inputs"]),
        params=params,
        grain=_names(header["grain"]),
        returns=_columns(header["returns"], at("returns"), "returns"),
        sql=sql,
        path=path,
    )


def _used_params(lines: Sequence[str], body_start: int) -> dict[str, int]:
    """``$name`` → first line number where the SQL body uses it."""
    body = "\n".join(lines[body_start:])
    # Blank literals and comments but keep newlines, so line numbers stay right.
    code = _NOT_CODE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), body)
    found: dict[str, int] = {}
    for m in _PARAM.finditer(code):
        line_no = body_start + code.count("\n", 0, m.start()) + 1
        found.setdefault(m.group(1), line_no)
    return found


# -- the catalogue ---------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    """Every named query of a directory, by name."""

    queries: Mapping[str, Query]

    def names(self) -> list[str]:
        """Query names, sorted."""
        return sorted(self.queries)

    def get(self, name: str) -> Query:
        """The query called ``name`` (never a path: unknown → "Did you mean")."""
        try:
            return self.queries[name]
        except KeyError:
            raise UnknownNameError("query", name, self.names()) from None

    def public(self) -> Catalogue:
        """The queries a user can run (``public: yes``): what the CLI lists and runs."""
        return Catalogue({n: q for n, q in self.queries.items() if q.public})

    def frame(self) -> pl.DataFrame:
        """One row per query with its header, for ``friendshore query list``."""
        rows = [
            {
                "name": q.name,
                "description": q.description,
                "params": ", ".join(f"{p.name} {p.type}" for p in q.params) or _NONE,
                "inputs": ", ".join(q.inputs),
                "grain": ", ".join(q.grain),
                "returns": ", ".join(f"{c.name} {c.type}" for c in q.returns),
            }
            for q in (self.queries[n] for n in self.names())
        ]
        schema = dict.fromkeys(
            ("name", "description", "params", "inputs", "grain", "returns"), pl.String
        )
        return pl.DataFrame(rows, schema=schema)


def read_catalogue(directory: Path) -> Catalogue:
    """Parse every ``*.sql`` file of ``directory`` (sorted by name)."""
    queries = {}
    for path in sorted(directory.glob("*.sql")):
        query = parse_query(path)
        queries[query.name] = query
    return Catalogue(queries)


@cache
def catalogue() -> Catalogue:
    """The bundled catalogue (``queries/``), parsed once per process."""
    return read_catalogue(queries_dir())


def run_query(
    store: Store,
    name: str,
    params: Mapping[str, str] | None = None,
    *,
    queries: Catalogue | None = None,
) -> pl.DataFrame:
    """Run a named query with DuckDB-bound, header-typed parameters.

    Parameters
    ----------
    store
        The store to run against.
    name
        A name from the catalogue (``friendshore query list``).
    params
        ``{"key": "value"}`` strings as given on the command line; converted to
        the types the header declares.
    queries
        Catalogue to look the name up in (default: the bundled public queries).

    Raises
    ------
    UnknownNameError
        ``name`` is not in the catalogue (an engine's internal query is not).
    ParameterError
        Missing, extra or ill-typed parameters, or an input table the store lacks.
    """
    query = (queries or catalogue().public()).get(name)
    bound = query.bind(params or {})
    present = {
        r[0].lower()
        for r in store.fetchall(
            "SELECT table_name FROM information_schema.tables "
            "UNION SELECT view_name FROM duckdb_views()"
        )
    }
    absent = [t for t in query.inputs if t.lower() not in present]
    if absent:
        raise ParameterError(
            f"query {name} reads {', '.join(absent)}, which this store does not have"
        )
    return store.pl(query.sql, bound)
