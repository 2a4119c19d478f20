"""Benchmark cases: friendshore's public API against reference implementations.

Each :class:`Case` names implementations that answer the same question — ours
(friendshore's public API, always first) and references (a hand-tuned single DuckDB
statement over the same store, a straightforward pandas version as an economist
would write it, a Polars lazy one-liner). Each implementation has a timed ``run``
and an untimed ``answer`` that reduces its result to a row count and a few column
sums; the harness compares those across implementations, so a fast-but-wrong
change cannot pass.

A case whose friendshore API has not landed yet reports why through
``available`` instead of failing (the exposure and simulation engines are written
in parallel with this suite).
"""

from __future__ import annotations

import importlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from benchmarks.duckdb_script import EXPOSURE_SQL, INDUSTRY_SQL
from benchmarks.synth import Release

OURS = "friendshore"
Answer = dict[str, float]

# The concern group of DESIGN.md (default --concern prc), used when the registry
# cannot say; the registry's own ``prc`` members are preferred.
PRC = ("CHN", "HKG", "MAC")
BASKET_IMPORTER = "USA"  # the one-importer cases: the user the project starts from


# -- context ------------------------------------------------------------------------
@dataclass
class Ctx:
    """What a case runs against: the synthetic release and a loaded store."""

    release: Release
    year: int
    store_path: Path
    scratch: Path
    _store: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def csv(self) -> Path:
        """The year file being benchmarked."""
        return self.release.year_files[self.year]

    @property
    def store(self) -> Any:
        """The loaded friendshore store (opened on first use)."""
        if self._store is None:
            from friendshore.store import Store

            self._store = Store(self.store_path)
        return self._store

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The store's DuckDB connection, for the reference SQL."""
        return self.store.con  # type: ignore[no-any-return]

    def fresh(self, name: str) -> Path:
        """A path in a new empty scratch folder (for load targets)."""
        folder = Path(tempfile.mkdtemp(prefix="bench-", dir=self.scratch))
        return folder / name

    def close(self) -> None:
        """Close the store if it was opened."""
        if self._store is not None:
            self._store.close()
            self._store = None


@dataclass(frozen=True)
class Impl:
    """One implementation: a timed ``run`` and an untimed ``answer``."""

    name: str
    run: Callable[[Ctx], Any]
    answer: Callable[[Ctx, Any], Answer]
    cleanup: Callable[[Any], None] | None = None
    # Why this implementation cannot run yet (None: it can); a reference that is
    # itself a friendshore API may land later than the case's own API.
    available: Callable[[], str | None] = lambda: None


@dataclass(frozen=True)
class Target:
    """A performance target from the issues: ``metric`` ≤ ``limit``.

    ``metric`` is ``ratio:<reference>`` (ours / reference), ``seconds`` (ours'
    median) or ``peak_mb`` (ours' peak RSS).
    """

    metric: str
    limit: float
    source: str


@dataclass(frozen=True)
class Case:
    """A benchmark case; ``impls[0]`` is ours."""

    name: str
    title: str
    impls: tuple[Impl, ...]
    targets: tuple[Target, ...] = ()
    # Names of implementations whose answers must equal ours; others (a yardstick
    # that computes something else) are only timed.
    compare: tuple[str, ...] = ()
    # Fields every compared answer must carry (besides ``rows``).
    required: tuple[str, ...] = ()
    available: Callable[[], str | None] = lambda: None
    setup: Callable[[Ctx], None] | None = None
    # Extra invariant checks of ours' answer; return a problem or None.
    validate: Callable[[Ctx, Answer], str | None] | None = None


# -- helpers ------------------------------------------------------------------------
def _api(module: str, *names: str) -> str | None:
    """None when ``module`` exports every name, else why not (for ``available``)."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return f"not available yet: {module} cannot be imported ({exc})"
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        return f"not available yet: {module} has no {', '.join(missing)}"
    return None


def _frame(result: Any) -> pl.DataFrame:
    """A Polars frame from whatever an implementation returned."""
    if isinstance(result, pl.DataFrame):
        return result
    if isinstance(result, pl.LazyFrame):
        return result.collect()
    if isinstance(result, pa.Table):
        return pl.DataFrame(result)
    if hasattr(result, "to_pandas") or type(result).__module__.startswith("pandas"):
        return pl.from_pandas(result.reset_index(drop=True))
    raise TypeError(f"cannot read a {type(result).__name__} result")


def _pick(df: pl.DataFrame, *names: str) -> str | None:
    """First of ``names`` that is a column of ``df``."""
    return next((n for n in names if n in df.columns), None)


# field -> column names that carry it (first found wins), so a renamed column in
# the engine does not silently drop a check.
_FIELDS: dict[str, tuple[str, ...]] = {
    "import_value_usd": ("import_value_usd",),
    "export_value_usd": (
        "world_export_value_usd",
        "export_value_usd",
        "world_exports_usd",
        "value_usd",
    ),
    "n_suppliers": ("n_suppliers", "n_exporters"),
    "hhi": ("hhi",),
    "prc_share": ("prc_share", "concern_share"),
    "top_share": ("top_supplier_share", "top_exporter_share", "top_share"),
    "ally_share": ("ally_share",),
    "partner_share": ("partner_share",),
    "lookthrough_prc_share": (
        "lookthrough_prc_share",
        "indirect_prc_share",
        "lookthrough_share",
    ),
}


def frame_answer(result: Any, fields: tuple[str, ...]) -> Answer:
    """Row count and the sum of each field present (nulls count as 0)."""
    df = _frame(result)
    out: Answer = {"rows": float(df.height)}
    for name in fields:
        col = _pick(df, *_FIELDS.get(name, (name,)))
        if col is not None:
            out[name] = float(df[col].cast(pl.Float64).fill_null(0.0).sum())
    return out


# Residual and unspecified areas (DESIGN.md): in totals only, never a supplier,
# importer or tier. The references mark them as tier 'residual'.
RESIDUAL_RE = r"^(X[0-9]{3}|XRW|XOT|WLD)$"


def _tiers(year: int) -> pa.Table:
    """``iso3, tier`` of every listed country as of the year (the registry's rule)."""
    try:
        from friendshore.reference.registry import load_registry

        df = load_registry().tiers(year)
    except Exception:  # registry not usable yet: the concern group alone
        df = pl.DataFrame({"iso3": list(PRC), "tier": ["concern"] * len(PRC)})
    return df.to_arrow()


def _tier_map(ctx: Ctx) -> dict[str, str]:
    t = ctx.extra["tiers"]
    return dict(zip(t["iso3"].to_pylist(), t["tier"].to_pylist(), strict=True))


def _register_tiers(ctx: Ctx) -> None:
    ctx.extra["tiers"] = _tiers(ctx.year)
    ctx.con.register("bench_tiers", ctx.extra["tiers"])
    # The store keeps flows with integer country ids (friendshore.store): the
    # hand-tuned references join the tiers on those ids, in a native table.
    ctx.con.execute(
        """CREATE OR REPLACE TEMP TABLE bench_tier_ids AS
           SELECT c.id, t.tier FROM bench_tiers AS t
           JOIN country_ids AS c ON c.iso3 = t.iso3
           WHERE NOT regexp_full_match(c.iso3, $re)
           UNION ALL
           SELECT id, 'residual' FROM country_ids WHERE regexp_full_match(iso3, $re)""",
        {"re": RESIDUAL_RE},
    ).fetchall()


# -- 1. load ----------------------------------------------------------------------
def _load_ours(ctx: Ctx) -> Path:
    from friendshore.sources import load
    from friendshore.store import Store

    path = ctx.fresh("store.duckdb")
    rel = ctx.release
    with Store(path) as store:
        load(store, "baci", [ctx.csv, rel.country_codes, rel.product_codes])
    return path


def _load_ours_answer(ctx: Ctx, path: Path) -> Answer:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows, v, q = con.execute(
            "SELECT count(*), sum(value_usd) / 1000, count(quantity_t) "
            "FROM trade_flows WHERE year = $y",
            {"y": ctx.year},
        ).fetchall()[0]
    finally:
        con.close()
    return {"rows": float(rows), "v": float(v), "q_present": float(q)}


def _load_duckdb(ctx: Ctx) -> Path:
    path = ctx.fresh("bare.duckdb")
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "CREATE TABLE t AS SELECT * FROM read_csv($p)", {"p": str(ctx.csv)}
        ).fetchall()
    finally:
        con.close()
    return path


