"""The Apache Spark engine: the same metrics, over a Parquet export, on Spark.

There is one definition of each metric: the named DuckDB queries in
``queries/*.sql`` and the Polars ratios of :mod:`friendshore.engines.exposure`. This
module does not restate either. :class:`SparkStore` answers the few calls the
engines make of a :class:`~friendshore.store.Store` (``pl``, ``register``,
``country_positions``, the trade loads), and :func:`translate` turns each DuckDB
query it is handed into Spark SQL with sqlglot: parameters bound as typed
literals (the types the query's header declares), the store's macros
(``hs_code``, ``hs_text``, :data:`friendshore.store.MACROS`) inlined from their
one definition, DuckDB's 1-based list subscripts made ``try_element_at``, and a
``SELECT f(unnest(list))`` made a subquery over ``explode``. So
``product_exposure(open_parquet(DIR), …)`` and ``world_concentration(…)`` run
their own code, and whatever changes in the SQL changes on Spark too.

The heavy part, the one-pass aggregation over every flow, runs on Spark; the
aggregated sums (one row per year × importer × product at most) come back as
Arrow, and Polars turns them into ratios exactly as for DuckDB.

Errors a user can fix (no Java, no pyspark, a missing or partial export, a path
Spark cannot read) are one-line :class:`~friendshore.errors.InputError`\\ s, never
a JVM stack trace.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import polars
import polars as pl

from friendshore.errors import FriendshoreError, InputError
from friendshore.export import parquet
from friendshore.store import MACROS, Store
from friendshore.store.layout import TABLE_MACROS

# The coded flows the queries read, built from the export's public trade_flows
# and countries exactly as friendshore.store.insert_flows codes them.
_FLOWS_VIEW = """
SELECT t.year, hs_code(t.hs6) AS hs, i.id AS importer_id, e.id AS exporter_id,
       t.hs_revision, t.value_usd, t.quantity_t, t.source, t.basis, t.load_id
