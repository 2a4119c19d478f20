"""The multi-year panel cases (issue 17): BACI's whole history, year after year.

A synthetic release of ``years`` years (``--panel-years``, default 30: 1995–2024) at
``--panel-scale`` flows per year (1.0 = 10 million), zipped as CEPII ships it — ONE
archive holding every year's CSV and the code files. Three cases:

``panel_load``
    ``sources.load(store, "baci", [the zip])`` into a fresh store, against a bare
    DuckDB ``CREATE TABLE … AS SELECT * FROM read_csv(year file)`` of every year
    (already extracted) into a fresh database: the ratio is per year, since both
    sides do every year. Target ≤ 1.5× (issue 17).
``panel_exposure``
    ``friendshore exposure --years FIRST:LAST --format parquet`` (one process,
    streamed a year at a time) against the same command once per year (the sum of
    the single years, each a process of its own). Targets: ≤ 1.2× the sum, and peak
    memory ≤ 1.5× the largest single year's (both whole processes).
``panel_trend``
    ``friendshore trend --from FIRST --to LAST`` of every importer × product to
    Parquet against one year's exposure to Parquet: ≤ 2× (issue 17).

The store these read is loaded once per release and code version (like the one
year store of ``run.py``); its size per year is reported.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from benchmarks import synth
from benchmarks.cases import (
    _EXPOSURE_FIELDS,
    OURS,
    Answer,
    Case,
    Ctx,
    Impl,
    Target,
    _before_available,
    _rm_parent,
    before_tree,
    cli_command,
    frame_answer,
    run_process,
)

FIRST_YEAR = 1995


def panel_years(n: int) -> list[int]:
    """The panel's years: ``n`` years from 1995."""
    return list(range(FIRST_YEAR, FIRST_YEAR + n))


def release_zip(rel: synth.Release, years: list[int]) -> Path:
    """The release as downloaded: one zip with every year file and the code files.

    Cached beside the year files; built under a temporary name and renamed.
    """
    folder = rel.folder / f"zip_{years[0]}_{years[-1]}"
    path = folder / f"BACI_HS17_{synth.RELEASE}.zip"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for y in years:
            zf.write(rel.year_files[y], rel.year_files[y].name)
        zf.write(rel.country_codes, rel.country_codes.name)
        zf.write(rel.product_codes, rel.product_codes.name)
    tmp.replace(path)
    return path


def _setup(ctx: Ctx) -> None:
    """Build (or find) the panel release, its zip and the loaded panel store."""
    from benchmarks.run import STORES, _code_fingerprint

    scale, n = ctx.extra["panel_scale"], ctx.extra["panel_years"]
    years = panel_years(n)
    rel = synth.release(scale, ctx.extra.get("seed", synth.DEFAULT_SEED), years)
    ctx.extra["panel"] = rel
    ctx.extra["years"] = years
    ctx.extra["zip"] = release_zip(rel, years)
    STORES.mkdir(parents=True, exist_ok=True)
    stem = f"{rel.folder.name}_panel{years[0]}-{years[-1]}"
    store = STORES / f"{stem}_{_code_fingerprint()}.duckdb"
    if not store.exists():
        for old in STORES.glob(f"{stem}_*.duckdb*"):
            old.unlink()
        tmp = store.with_name(store.name + ".building")
        _load(tmp, ctx.extra["zip"])
        tmp.replace(store)
    ctx.extra["store"] = store
    rows = sum(rel.rows[y] for y in years)
    size = store.stat().st_size
    ctx.extra["notes"] = {
        "years": n,
        "flows_per_year": rows // n,
        "flows": rows,
        "zip_mb": round(ctx.extra["zip"].stat().st_size / 2**20, 1),
        "store_mb": round(size / 2**20, 1),
        "store_mb_per_year": round(size / 2**20 / n, 1),
        "store_bytes_per_flow": round(size / rows, 1),
        "per_year": True,  # the case does every year (not so the trend)
    }


def _load(path: Path, archive: Path) -> None:
    from friendshore.sources import load
    from friendshore.store import Store

    for p in (path, Path(f"{path}.wal")):
        p.unlink(missing_ok=True)
    with Store(path) as store:
        load(store, "baci", [archive])


# -- panel_load -----------------------------------------------------------------------
def _load_ours(ctx: Ctx) -> Path:
    path = ctx.fresh("panel.duckdb")
    _load(path, ctx.extra["zip"])
    return path


def _load_ours_answer(ctx: Ctx, path: Path) -> Answer:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows, v = con.execute(
            "SELECT count(*), sum(value_usd) / 1000 FROM trade_flows"
        ).fetchall()[0]
    finally:
        con.close()
    return {"rows": float(rows), "v": float(v)}


def _load_duckdb(ctx: Ctx) -> Path:
    path = ctx.fresh("bare.duckdb")
    con = duckdb.connect(str(path))
    rel: synth.Release = ctx.extra["panel"]
    try:
        for n, y in enumerate(ctx.extra["years"]):
            con.execute(
                f"CREATE TABLE t{n} AS SELECT * FROM read_csv($p)",
                {"p": str(rel.year_files[y])},
            ).fetchall()
    finally:
        con.close()
    return path


def _load_duckdb_answer(ctx: Ctx, path: Path) -> Answer:
    con = duckdb.connect(str(path), read_only=True)
    try:
        union = " UNION ALL ".join(
            f"SELECT v FROM t{n}" for n in range(len(ctx.extra["years"]))
        )
        rows, v = con.execute(f"SELECT count(*), sum(v) FROM ({union})").fetchall()[0]
    finally:
        con.close()
    return {"rows": float(rows), "v": float(v)}