def _load_duckdb_answer(ctx: Ctx, path: Path) -> Answer:
    con = duckdb.connect(str(path), read_only=True)
    try:
        # The sniffer types q as text because of NA; count the numbers.
        rows, v, q = con.execute(
            "SELECT count(*), sum(v), count(TRY_CAST(q AS DOUBLE)) FROM t"
        ).fetchall()[0]
    finally:
        con.close()
    return {"rows": float(rows), "v": float(v), "q_present": float(q)}


def _load_pandas(ctx: Ctx) -> Any:
    import pandas as pd

    return pd.read_csv(ctx.csv)


def _load_pandas_answer(ctx: Ctx, df: Any) -> Answer:
    return {
        "rows": float(len(df)),
        "v": float(df["v"].sum()),
        "q_present": float(df["q"].notna().sum()),
    }


def _rm_parent(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)


LOAD = Case(
    name="load",
    title="BACI year CSV → store (fresh file)",
    impls=(
        Impl(OURS, _load_ours, _load_ours_answer, _rm_parent),
        Impl("duckdb_sql", _load_duckdb, _load_duckdb_answer, _rm_parent),
        Impl("pandas", _load_pandas, _load_pandas_answer),
    ),
    targets=(
        Target("ratio:duckdb_sql", 1.5, "issue 2"),
        Target("peak_mb", 1536.0, "issue 2"),
    ),
    compare=("duckdb_sql", "pandas"),
    required=("v", "q_present"),
    available=lambda: _api("friendshore.sources", "load"),
)


# -- 2. product exposure, all importers × products -----------------------------------
_EXPOSURE_FIELDS = (
    "import_value_usd",
    "n_suppliers",
    "hhi",
    "prc_share",
    "top_share",
    "ally_share",
    "partner_share",
)

_FLOWS_SQL = """
SELECT importer, exporter, hs6, value_usd FROM trade_flows
WHERE year = $year AND value_usd > 0
"""


def _exposure_ours(ctx: Ctx, **kwargs: Any) -> Any:
    from friendshore.engines.exposure import product_exposure

    return product_exposure(ctx.store, year=ctx.year, **kwargs)


def _exposure_duckdb(ctx: Ctx) -> pa.Table:
    return ctx.con.sql(EXPOSURE_SQL, params={"year": ctx.year}).to_arrow_table()


def _exposure_pandas(ctx: Ctx) -> Any:
    # What an economist would write: fetch the year, shares per group, then sums.
    df = ctx.con.sql(_FLOWS_SQL, params={"year": ctx.year}).df()
    df = df[~df["importer"].str.fullmatch(RESIDUAL_RE)]
    df["tier"] = df["exporter"].map(_tier_map(ctx)).fillna("other")
    df.loc[df["exporter"].str.fullmatch(RESIDUAL_RE), "tier"] = "residual"
    keys = ["importer", "hs6"]
    df["share"] = df["value_usd"] / df.groupby(keys)["value_usd"].transform("sum")
    named = df["tier"] != "residual"
    df["share_sq"] = (df["share"] ** 2).where(named, 0.0)
    df["named_share"] = df["share"].where(named)
    df["named"] = named.astype(int)
    for tier in ("concern", "ally", "partner"):
        df[tier] = df["share"].where(df["tier"] == tier, 0.0)
    out = (
        df.groupby(keys)
        .agg(
            import_value_usd=("value_usd", "sum"),
            n_suppliers=("named", "sum"),
            top_supplier_share=("named_share", "max"),
            hhi=("share_sq", "sum"),
            prc_share=("concern", "sum"),
            ally_share=("ally", "sum"),
            partner_share=("partner", "sum"),
        )
        .reset_index()
    )
    ranked = df[named]
    top = ranked.loc[ranked.groupby(keys)["value_usd"].idxmax(), [*keys, "exporter"]]
    top = top.rename(columns={"exporter": "top_supplier"})
    return out.merge(top, on=keys, how="left")