FROM trade_flows AS t
JOIN country_ids AS e ON e.iso3 = t.exporter
JOIN country_ids AS i ON i.iso3 = t.importer
"""

_NAME_LINE = re.compile(r"^--\s?name:\s*(\S+)", re.M)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class SparkUnavailableError(InputError):
    """The Spark engine cannot start here: no pyspark, no Java, or no session."""


class SparkQueryError(FriendshoreError):
    """Spark failed on a query (first line of its message)."""


# -- translation -------------------------------------------------------------------


def translate(sql: str, params: Mapping[str, Any] | None = None) -> str:
    """Spark SQL for a DuckDB query of friendshore's, with ``params`` bound.

    Parameters
    ----------
    sql
        DuckDB SQL with ``$name`` parameters: a ``queries/*.sql`` text (its
        header's ``params`` types are used for the literals) or a plain query.
    params
        Values for the ``$name`` parameters.

    Raises
    ------
    FriendshoreError
        A parameter the SQL uses has no value, or a construct this translation
        does not carry over (a list slice).
    """
    import sqlglot
    from sqlglot import exp

    params = dict(params or {})
    types = _declared_types(sql)
    tree = sqlglot.parse_one(sql, read="duckdb")

    def bind(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name:
            if node.name not in params:
                raise FriendshoreError(f"no value for parameter ${node.name}")
            return _literal(params[node.name], types.get(node.name))
        return node

    tree = tree.transform(bind)
    tree = _inline_macros(tree)
    tree = tree.transform(_subscript)
    tree = tree.transform(_unnest_subquery)
    return tree.sql(dialect="spark", comments=False)


def _declared_types(sql: str) -> dict[str, str]:
    """``param -> DuckDB type`` from a catalogue query's header, else empty."""
    from friendshore.store.catalogue import catalogue

    m = _NAME_LINE.search(sql)
    if not m or m.group(1) not in catalogue().queries:
        return {}
    return {p.name: p.type for p in catalogue().get(m.group(1)).params}


def _literal(value: Any, duck_type: str | None) -> Any:
    from sqlglot import exp

    if value is None:
        lit: Any = exp.Null()
    elif isinstance(value, list | tuple):
        lit = exp.Array(expressions=[exp.convert(v) for v in value])
    else:
        lit = exp.convert(value)
    if duck_type is None:
        return lit
    return exp.Cast(this=lit, to=exp.DataType.build(duck_type, dialect="duckdb"))


@cache
def _macro_bodies() -> dict[str, tuple[str, Any]]:
    import sqlglot

    return {
        name: (arg, sqlglot.parse_one(body, read="duckdb"))
        for name, (arg, body) in MACROS.items()
    }


@cache
def _table_macro_bodies() -> dict[str, tuple[tuple[str, ...], Any]]:
    import sqlglot

    return {
        name: (args, sqlglot.parse_one(body, read="duckdb"))
        for name, (args, body) in TABLE_MACROS.items()
    }


def _inline_table_macros(tree: Any) -> Any:
    """``FROM selected_flows(…) AS f`` as ``FROM (its body, arguments put in) AS f``."""
    from sqlglot import exp

    macros = _table_macro_bodies()

    def inline(node: exp.Expression) -> exp.Expression:
        call = node.this if isinstance(node, exp.Table) else None
        if not isinstance(call, exp.Anonymous) or call.name.lower() not in macros:
            return node
        names, body = macros[call.name.lower()]
        values = dict(zip(names, call.expressions, strict=True))

        def put(n: exp.Expression) -> exp.Expression:
            if isinstance(n, exp.Column) and not n.table and n.name in values:
                return values[n.name].copy()
            return n

        alias = node.args.get("alias")
        return exp.Subquery(
            this=body.copy().transform(put),
            alias=alias.copy()
            if alias
            else exp.TableAlias(this=exp.to_identifier(call.name)),
        )

    return tree.transform(inline)


def _inline_macros(tree: Any) -> Any:
    """Replace each call of a store macro by its body (innermost first)."""
    from sqlglot import exp

    tree = _inline_table_macros(tree)
    macros = _macro_bodies()

    def inline(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.lower() in macros:
            arg, body = macros[node.name.lower()]
            (value,) = node.expressions

            def put(n: exp.Expression) -> exp.Expression:
                if isinstance(n, exp.Column) and not n.table and n.name == arg:
                    return value.copy()
                return n

            return exp.Paren(this=body.copy().transform(put))
        return node

    return tree.transform(inline)


def _subscript(node: Any) -> Any:
    """DuckDB's 1-based ``list[i]`` as Spark's ``try_element_at`` (1-based, NULL out of range)."""
    from sqlglot import exp

    if not isinstance(node, exp.Bracket):
        return node
    if len(node.expressions) != 1 or isinstance(node.expressions[0], exp.Slice):
        raise FriendshoreError(f"cannot translate the subscript {node.sql('duckdb')}")
    return exp.Anonymous(
        this="try_element_at", expressions=[node.this, node.expressions[0]]
    )


def _unnest_subquery(node: Any) -> Any:
    """``SELECT f(unnest(l))`` (no FROM) as ``SELECT f(u) FROM (SELECT unnest(l) AS u)``.

    Spark allows a generator (``explode``) only at the top of a projection.
    """
    from sqlglot import exp

    if (
        not isinstance(node, exp.Select)
        or node.args.get("from_")
        or (node.args.get("from"))
    ):
        return node
    nests = list(node.find_all(exp.Unnest, exp.Explode))
    # One list, unnested once or more (an inlined macro repeats its argument):
    # DuckDB unnests the copies side by side, so they are one column.
    if not nests or len(node.expressions) != 1 or any(n != nests[0] for n in nests):
        return node
    if nests[0] is node.expressions[0]:
        return node
    inner = exp.select(exp.alias_(nests[0].copy(), "_u")).subquery("_unnest")
    for nest in nests:
        nest.replace(exp.column("_u"))
    return node.from_(inner)


@contextmanager
def _quiet() -> Iterator[None]:
    """Without pyspark's FutureWarning about pandas (friendshore never uses it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support")
        yield


# -- the session --------------------------------------------------------------------


def java_available() -> bool:
    """Whether a ``java`` launcher is reachable (``$JAVA_HOME/bin/java`` or PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return True
    return shutil.which("java") is not None


def session(master: str | None = None) -> Any:
    """A SparkSession: the active one (spark-submit, Databricks) or a new one.

    Parameters
    ----------
    master
        Spark master URL for a new session (``local[2]``, ``yarn``,
        ``spark://host:7077``); ``None``: the active session, else Spark's own
        default (``local[*]``, or what spark-submit set).

    Raises
    ------
    SparkUnavailableError
        pyspark is not installed, no Java is found, or the JVM does not start.
    """
    try:
        with _quiet():
            from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(
            "the Spark engine needs pyspark: pip install 'friendshore[spark]' "
            "(and Java 17)"
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit's own JVM
    if not submitted and not java_available():
        raise SparkUnavailableError(
            "the Spark engine needs Java 17 and none was found (no java on PATH, "
            "JAVA_HOME unset); install it, e.g. apt-get install "
            "openjdk-17-jre-headless"
        )
    if not submitted and "SPARK_CONF_DIR" not in os.environ:
        # Spark's start-up chatter (log4j warnings) off stderr: errors only.
        os.environ["SPARK_CONF_DIR"] = str(Path(__file__).parent / "spark_conf")
    builder = (
        SparkSession.builder.appName("friendshore")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
    )
    if master is not None:
        builder = builder.master(master)
    try:
        with _quiet():
            spark = builder.getOrCreate()
    except Exception as exc:
        raise SparkUnavailableError(
            f"Spark did not start: {_first_line(exc)}"
        ) from None
    return spark


def _first_line(exc: BaseException) -> str:
    """The first meaningful line of a (possibly Java) error message."""
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("at ", "JVM stacktrace", "Caused by")):
            return line[:300]
    return type(exc).__name__


# -- the store over an export ---------------------------------------------------------


class SparkStore:
    """A Parquet export read by Spark, answering as a :class:`Store` does.

    Build it with :func:`open_parquet`. It offers what the exposure and
    world-concentration engines call (``pl``, ``register``, ``unregister``,
    ``country_positions``, ``trade_loads``, ``loads``) and nothing that writes.
    """

    def __init__(self, root: str, spark: Any, manifest: dict[str, Any]) -> None:
        self.root = root
        self.path = root
        self.spark = spark
        self.manifest = manifest
        self.read_only = True
        self._positions: pl.DataFrame | None = None
        self._views()

    # -- what the engines call ------------------------------------------------------
    def pl(self, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Run a DuckDB query of friendshore's on Spark; Polars result."""
        text = translate(sql, params)
        try:
            with _quiet():
                table = self.spark.sql(text).toArrow()
        except Exception as exc:
            raise SparkQueryError(f"Spark failed: {_first_line(exc)}") from None
        return pl.from_arrow(table)  # type: ignore[return-value]

    def fetchall(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Every row of a query, as tuples."""
        return self.pl(sql, params).rows()

    def register(self, name: str, data: Any) -> None:
        """A Polars frame or Arrow table as a Spark temp view ``name``."""
        table = data.to_arrow() if isinstance(data, pl.DataFrame) else data
        with _quiet():
            self.spark.createDataFrame(table).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        """Drop a temp view made by :meth:`register`."""
        self.spark.catalog.dropTempView(name)

    def temp_table(
        self, name: str, sql: str, params: Mapping[str, Any] | None = None
    ) -> None:
        """As :meth:`Store.temp_table`: a query's result, cached, as a temp view."""
        text = translate(sql, params)
        try:
            with _quiet():
                self.spark.sql(text).cache().createOrReplaceTempView(name)
        except Exception as exc:
            raise SparkQueryError(f"Spark failed: {_first_line(exc)}") from None

    def drop_temp(self, name: str) -> None:
        """Drop a view made by :meth:`temp_table`."""
        self.spark.catalog.dropTempView(name)

    def country_positions(self) -> polars.DataFrame:
        """As :meth:`Store.country_positions` (the same code), read once."""
        if self._positions is None:
            self._positions = Store.country_positions(self)  # type: ignore[arg-type]
        return self._positions

    def trade_loads(self) -> polars.DataFrame:
        """Which load answers for which year, as the store said at export time."""
        rows = self.manifest.get("trade_loads") or []
        return pl.DataFrame(
            rows,
            schema={
                "year": pl.Int16,
                "load_id": pl.Int32,
                "source": pl.String,
                "hs_revision": pl.String,
                "basis": pl.String,
                "file_name": pl.String,
            },
        )

    def loads(self) -> polars.DataFrame:
        """The store's ``loads`` table at export time (file, sha256, rows, …)."""
        return pl.DataFrame(self.manifest.get("loads") or [])

    def close(self) -> None:
        """Drop this store's views (the session stays: it may be shared)."""
        for name in ("flows", "country_ids", "countries", "trade_flows"):
            self.spark.catalog.dropTempView(name)

    def __enter__(self) -> SparkStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- set-up ----------------------------------------------------------------------
    def _views(self) -> None:
        with _quiet():
            self._make_views()

    def _make_views(self) -> None:
        tables = self.manifest["tables"]
        for name in ("trade_flows", "countries"):
            if tables[name]["files"]:
                df = self._read(name)
            else:  # an empty store's export: the schema, no rows
                df = self.spark.createDataFrame([], _EMPTY_SCHEMAS[name])
            df.createOrReplaceTempView(name)
        self.spark.sql(
            "CREATE OR REPLACE TEMP VIEW country_ids AS "
            "SELECT CAST(id AS SMALLINT) AS id, iso3 FROM countries"
        )
        self.spark.sql(f"CREATE OR REPLACE TEMP VIEW flows AS {translate(_FLOWS_VIEW)}")

    def _read(self, table: str) -> Any:
        where = f"{self.root}/{table}"
        try:
            return self.spark.read.parquet(where)
        except Exception as exc:
            raise InputError(f"cannot read {where}: {_first_line(exc)}") from None


_EMPTY_SCHEMAS = {
    "trade_flows": (
        "exporter STRING, importer STRING, hs6 STRING, hs_revision STRING, "
        "value_usd DOUBLE, quantity_t DOUBLE, basis STRING, load_id INT, "
        "source STRING, year INT"
    ),
    "countries": "id SMALLINT, iso3 STRING, name STRING, kind STRING",
}


def open_parquet(
    root: str | Path,
    *,
    spark: Any = None,
    master: str | None = None,
) -> SparkStore:
    """Open a ``friendshore export parquet`` directory on Spark.

    Parameters
    ----------
    root
        The export: a local directory or any path Spark reads (``s3a://…``,
        ``abfss://…``, ``dbfs:/…``).
    spark
        A SparkSession to use (default: the active one, else a new one).
    master
        Master URL for a new session (see :func:`session`).

    Returns
    -------
    SparkStore
        Pass it where a store goes: ``product_exposure(store, …)``,
        ``industry_exposure``, ``world_concentration``.

    Raises
    ------
    InputError
        No manifest (not an export, or an unfinished one), a file the manifest
        lists is missing or of another size, or Spark cannot read the path;
        :class:`SparkUnavailableError` when Spark cannot start.

    Examples
    --------
    >>> store = open_parquet("export/", master="local[2]")  # doctest: +SKIP
    >>> product_exposure(store, importer="USA", year=2022)  # doctest: +SKIP
    """
    text = str(root).rstrip("/")
    local = _local_dir(text)
    if local is not None:
        if not local.is_dir():
            raise InputError(f"{text}: no such directory (expected a Parquet export)")
        if not (local / parquet.MANIFEST).is_file():
            raise InputError(
                f"{text} has no {parquet.MANIFEST}: not a friendshore export, or "
                "one that did not finish; run `friendshore export parquet` again"
            )
        try:
            raw = json.loads((local / parquet.MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{text}/{parquet.MANIFEST}: unreadable ({exc})") from None
        manifest = parquet.check_manifest(raw, text)
        _check_local_files(local, manifest, text)
        spark = spark or session(master)
    else:
        spark = spark or session(master)
        manifest = parquet.check_manifest(_read_remote_manifest(spark, text), text)
        _check_remote_files(spark, text, manifest)
    return SparkStore(text, spark, manifest)


def _local_dir(text: str) -> Path | None:
    if text.startswith("file://"):
        return Path(text.removeprefix("file://"))
    if _SCHEME.match(text) or re.match(r"^[a-z]+:/", text):
        return None
    return Path(text)


def _check_local_files(local: Path, manifest: dict[str, Any], where: str) -> None:
    for f in parquet.listed_files(manifest):
        path = local / f["path"]
        if not path.is_file():
            raise InputError(
                f"{where} is incomplete: {f['path']} (listed in {parquet.MANIFEST}) is "
                "missing; run `friendshore export parquet` again"
            )
        if path.stat().st_size != f["bytes"]:
            raise InputError(
                f"{where} is incomplete: {f['path']} has {path.stat().st_size} bytes, "
                f"{parquet.MANIFEST} lists {f['bytes']}"
            )


def _read_remote_manifest(spark: Any, root: str) -> Any:
    where = f"{root}/{parquet.MANIFEST}"
    try:
        rows = spark.read.text(where, wholetext=True).collect()
        return json.loads(rows[0][0])
    except ValueError as exc:
        raise InputError(f"{where}: not JSON ({exc})") from None
    except Exception as exc:
        raise InputError(f"cannot read {where}: {_first_line(exc)}") from None


def _check_remote_files(spark: Any, root: str, manifest: dict[str, Any]) -> None:
    """Each listed file exists, through Spark's own Hadoop file system (if reachable)."""
    jvm = getattr(spark, "_jvm", None)
    if jvm is None:  # Spark Connect: reading will tell
        return
    conf = spark._jsc.hadoopConfiguration()
    base = jvm.org.apache.hadoop.fs.Path(root)
    fs = base.getFileSystem(conf)
    for f in parquet.listed_files(manifest):
        if not fs.exists(jvm.org.apache.hadoop.fs.Path(base, f["path"])):
            raise InputError(
                f"{root} is incomplete: {f['path']} (listed in {parquet.MANIFEST}) is "
                "missing; run `friendshore export parquet` again"
            )