PANEL_LOAD = Case(
    name="panel_load",
    title="panel: the release zip (every year) → store, vs bare read_csv per year",
    impls=(
        Impl(OURS, _load_ours, _load_ours_answer, _rm_parent),
        Impl("duckdb_sql", _load_duckdb, _load_duckdb_answer, _rm_parent),
    ),
    targets=(Target("ratio:duckdb_sql", 1.5, "issue 17"),),
    compare=("duckdb_sql",),
    required=("v",),
    setup=_setup,
)


# -- panel_exposure -------------------------------------------------------------------
def _db(ctx: Ctx) -> list[str]:
    return [*cli_command(), "--db", str(ctx.extra["store"])]


def _run(ctx: Ctx, name: str, args: list[str], before: bool) -> None:
    """Run a friendshore command on the panel store (``before``: the earlier tree)."""
    if before:
        cli = [sys.executable, "-m", "friendshore", "--db", str(ctx.extra["store"])]
        run_process(ctx, "before", [*cli, *args], cwd=before_tree())
    else:
        run_process(ctx, name, [*_db(ctx), *args])


def _exposure_all(ctx: Ctx, before: bool = False) -> Path:
    out = ctx.fresh("panel.parquet")
    years = ctx.extra["years"]
    span = f"{years[0]}:{years[-1]}"
    args = ["exposure", "--years", span, "--format", "parquet", "--out", str(out)]
    _run(ctx, OURS, args, before)
    return out


def _exposure_each(ctx: Ctx) -> Path:
    folder = ctx.fresh("x").parent
    for y in ctx.extra["years"]:
        out = folder / f"{y}.parquet"
        args = ["exposure", "--year", str(y), "--format", "parquet", "--out", str(out)]
        run_process(ctx, "single_years", [*_db(ctx), *args])
    return folder / "x"


def _exposure_answer(ctx: Ctx, path: Path) -> Answer:
    files = [path] if path.exists() else sorted(path.parent.glob("*.parquet"))
    return frame_answer(
        pl.concat([pl.read_parquet(f) for f in files]), _EXPOSURE_FIELDS
    )


PANEL_EXPOSURE = Case(
    name="panel_exposure",
    title="panel: exposure of every year → one Parquet (one process, streamed), "
    "vs each year in its own process",
    impls=(
        Impl(OURS, _exposure_all, _exposure_answer, _rm_parent),
        Impl("single_years", _exposure_each, _exposure_answer, _rm_parent),
        Impl(
            "before",
            lambda ctx: _exposure_all(ctx, before=True),
            _exposure_answer,
            _rm_parent,
            available=_before_available,
        ),
    ),
    targets=(
        Target("ratio:single_years", 1.2, "issue 17 (sum of the single years)"),
        Target("peak_ratio:single_years", 1.5, "issue 17 (one year's peak)"),
    ),
    compare=("single_years", "before"),
    required=("import_value_usd", "hhi", "prc_share"),
    setup=_setup,
)


# -- panel_trend ----------------------------------------------------------------------
def _trend(ctx: Ctx, before: bool = False) -> Path:
    out = ctx.fresh("trend.parquet")
    years = ctx.extra["years"]
    args = ["trend", "--from", str(years[0]), "--to", str(years[-1])]
    _run(ctx, OURS, [*args, "--format", "parquet", "--out", str(out)], before)
    return out


def _one_year(ctx: Ctx) -> Path:
    out = ctx.fresh("year.parquet")
    y = str(ctx.extra["years"][-1])
    args = ["exposure", "--year", y, "--format", "parquet", "--out", str(out)]
    run_process(ctx, "one_year_exposure", [*_db(ctx), *args])
    return out


def _rows_answer(ctx: Ctx, path: Path) -> Answer:
    df = pl.read_parquet(path)
    out: Answer = {"rows": float(df.height)}
    for col in ("prc_share_change", "hhi_change", "import_value_usd"):
        if col in df.columns:
            out[col] = float(df[col].fill_null(0.0).sum())
    return out


def _trend_setup(ctx: Ctx) -> None:
    _setup(ctx)
    ctx.extra["notes"]["per_year"] = False


PANEL_TREND = Case(
    name="panel_trend",
    title="panel: trend first → last year, every importer × product → Parquet, "
    "vs one year's exposure",
    impls=(
        Impl(OURS, _trend, _rows_answer, _rm_parent),
        Impl("one_year_exposure", _one_year, _rows_answer, _rm_parent),
        Impl(
            "before",
            lambda ctx: _trend(ctx, before=True),
            _rows_answer,
            _rm_parent,
            available=_before_available,
        ),
    ),
    compare=("before",),
    targets=(Target("ratio:one_year_exposure", 2.0, "issue 17"),),
    setup=_trend_setup,
)

PANEL_CASES = (PANEL_LOAD, PANEL_EXPOSURE, PANEL_TREND)


def describe(notes: dict[str, Any]) -> str:
    """One line about the panel a result was measured on."""
    return (
        f"{notes['years']} years × {notes['flows_per_year']:,} flows "
        f"({notes['flows']:,}); zip {notes['zip_mb']:,} MB; store "
        f"{notes['store_mb']:,} MB = {notes['store_mb_per_year']:,} MB per year "
        f"({notes['store_bytes_per_flow']} bytes per flow)"
    )