def _exposure_polars(ctx: Ctx) -> pl.DataFrame:
    flows = ctx.con.sql(_FLOWS_SQL, params={"year": ctx.year}).to_arrow_table()
    v, tier = pl.col("value_usd"), pl.col("tier")
    named = ~pl.col("exporter").str.contains(RESIDUAL_RE)
    nv = v.filter(named)
    return (
        pl.DataFrame(flows)
        .lazy()
        .filter(~pl.col("importer").str.contains(RESIDUAL_RE))
        .join(
            pl.DataFrame(ctx.extra["tiers"]).lazy(),
            left_on="exporter",
            right_on="iso3",
            how="left",
        )
        .group_by("importer", "hs6")
        .agg(
            import_value_usd=v.sum(),
            n_suppliers=named.sum(),
            top_supplier=pl.col("exporter").filter(named).get(nv.arg_max()),
            top_supplier_share=nv.max() / v.sum(),
            hhi=(nv * nv).sum() / v.sum() ** 2,
            prc_share=v.filter(tier == "concern").sum() / v.sum(),
            ally_share=v.filter(tier == "ally").sum() / v.sum(),
            partner_share=v.filter(tier == "partner").sum() / v.sum(),
        )
        .collect()
    )


def _exposure_answer(ctx: Ctx, result: Any) -> Answer:
    return frame_answer(result, _EXPOSURE_FIELDS)


def _exposure_setup(ctx: Ctx) -> None:
    _register_tiers(ctx)


EXPOSURE = Case(
    name="exposure",
    title="product exposure, all importers × products, one year",
    impls=(
        Impl(OURS, _exposure_ours, _exposure_answer),
        Impl("duckdb_sql", _exposure_duckdb, _exposure_answer),
        Impl("pandas", _exposure_pandas, _exposure_answer),
        Impl("polars", _exposure_polars, _exposure_answer),
    ),
    # Issue 17 retired "≥ 20× faster than pandas": pandas and Polars stay as
    # reported references only.
    targets=(Target("ratio:duckdb_sql", 1.5, "issue 4 (goal 1.2)"),),
    compare=("duckdb_sql", "pandas", "polars"),
    required=("import_value_usd", "hhi", "prc_share"),
    available=lambda: _api("friendshore.engines.exposure", "product_exposure"),
    setup=_exposure_setup,
)


# -- 3. one importer's industry basket --------------------------------------------
_INDUSTRY_FIELDS = ("import_value_usd", "hhi", "prc_share")


def _industry_setup(ctx: Ctx) -> None:
    from friendshore.reference.industries import load_industries

    _register_tiers(ctx)
    products = load_industries().products(hs_revision="HS2017")
    ctx.extra["industry_products"] = products.select("industry", "hs6").unique()
    ctx.con.register("bench_industry_products", ctx.extra["industry_products"])


def _industry_ours(ctx: Ctx) -> Any:
    from friendshore.engines.exposure import industry_exposure

    return industry_exposure(ctx.store, year=ctx.year, importer=BASKET_IMPORTER)


def _industry_duckdb(ctx: Ctx) -> pa.Table:
    return ctx.con.sql(
        INDUSTRY_SQL, params={"year": ctx.year, "importer": BASKET_IMPORTER}
    ).to_arrow_table()


def _industry_answer(ctx: Ctx, result: Any) -> Answer:
    df = _frame(result)
    if "import_value_usd" in df.columns:  # industries without imports carry no weight
        df = df.filter(pl.col("import_value_usd") > 0)
    return frame_answer(df, _INDUSTRY_FIELDS)


INDUSTRY = Case(
    name="industry",
    title=f"one importer's industry basket ({BASKET_IMPORTER}), one year",
    impls=(
        Impl(OURS, _industry_ours, _industry_answer),
        Impl("duckdb_sql", _industry_duckdb, _industry_answer),
    ),
    compare=("duckdb_sql",),
    required=_INDUSTRY_FIELDS,
    available=lambda: (
        _api("friendshore.engines.exposure", "industry_exposure")
        or _api("friendshore.reference.industries", "load_industries")
    ),
    setup=_industry_setup,
)


# -- 4. world concentration --------------------------------------------------------
_WORLD_FIELDS = ("export_value_usd", "n_suppliers", "hhi", "prc_share", "top_share")

WORLD_SQL = """
WITH e AS (
    SELECT hs, exporter_id, sum(value_usd) AS v FROM flows
    WHERE year = $year AND value_usd > 0 GROUP BY hs, exporter_id
),
p AS (
    SELECT e.hs, sum(e.v) AS world_export_value_usd,
           count(*) FILTER (WHERE t.tier IS DISTINCT FROM 'residual') AS n_exporters,
           arg_max(e.exporter_id, e.v)
               FILTER (WHERE t.tier IS DISTINCT FROM 'residual') AS top_id,
           max(e.v) FILTER (WHERE t.tier IS DISTINCT FROM 'residual')
               / sum(e.v) AS top_exporter_share,
           coalesce(sum(e.v * e.v) FILTER (WHERE t.tier IS DISTINCT FROM 'residual'), 0)
               / (sum(e.v) * sum(e.v)) AS hhi,
           coalesce(sum(e.v) FILTER (WHERE t.tier = 'concern'), 0) / sum(e.v)
               AS prc_share
    FROM e LEFT JOIN bench_tier_ids AS t ON t.id = e.exporter_id
    GROUP BY e.hs
)
SELECT hs_text(p.hs) AS hs6, c.iso3 AS top_exporter,
       p.* EXCLUDE (hs, top_id)
FROM p LEFT JOIN country_ids AS c ON c.id = p.top_id
"""


def _world_ours(ctx: Ctx) -> Any:
    from friendshore.engines.concentration import world_concentration

    return world_concentration(ctx.store, year=ctx.year)


def _world_duckdb(ctx: Ctx) -> pa.Table:
    return ctx.con.sql(WORLD_SQL, params={"year": ctx.year}).to_arrow_table()


