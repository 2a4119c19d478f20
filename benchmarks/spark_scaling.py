"""How the Spark engine scales from 1 to 8 years of a synthetic BACI panel.

Builds 8 synthetic years (``benchmarks.synth``, the suite's generator), loads
them with friendshore's own BACI loader, exports them with
``friendshore.export.parquet.export_parquet`` and times, for the last 1, 2, 4 and 8
years, the same public API on both engines in this one process:

* ``world``: ``world_concentration(store, years=…)``: a scan and two-level
  aggregation of every flow, a small result (one row per year × product);
* ``exposure``: ``product_exposure(store, years=…, importer="USA")``: the same
  scan, one importer's rows back.

Answers are checked (row count and column sums equal to 1e-9 between the
engines) before any time is reported. Spark's time is fitted as ``a + b·years``:
``a`` is the per-query overhead (planning, the tier-list literal, job start-up,
Arrow hand-over), ``b`` the work per year of flows on this machine's cores, the
part a cluster divides among its executors.

    python -m benchmarks.spark_scaling --scale 0.05 --master 'local[2]' --repeat 3

The store and export are cached under ``benchmarks/.cache/spark/``. The result
(JSON) goes to ``benchmarks/results/spark_scaling.json`` unless ``--out``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks import synth

CACHE = synth.CACHE / "spark"
RESULTS = Path(__file__).resolve().parent / "results"
YEARS = list(range(2015, 2023))  # 8 years
STEPS = (1, 2, 4, 8)


def prepare(scale: float, seed: int) -> tuple[Path, Path, dict[int, int]]:
    """(store, export, rows per year) of the 8-year panel, built once per scale."""
    from friendshore.export.parquet import MANIFEST, export_parquet
    from friendshore.sources import load
    from friendshore.store import Store

    rel = synth.release(scale, seed, YEARS)
    folder = CACHE / f"{rel.folder.name}_y{YEARS[0]}-{YEARS[-1]}"
    db, export = folder / "store.duckdb", folder / "export"
    if not (export / MANIFEST).is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        with Store(db) as store:
            load(store, "baci", [*rel.paths(), rel.product_codes])
        with Store(db, read_only=True) as store:
            export_parquet(store, export)
    return db, export, dict(rel.rows)


def _answer(df: Any, value: str) -> tuple[int, float]:
    return df.height, float(df[value].sum())


def _time(fn: Any, repeat: int) -> tuple[float, Any]:
    fn()  # warm-up: JIT, caches, the first job's class loading
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def run(scale: float, seed: int, master: str, repeat: int) -> dict[str, Any]:
    """Time both engines for each step; raise if their answers differ."""
    from friendshore.engines.concentration import world_concentration
    from friendshore.engines.exposure import product_exposure
    from friendshore.export.spark import open_parquet, session
    from friendshore.store import Store

    db, export, rows = prepare(scale, seed)
    spark = session(master)
    queries = {
        "world": (world_concentration, {}, "world_exports_usd"),
        "exposure": (product_exposure, {"importer": "USA"}, "import_value_usd"),
    }
    out: dict[str, Any] = {
        "scale": scale,
        "seed": seed,
        "master": master,
        "repeat": repeat,
        "flows_per_year": rows,
        "cases": {},
    }
    with Store(db, read_only=True) as duck, open_parquet(export, spark=spark) as sp:
        for name, (fn, kwargs, value) in queries.items():
            steps = []
            for n in STEPS:
                years = YEARS[-n:]

                def on(
                    store: Any,
                    fn: Any = fn,
                    years: list[int] = years,
                    kwargs: dict[str, Any] = kwargs,
                ) -> Any:
                    return fn(store, years=years, **kwargs)

                t_spark, a = _time(lambda on=on: on(sp), repeat)
                t_duck, b = _time(lambda on=on: on(duck), repeat)
                ra, rb = _answer(a, value), _answer(b, value)
                if ra[0] != rb[0] or abs(ra[1] - rb[1]) > 1e-9 * abs(rb[1]):
                    raise SystemExit(f"{name}, {n} years: Spark {ra} != DuckDB {rb}")
                steps.append(
                    {
                        "years": n,
                        "flows": sum(rows[y] for y in years),
                        "spark_s": round(t_spark, 3),
                        "duckdb_s": round(t_duck, 3),
                        "ratio": round(t_spark / t_duck, 1),
                    }
                )
                print(f"{name:9} {n} years: {steps[-1]}", flush=True)
            xs = [s["years"] for s in steps]
            ys = [s["spark_s"] for s in steps]
            slope, intercept = statistics.linear_regression(xs, ys)
            out["cases"][name] = {
                "steps": steps,
                "spark_fixed_s": round(intercept, 2),
                "spark_per_year_s": round(slope, 3),
            }
    spark.stop()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=synth.DEFAULT_SEED)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS / "spark_scaling.json")
    args = ap.parse_args(argv)
    result = run(args.scale, args.seed, args.master, args.repeat)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, case in result["cases"].items():
        print(
            f"{name}: Spark ≈ {case['spark_fixed_s']} s + "
            f"{case['spark_per_year_s']} s per year of flows"
        )


if __name__ == "__main__":
    main()