def _world_pandas(ctx: Ctx) -> Any:
    df = ctx.con.sql(_FLOWS_SQL, params={"year": ctx.year}).df()
    e = df.groupby(["hs6", "exporter"], as_index=False)["value_usd"].sum()
    e["share"] = e["value_usd"] / e.groupby("hs6")["value_usd"].transform("sum")
    named = ~e["exporter"].str.fullmatch(RESIDUAL_RE)
    e["share_sq"] = (e["share"] ** 2).where(named, 0.0)
    e["named_share"] = e["share"].where(named)
    e["named"] = named.astype(int)
    concern = {k for k, t in _tier_map(ctx).items() if t == "concern"}
    e["prc"] = e["share"].where(e["exporter"].isin(concern), 0.0)
    return (
        e.groupby("hs6")
        .agg(
            world_export_value_usd=("value_usd", "sum"),
            n_exporters=("named", "sum"),
            top_exporter_share=("named_share", "max"),
            hhi=("share_sq", "sum"),
            prc_share=("prc", "sum"),
        )
        .reset_index()
    )


def _world_polars(ctx: Ctx) -> pl.DataFrame:
    flows = ctx.con.sql(_FLOWS_SQL, params={"year": ctx.year}).to_arrow_table()
    concern = [k for k, t in _tier_map(ctx).items() if t == "concern"]
    v = pl.col("value_usd")
    named = ~pl.col("exporter").str.contains(RESIDUAL_RE)
    nv = v.filter(named)
    return (
        pl.DataFrame(flows)
        .lazy()
        .group_by("hs6", "exporter")
        .agg(v.sum())
        .group_by("hs6")
        .agg(
            world_export_value_usd=v.sum(),
            n_exporters=named.sum(),
            top_exporter=pl.col("exporter").filter(named).get(nv.arg_max()),
            top_exporter_share=nv.max() / v.sum(),
            hhi=(nv * nv).sum() / v.sum() ** 2,
            prc_share=v.filter(pl.col("exporter").is_in(concern)).sum() / v.sum(),
        )
        .collect()
    )


def _world_answer(ctx: Ctx, result: Any) -> Answer:
    return frame_answer(result, _WORLD_FIELDS)


WORLD = Case(
    name="world",
    title="world export concentration per HS6, one year",
    impls=(
        Impl(OURS, _world_ours, _world_answer),
        Impl("duckdb_sql", _world_duckdb, _world_answer),
        Impl("pandas", _world_pandas, _world_answer),
        Impl("polars", _world_polars, _world_answer),
    ),
    compare=("duckdb_sql", "pandas", "polars"),
    required=("hhi", "prc_share"),
    available=lambda: _api("friendshore.engines.concentration", "world_concentration"),
    setup=_exposure_setup,
)


# -- 5. look-through ---------------------------------------------------------------
# DESIGN.md: L_j(k) = prc_share + Σ_{i not concern} share_i × L_i(U(k)), where
# L_i(U(k)) is supplier i's own look-through concern share of its imports of k's
# upstream inputs, value-weighted over the inputs it imports (none: it passes on
# nothing). The chain is followed to its end (friendshore.engines.lookthrough): products
# are done from the most upstream (depth 0: L = direct concern share) down, one
# statement per depth, into a temporary table.
_LT_DIRECT_SQL = """
CREATE OR REPLACE TEMP TABLE bench_lt AS
SELECT f.importer_id, f.hs, sum(f.value_usd) AS v,
       coalesce(sum(f.value_usd) FILTER (WHERE t.tier = 'concern'), 0)
           / sum(f.value_usd) AS prc_share,
       prc_share AS l
FROM flows AS f LEFT JOIN bench_tier_ids AS t ON t.id = f.exporter_id
WHERE f.year = $year AND f.value_usd > 0
  AND f.importer_id NOT IN (SELECT id FROM bench_tier_ids WHERE tier = 'residual')
GROUP BY f.importer_id, f.hs
"""

_LT_LEVEL_SQL = """
WITH codes AS (SELECT hs_code(hs6) AS hs FROM bench_depth WHERE depth = $depth),
up AS (  -- L_i(U(k)) of every country i for the products of this depth
    SELECT hs_code(e.hs6) AS hs, l.importer_id AS country,
           sum(l.v * l.l) / sum(l.v) AS u
    FROM bench_upstream AS e JOIN bench_lt AS l ON l.hs = hs_code(e.upstream_hs6)
    WHERE hs_code(e.hs6) IN (SELECT hs FROM codes)
    GROUP BY 1, 2
),
level AS (
    SELECT f.importer_id, f.hs,
           (coalesce(sum(f.value_usd) FILTER (WHERE t.tier = 'concern'), 0)
            + coalesce(sum(f.value_usd * up.u)
                       FILTER (WHERE t.tier IS DISTINCT FROM 'concern'), 0))
           / sum(f.value_usd) AS l
    FROM flows AS f LEFT JOIN bench_tier_ids AS t ON t.id = f.exporter_id
    LEFT JOIN up ON up.country = f.exporter_id AND up.hs = f.hs
    WHERE f.year = $year AND f.value_usd > 0 AND f.hs IN (SELECT hs FROM codes)
    GROUP BY f.importer_id, f.hs
)
UPDATE bench_lt SET l = level.l FROM level
WHERE bench_lt.importer_id = level.importer_id AND bench_lt.hs = level.hs
"""


def _depths(upstream: pl.DataFrame) -> dict[str, int]:
    """Depth of each product with inputs: 1 + the deepest of its inputs."""
    edges: dict[str, list[str]] = {}
    for hs6, up in upstream.select("hs6", "upstream_hs6").iter_rows():
        edges.setdefault(hs6, []).append(up)
    memo: dict[str, int] = {}

    def depth(code: str) -> int:
        if code not in edges:
            return 0
        if code not in memo:
            memo[code] = 1 + max(depth(u) for u in edges[code])
        return memo[code]

    return {code: depth(code) for code in edges}


def _lookthrough_setup(ctx: Ctx) -> None:
    from friendshore.reference.industries import load_industries

    _register_tiers(ctx)
    up = load_industries().upstream(hs_revision="HS2017").select("hs6", "upstream_hs6")
    ctx.extra["upstream"] = up.unique()
    depths = _depths(ctx.extra["upstream"])
    ctx.extra["depth"] = pl.DataFrame(
        {"hs6": list(depths), "depth": list(depths.values())},
        schema={"hs6": pl.String, "depth": pl.Int32},
    )
    ctx.con.register("bench_upstream", ctx.extra["upstream"])
    ctx.con.register("bench_depth", ctx.extra["depth"])


def _lookthrough_ours(ctx: Ctx) -> Any:
    return _exposure_ours(ctx, lookthrough=True)


def _lookthrough_duckdb(ctx: Ctx) -> pa.Table:
    con, year = ctx.con, {"year": ctx.year}
    con.execute(_LT_DIRECT_SQL, year).fetchall()
    for d in range(1, int(ctx.extra["depth"]["depth"].max() or 0) + 1):
        con.execute(_LT_LEVEL_SQL, {**year, "depth": d}).fetchall()
    return con.sql(
        "SELECT i.iso3 AS importer, hs_text(l.hs) AS hs6, l.v AS import_value_usd, "
        "l.prc_share, l.l AS lookthrough_prc_share FROM bench_lt AS l "
        "JOIN country_ids AS i ON i.id = l.importer_id"
    ).to_arrow_table()


def _lookthrough_answer(ctx: Ctx, result: Any) -> Answer:
    return frame_answer(
        result, ("import_value_usd", "prc_share", "lookthrough_prc_share")
    )


def _lookthrough_available() -> str | None:
    why = _api("friendshore.engines.exposure", "product_exposure")
    if why is None:
        import inspect

        from friendshore.engines.exposure import product_exposure

        if "lookthrough" not in inspect.signature(product_exposure).parameters:
            why = "not available yet: product_exposure has no lookthrough option"
    return why


LOOKTHROUGH = Case(
    name="lookthrough",
    title="look-through exposure, all importers × products, one year",
    impls=(
        Impl(OURS, _lookthrough_ours, _lookthrough_answer),
        Impl("duckdb_sql", _lookthrough_duckdb, _lookthrough_answer),
    ),
    compare=("duckdb_sql",),
    required=("import_value_usd", "prc_share", "lookthrough_prc_share"),
    available=_lookthrough_available,
    setup=_lookthrough_setup,
)


# -- 6. G7 ban on every HS6 product: global market clearing -------------------------
G7 = ("USA", "JPN", "DEU", "FRA", "GBR", "ITA", "CAN")


def _scenario(**kwargs: Any) -> Any:
    from friendshore.engines.scenarios.model import Scenario

    return Scenario(**kwargs)


def _simulate_all(ctx: Ctx) -> Any:
    from friendshore.engines.scenarios.simulate import simulate

    sc = _scenario(
        name="bench-g7-ban",
        coalition=G7,
        hs=("all",),
        year=ctx.year,
        policy="ban",
        reshoring=0.05,
    )
    return simulate(ctx.store, [sc])


def _simulate_answer(ctx: Ctx, result: Any) -> Answer:
    df = _frame(result)
    return frame_answer(
        df,
        (
            "import_value_usd",
            "scenario_import_value_usd",
            "import_price_change_pct",
            "scenario_concern_share",
        ),
    )


def _simulate_validate(ctx: Ctx, ans: Answer) -> str | None:
    # The yardstick computes something else, so check ours against the store: one
    # row per G7 importer × product it imports, their total import value.
    rows, value = ctx.con.execute(
        "SELECT count(DISTINCT (importer, hs6)), sum(value_usd) FROM trade_flows "
        "WHERE year = $y AND value_usd > 0 AND exporter <> importer "
        "AND list_contains($g7, importer)",
        {"y": ctx.year, "g7": list(G7)},
    ).fetchall()[0]
    if ans["rows"] != rows:
        return (
            f"{ans['rows']:.0f} rows, the store has {rows} G7 importer × product pairs"
        )
    if not math.isclose(ans.get("import_value_usd", -1.0), value, rel_tol=1e-9):
        return f"import_value_usd sums to {ans.get('import_value_usd')}, store {value}"
    if ans.get("scenario_concern_share", 1.0) != 0.0:
        return "a banned concern keeps a share of G7 imports"
    return None


def _simulate_available() -> str | None:
    return _api("friendshore.engines.scenarios.simulate", "simulate") or _api(
        "friendshore.engines.scenarios.model", "Scenario"
    )


SCENARIO = Case(
    name="scenario",
    title="G7 ban on PRC, every HS6 product, global market clearing (vs the exposure table)",
    impls=(
        Impl(OURS, _simulate_all, _simulate_answer),
        Impl(
            "exposure",
            _exposure_ours,
            _exposure_answer,
            available=lambda: _api("friendshore.engines.exposure", "product_exposure"),
        ),
        Impl("duckdb_sql", _exposure_duckdb, _exposure_answer),
    ),
    # Issue 17 retired the earlier "≤ 2× the exposure table"; issue 15 set this one.
    targets=(Target("ratio:exposure", 5.0, "issue 15"),),
    available=_simulate_available,
    setup=_exposure_setup,
    validate=_simulate_validate,
)


# -- 7. 200-draw scenario, one importer's defense basket ------------------------------
def _draws_setup(ctx: Ctx) -> None:
    from friendshore.reference.industries import load_industries

    codes = load_industries().products(hs_revision="HS2017")["hs6"].unique().sort()
    ctx.extra["basket"] = tuple(codes.to_list())


def _basket_scenario(ctx: Ctx, draws: int | None) -> Any:
    from friendshore.engines.scenarios.model import Uncertainty

    return _scenario(
        name="bench-draws",
        coalition=(BASKET_IMPORTER,),
        hs=ctx.extra["basket"],
        year=ctx.year,
        policy="ban",
        reshoring=0.05,
        uncertainty=None
        if draws is None
        else Uncertainty(
            draws=draws,
            seed=7,
            capacity_expansion=(0.1, 0.5),
            substitution=(2.1, 5.1),
            supply=(0.5, 3.0),
        ),
    )


def _simulate_draws(ctx: Ctx) -> Any:
    from friendshore.engines.scenarios.simulate import simulate

    return simulate(ctx.store, [_basket_scenario(ctx, 200)])


def _simulate_one_draw(ctx: Ctx) -> Any:
    # Yardstick: the same scenario without uncertainty, so the ratio is the cost
    # of 200 draws over one and travels between machines (bench-check).
    from friendshore.engines.scenarios.simulate import simulate

    return simulate(ctx.store, [_basket_scenario(ctx, None)])


_DRAW_METRICS = (
    "import_price_change_pct",
    "import_quantity_change_pct",
    "consumer_surplus_change_usd",
    "scenario_hhi",
)


def _draws_answer(ctx: Ctx, result: Any) -> Answer:
    df = _frame(result)
    ans = frame_answer(df, ("import_value_usd", *_DRAW_METRICS))
    if "stat" in df.columns:  # p5 ≤ p50 ≤ p95 for every key and metric
        bad = 0
        for metric in (m for m in _DRAW_METRICS if m in df.columns):
            wide = df.pivot(on="stat", index=["importer", "hs6"], values=metric)
            bad += wide.filter(
                (pl.col("p5") > pl.col("p50") + 1e-9 * pl.col("p50").abs() + 1e-9)
                | (pl.col("p50") > pl.col("p95") + 1e-9 * pl.col("p95").abs() + 1e-9)
            ).height
        ans["quantile_order_violations"] = float(bad)
    return ans


def _draws_validate(ctx: Ctx, ans: Answer) -> str | None:
    if "quantile_order_violations" not in ans:
        return "no stat column (p5 / p50 / p95) in the draws result"
    if ans["quantile_order_violations"]:
        return f"{ans['quantile_order_violations']:.0f} rows with p5 > p50 or p50 > p95"
    return None


DRAWS = Case(
    name="draws",
    title=f"200-draw ban scenario, {BASKET_IMPORTER} defense basket",
    impls=(
        Impl(OURS, _simulate_draws, _draws_answer),
        Impl("one_draw", _simulate_one_draw, _draws_answer),
    ),
    targets=(Target("seconds", 10.0, "issue 15"),),
    available=lambda: (
        _simulate_available()
        or _api("friendshore.reference.industries", "load_industries")
    ),
    setup=_draws_setup,
    validate=_draws_validate,
)


# -- 8. whole processes: what a user feels (issue 17) ----------------------------------
# Each run is one fresh process: friendshore's CLI against the hand-written DuckDB
# script of benchmarks/duckdb_script.py (which imports duckdb alone), over the same
# store. Peak memory of these cases is the child process's (run.py).
SCRIPT = Path(__file__).resolve().parent / "duckdb_script.py"


def cli_command() -> list[str]:
    """How to start the friendshore CLI: the console script beside this Python."""
    exe = Path(sys.executable).with_name("friendshore")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "friendshore"]


# An earlier friendshore, for before/after figures in one interleaved run: a source
# tree (``git archive REV | tar -x -C DIR``) whose package ``python -m friendshore``
# imports when started in it. Its implementations are skipped unless this is set.
BEFORE_ENV = "FRIENDSHORE_BENCH_BEFORE"


def before_tree() -> Path | None:
    """The earlier source tree to compare with, if ``$FRIENDSHORE_BENCH_BEFORE`` names one."""
    path = os.environ.get(BEFORE_ENV)
    return Path(path).resolve() if path else None


def _before_available() -> str | None:
    tree = before_tree()
    if tree is None:
        return f"not asked for (set {BEFORE_ENV} to an earlier source tree)"
    if not (tree / "friendshore" / "__init__.py").exists():
        return f"{BEFORE_ENV}={tree} holds no friendshore package"
    return None


# Peak RSS is read in a small wrapper interpreter: a child forked from the worker
# (polars, DuckDB and pyarrow loaded) would report the worker's RSS as its own peak.
_PEAK = (
    "import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], "
    "stdout=subprocess.DEVNULL, stderr=subprocess.PIPE); err = p.stderr.read(); "
    "_, s, u = os.wait4(p.pid, 0); code = os.waitstatus_to_exitcode(s); "
    "print(code, u.ru_maxrss); sys.stderr.write(err.decode()[-500:] if code else '')"
)


def run_process(ctx: Ctx, name: str, cmd: list[str], cwd: Path | None = None) -> None:
    """Run one command as a whole process; raise with its stderr if it fails.

    In the harness's memory probe (one run of one implementation) it runs under the
    ``_PEAK`` wrapper and records the process's own peak RSS for ``name``.
    """
    if ctx.extra.get("probe"):
        proc = subprocess.run(
            [sys.executable, "-c", _PEAK, *cmd],
            capture_output=True,
            text=True,
            cwd=cwd,
        )
        code, peak_kib = (int(x) for x in proc.stdout.split()[:2])
        peaks = ctx.extra.setdefault("child_peak_rss_mb", {})
        peaks[name] = max(peaks.get(name, 0.0), peak_kib / 1024)
    else:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
        code = proc.returncode
    if code != 0:
        tail = proc.stderr.strip().splitlines()[-1:]
        raise RuntimeError(f"{' '.join(cmd[:4])} … exited {code}: {tail}")


def _whole_setup(ctx: Ctx, revision: str = "HS2017") -> None:
    tiers = _tiers(ctx.year)
    path = ctx.scratch / "tiers.parquet"
    pl.DataFrame(tiers).select("iso3", "tier").write_parquet(path)
    ctx.extra["tiers_file"] = path
    from friendshore.reference.industries import load_industries

    # The industry's inputs in the data's revision, as the CLI counts them by
    # default (codes broader than the input left out).
    products = load_industries().products(hs_revision=revision)
    path = ctx.scratch / "industry_products.parquet"
    products.select("industry", "hs6").unique().write_parquet(path)
    ctx.extra["products_file"] = path


def _db_path(ctx: Ctx) -> Path:
    """The store a whole-process case reads (the HS92 case has its own)."""
    return Path(ctx.extra.get("store_path", ctx.store_path))


def _hs92_setup(ctx: Ctx) -> None:
    """The benchmark year loaded as BACI HS92 (--hs-revision HS92), cached.

    A timing stand-in for an HS92 release: the synthetic year's codes are HS2017
    subheadings, most of which the HS1992 industry map shares; the query reads the
    industry map translated to HS1992 (the UNSD correlation), as on real HS92 data.
    """
    from benchmarks.run import STORES, _code_fingerprint
    from friendshore.sources import load
    from friendshore.store import Store

    _whole_setup(ctx, "HS1992")
    stem = f"{ctx.release.folder.name}_y{ctx.year}_hs92"
    path = STORES / f"{stem}_{_code_fingerprint()}.duckdb"
    if not path.exists():
        for old in STORES.glob(f"{stem}_*.duckdb*"):
            old.unlink()
        tmp = path.with_name(path.name + ".building")
        for p in (tmp, Path(f"{tmp}.wal")):
            p.unlink(missing_ok=True)
        rel = ctx.release
        with Store(tmp) as store:
            load(
                store,
                "baci",
                [ctx.csv, rel.country_codes, rel.product_codes],
                hs_revision="HS92",
            )
        tmp.replace(path)
    ctx.extra["store_path"] = path


def _cli_exposure_ours(ctx: Ctx, before: bool = False) -> Path:
    out = ctx.fresh("ours.parquet")
    db = ["--db", str(_db_path(ctx))]
    args = ["exposure", "--year", str(ctx.year), "--format", "parquet"]
    cli, name, cwd = cli_command(), OURS, None
    if before:
        cli, name, cwd = [sys.executable, "-m", "friendshore"], "before", before_tree()
    run_process(ctx, name, [*cli, *db, *args, "--out", str(out)], cwd=cwd)
    return out


def _cli_exposure_script(ctx: Ctx) -> Path:
    out = ctx.fresh("script.parquet")
    run_process(
        ctx,
        "duckdb_script",
        [
            sys.executable,
            str(SCRIPT),
            "exposure",
            str(_db_path(ctx)),
            str(ctx.year),
            str(ctx.extra["tiers_file"]),
            str(out),
        ],
    )
    return out


def _parquet_answer(ctx: Ctx, path: Path) -> Answer:
    return frame_answer(pl.read_parquet(path), _EXPOSURE_FIELDS)


CLI_EXPOSURE = Case(
    name="cli_exposure",
    title="whole process: exposure of every importer × product → Parquet",
    impls=(
        Impl(OURS, _cli_exposure_ours, _parquet_answer, _rm_parent),
        Impl("duckdb_script", _cli_exposure_script, _parquet_answer, _rm_parent),
        Impl(
            "before",
            lambda ctx: _cli_exposure_ours(ctx, before=True),
            _parquet_answer,
            _rm_parent,
            available=_before_available,
        ),
    ),
    targets=(Target("ratio:duckdb_script", 1.3, "issue 17 (goal 1.1)"),),
    compare=("duckdb_script", "before"),
    required=("import_value_usd", "hhi", "prc_share"),
    setup=_whole_setup,
)


def _cli_industry_ours(ctx: Ctx, before: bool = False) -> Path:
    out = ctx.fresh("ours.csv")
    db = ["--db", str(_db_path(ctx))]
    args = ["exposure", "--importer", BASKET_IMPORTER, "--level", "industry"]
    args += ["--year", str(ctx.year), "--format", "csv", "--out", str(out)]
    cli, name, cwd = cli_command(), OURS, None
    if before:
        cli, name, cwd = [sys.executable, "-m", "friendshore"], "before", before_tree()
    run_process(ctx, name, [*cli, *db, *args], cwd=cwd)
    return out


def _cli_industry_script(ctx: Ctx) -> Path:
    out = ctx.fresh("script.csv")
    run_process(
        ctx,
        "duckdb_script",
        [
            sys.executable,
            str(SCRIPT),
            "industry",
            str(_db_path(ctx)),
            str(ctx.year),
            str(ctx.extra["tiers_file"]),
            str(out),
            BASKET_IMPORTER,
            str(ctx.extra["products_file"]),
        ],
    )
    return out


def _csv_industry_answer(ctx: Ctx, path: Path) -> Answer:
    return _industry_answer(ctx, pl.read_csv(path))


CLI_INDUSTRY = Case(
    name="cli_industry",
    title=f"whole process: {BASKET_IMPORTER}'s industry basket, one year → CSV",
    impls=(
        Impl(OURS, _cli_industry_ours, _csv_industry_answer, _rm_parent),
        Impl("duckdb_script", _cli_industry_script, _csv_industry_answer, _rm_parent),
        Impl(
            "before",
            lambda ctx: _cli_industry_ours(ctx, before=True),
            _csv_industry_answer,
            _rm_parent,
            available=_before_available,
        ),
    ),
    targets=(Target("seconds", 0.5, "issue 17"),),
    compare=("duckdb_script", "before"),
    required=_INDUSTRY_FIELDS,
    setup=_whole_setup,
)


CLI_INDUSTRY_HS92 = Case(
    name="cli_industry_hs92",
    title=f"whole process: {BASKET_IMPORTER}'s industry basket on a BACI HS92 year → CSV",
    impls=(
        Impl(OURS, _cli_industry_ours, _csv_industry_answer, _rm_parent),
        Impl("duckdb_script", _cli_industry_script, _csv_industry_answer, _rm_parent),
    ),
    targets=(Target("seconds", 0.5, "issue 17"),),
    compare=("duckdb_script",),
    required=_INDUSTRY_FIELDS,
    setup=_hs92_setup,
)


# -- whole process: the USA defense basket banned by the USA alone (issue 15) ----------
# Every industry's products (industry = "all"), the scenario of the `draws` case,
# run as a user runs it: `friendshore simulate FILE --format csv`, start-up included.
def _basket_toml(ctx: Ctx, draws: int | None) -> Path:
    lines = [
        f'name = "bench-basket{"" if draws is None else f"-{draws}"}"',
        f'importer = "{BASKET_IMPORTER}"',
        f"year = {ctx.year}",
        'industry = "all"',
        'concern = "prc"',
        'policy = "ban"',
        "reshoring = 0.05",
    ]
    if draws is not None:
        lines += [
            "[uncertainty]",
            f"draws = {draws}",
            "seed = 7",
            "capacity_expansion = [0.1, 0.5]",
            "substitution = [2.1, 5.1]",
            "supply = [0.5, 3.0]",
        ]
    path = ctx.scratch / f"basket_{draws or 1}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _basket_setup(ctx: Ctx) -> None:
    ctx.extra["basket_toml"] = _basket_toml(ctx, None)
    ctx.extra["basket_draws_toml"] = _basket_toml(ctx, 200)


def _cli_basket(ctx: Ctx, key: str, before: bool = False) -> Path:
    out = ctx.fresh("before.csv" if before else "ours.csv")
    db = ["--db", str(_db_path(ctx))]
    args = ["simulate", str(ctx.extra[key]), "--format", "csv", "--out", str(out)]
    cli, name, cwd = cli_command(), OURS, None
    if before:
        cli, name, cwd = [sys.executable, "-m", "friendshore"], "before", before_tree()
    run_process(ctx, name, [*cli, *db, *args], cwd=cwd)
    return out


def _basket_answer(ctx: Ctx, path: Path) -> Answer:
    df = pl.read_csv(path)
    if "stat" in df.columns:  # the draws: the medians
        df = df.filter(pl.col("stat") == "p50")
    return frame_answer(df, ("import_value_usd", *_DRAW_METRICS))


def _basket_validate(ctx: Ctx, ans: Answer) -> str | None:
    if not ans["rows"]:
        return "no rows: the basket has no flows into the importer"
    return None


def _basket_case(name: str, key: str, title: str, seconds: float) -> Case:
    return Case(
        name=name,
        title=title,
        impls=(
            Impl(OURS, lambda ctx: _cli_basket(ctx, key), _basket_answer, _rm_parent),
            Impl(
                "before",
                lambda ctx: _cli_basket(ctx, key, before=True),
                _basket_answer,
                _rm_parent,
                available=_before_available,
            ),
        ),
        targets=(Target("seconds", seconds, "issue 15"),),
        compare=("before",),
        setup=_basket_setup,
        validate=_basket_validate,
    )


CLI_BASKET = _basket_case(
    "cli_basket",
    "basket_toml",
    f"whole process: {BASKET_IMPORTER} defense basket banned by {BASKET_IMPORTER} → CSV",
    1.0,
)
CLI_BASKET_DRAWS = _basket_case(
    "cli_basket_draws",
    "basket_draws_toml",
    "whole process: the same with 200 draws over elasticities and capacity → CSV",
    10.0,
)


CASES: dict[str, Case] = {
    c.name: c
    for c in (
        LOAD,
        EXPOSURE,
        INDUSTRY,
        WORLD,
        LOOKTHROUGH,
        SCENARIO,
        DRAWS,
        CLI_EXPOSURE,
        CLI_INDUSTRY,
        CLI_INDUSTRY_HS92,
        CLI_BASKET,
        CLI_BASKET_DRAWS,
    )
}


# The panel cases (benchmarks/panel.py) build on the helpers above.
from benchmarks.panel import PANEL_CASES  # noqa: E402

CASES.update({c.name: c for c in PANEL_CASES})


# -- 8. whole-process start-up: what a user waits for before any work -----------------
_STARTUP_COMMANDS: dict[str, tuple[str, ...]] = {
    "startup_help": ("--help",),
    "startup_registry": ("registry", "list"),
    "startup_industries": ("industries", "list"),
}


def _friendshore_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m``."""
    import sys

    script = Path(sys.executable).with_name("friendshore")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "friendshore"]


# Peak RSS is read in a small wrapper interpreter: a child forked from this worker
# (polars, DuckDB and pyarrow loaded) would report the worker's RSS as its own peak.
_PEAK = (
    "import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], "
    "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "_, s, u = os.wait4(p.pid, 0); print(os.waitstatus_to_exitcode(s), u.ru_maxrss)"
)


def _process(argv: list[str], key: str) -> Impl:
    """``argv`` run as a whole process: timed directly, its peak RSS via a wrapper."""

    def run(ctx: Ctx) -> int:
        import subprocess

        return subprocess.call(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def answer(ctx: Ctx, code: int) -> Answer:
        import subprocess
        import sys

        out = subprocess.run(
            [sys.executable, "-c", _PEAK, *argv],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        peaks = ctx.extra.setdefault("child_peak_rss_mb", {})
        peaks[key] = max(peaks.get(key, 0.0), int(out[1]) / 1024)  # KiB on Linux
        return {"rows": 1.0, "exit_code": float(code), "probe_exit": float(out[0])}

    return Impl(key, run, answer)


def _exit_validate(ctx: Ctx, ans: Answer) -> str | None:
    if ans["exit_code"] or ans["probe_exit"]:
        return f"exit code {ans['exit_code']:.0f}"
    return None


def _startup_case(name: str) -> Case:
    import sys

    args = _STARTUP_COMMANDS[name]
    return Case(
        name=name,
        title=f"whole process: friendshore {' '.join(args)} (vs a bare interpreter)",
        impls=(
            _process([*_friendshore_command(), *args], OURS),
            _process([sys.executable, "-c", "pass"], "python"),
        ),
        targets=(Target("seconds", 0.3, "issue 13"),),
        validate=_exit_validate,
    )


STARTUP = tuple(_startup_case(name) for name in _STARTUP_COMMANDS)


CASES.update({c.name: c for c in STARTUP})
# Cases that need no store (the harness skips building one for them).
NO_STORE = {"load", *(c.name for c in STARTUP)}


def iter_cases(names: list[str] | None) -> Iterator[Case]:
    """The named cases in suite order (all when ``names`` is empty)."""
    unknown = sorted(set(names or ()) - set(CASES))
    if unknown:
        raise SystemExit(
            f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}"
        )
    for name, case in CASES.items():
        if not names or name in names:
            yield case
