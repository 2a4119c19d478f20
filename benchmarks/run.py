"""The benchmark harness: time friendshore against references, check the answers.

Usage::

    python -m benchmarks.run --scale 1.0 [--cases load exposure …] [--repeat N]
                             [--out benchmarks/results/latest.json]
    python -m benchmarks.run --smoke          # scale 0.01, fails on errors only

Every case runs in a fresh subprocess, so one case's memory and caches do not
colour the next. Inside it the implementations run interleaved (ours, ref A, ref B,
ours, …) after one untimed warm-up round; the median of ``--repeat`` runs is
reported with the ratio ours / reference. Every run's answer (row count and column
sums) is compared across runs and implementations: a wrong or unstable answer
fails the run whatever the timing. Peak memory is the RSS high-water mark of a
separate subprocess per implementation that runs it once (``resource.getrusage``),
so a pandas reference cannot inflate friendshore's figure.

Exit status: 0 when every case ran (or is "not available yet") with matching
answers; 1 on an error or a wrong answer. Missed targets are reported, not fatal:
``python -m benchmarks.check`` guards regressions against the committed baseline.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import synth
from benchmarks.cases import CASES, NO_STORE, OURS, Answer, Case, Ctx, iter_cases
from benchmarks.panel import describe as panel_describe

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
STORES = synth.CACHE / "stores"
SCHEMA = 1  # of the results JSON

# Answers are sums over up to ~10^6 groups computed in different orders.
REL_TOL = 1e-7
ABS_TOL = 1e-6

OK, NOT_AVAILABLE, ERROR, WRONG = "ok", "not available", "error", "wrong answer"


# -- measurements ---------------------------------------------------------------------
def peak_rss_mb() -> float:
    """This process's RSS high-water mark in MiB.

    Linux: ``VmHWM`` of ``/proc/self/status``, because ``ru_maxrss`` survives
    fork + exec — a worker spawned by a parent that once held 500 MB would report
    at least 500 MB. Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def machine() -> dict[str, Any]:
    """Where the figures come from: CPU, memory, load, versions."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "memory_gb": round(
            os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1
        ),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    versions = {}
    for pkg in ("friendshore", "polars", "duckdb", "pyarrow", "pandas", "numpy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    info["versions"] = versions
    try:
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        info["git_commit"] = None
    return info


# -- the store the query cases read -------------------------------------------------
def _code_fingerprint() -> str:
    """Hash of the package code and SQL: a changed loader or engine rebuilds the store."""
    h = hashlib.sha256()
    files = sorted((ROOT / "friendshore").rglob("*.py"))
    files += sorted((ROOT / "queries").glob("*.sql"))
    for path in files:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def prepare_store(rel: synth.Release, year: int) -> Path:
    """A store holding the synthetic year, loaded by friendshore's own loader.

    Cached per release, year and code fingerprint; built under a temporary name and
    renamed, so an interrupted build is never reused.
    """
    from friendshore.sources import load
    from friendshore.store import Store

    STORES.mkdir(parents=True, exist_ok=True)
    stem = f"{rel.folder.name}_y{year}"
    path = STORES / f"{stem}_{_code_fingerprint()}.duckdb"
    if path.exists():
        return path
    for old in STORES.glob(f"{stem}_*.duckdb*"):
        old.unlink()
    tmp = path.with_name(path.name + ".building")
    for p in (tmp, Path(f"{tmp}.wal")):
        p.unlink(missing_ok=True)
    with Store(tmp) as store:
        load(
            store, "baci", [rel.year_files[year], rel.country_codes, rel.product_codes]
        )
    tmp.replace(path)
    return path


# -- one case, in a worker process ------------------------------------------------------
def _same(a: Answer, b: Answer, fields: set[str] | None = None) -> list[str]:
    """Fields on which two answers differ (beyond float summation noise)."""
    keys = fields if fields is not None else set(a) & set(b)
    return sorted(
        k
        for k in keys
        if k in a
        and k in b
        and not math.isclose(a[k], b[k], rel_tol=REL_TOL, abs_tol=ABS_TOL)
    )


def check_answers(case: Case, answers: dict[str, list[Answer]]) -> list[str]:
    """Problems with the answers: unstable across runs, or unlike ours."""
    problems = []
    for name, runs in answers.items():
        for other in runs[1:]:
            if diff := _same(runs[0], other, set(runs[0]) | set(other)):
                problems.append(f"{name} gave different answers across runs ({diff})")
                break
    if OURS not in answers:
        return problems
    ours = answers[OURS][0]
    for name in case.compare:
        if name not in answers:
            continue
        ref = answers[name][0]
        missing = [f for f in ("rows", *case.required) if f not in ours or f not in ref]
        if missing:
            who = OURS if any(f not in ours for f in missing) else name
            problems.append(f"{who} result lacks {', '.join(missing)}")
        for key in _same(ours, ref):
            problems.append(f"{key}: {OURS} {ours[key]!r} vs {name} {ref[key]!r}")
    return problems


def run_case(
    case: Case,
    ctx: Ctx,
    *,
    repeat: int,
    warmup: int,
    only: str | None = None,
) -> dict[str, Any]:
    """Run one case's implementations interleaved; times, answers, status."""
    out: dict[str, Any] = {"title": case.title}
    reason = case.available()
    if reason:
        return {**out, "status": NOT_AVAILABLE, "reason": reason}
    impls = [i for i in case.impls if only is None or i.name == only]
    skipped = {i.name: why for i in impls if (why := i.available())}
    impls = [i for i in impls if i.name not in skipped]
    if skipped:
        out["skipped"] = skipped
    times: dict[str, list[float]] = {i.name: [] for i in impls}
    answers: dict[str, list[Answer]] = {i.name: [] for i in impls}
    current = "setup"
    ctx.extra["probe"] = only is not None  # a memory probe: one run of one impl
    try:
        if case.setup is not None:
            case.setup(ctx)
        base_rss = peak_rss_mb()
        for rep in range(warmup + repeat):
            for impl in impls:
                current = impl.name
                gc.collect()
                started = time.perf_counter()
                result = impl.run(ctx)
                elapsed = time.perf_counter() - started
                answers[impl.name].append(impl.answer(ctx, result))
                if impl.cleanup is not None:
                    impl.cleanup(result)
                del result
                if rep >= warmup:
                    times[impl.name].append(elapsed)
        current = "answer check"
        problems = check_answers(case, answers) if only is None else []
        if (
            case.validate is not None
            and OURS in answers
            and (problem := case.validate(ctx, answers[OURS][0]))
        ):
            problems.append(f"{OURS}: {problem}")
    except Exception as exc:
        last = traceback.format_exception_only(exc)[-1].strip()
        return {
            **out,
            "status": ERROR,
            "reason": f"{current}: {last}",
            "traceback": traceback.format_exc(),
        }
    finally:
        ctx.close()
    out["implementations"] = {
        name: {
            "median_s": statistics.median(ts) if ts else None,
            "min_s": min(ts) if ts else None,
            "times_s": [round(t, 6) for t in ts],
            "answer": answers[name][0],
        }
        for name, ts in times.items()
    }
    # A case that runs whole processes reports each one's own peak, not ours.
    for name, peak in ctx.extra.get("child_peak_rss_mb", {}).items():
        if name in out["implementations"]:
            out["implementations"][name]["peak_rss_mb"] = round(peak, 1)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    out["base_rss_mb"] = round(base_rss, 1)
    if "notes" in ctx.extra:  # what the case measured on (the panel's size)
        out["notes"] = ctx.extra["notes"]
    out["status"] = WRONG if problems else OK
    if problems:
        out["reason"] = "; ".join(problems)
    return out


def _worker(args: argparse.Namespace) -> None:
    """``--worker CASE``: run one case in this (fresh) process; write JSON."""
    rel = synth.release(args.scale, args.seed, [args.year])
    case = CASES[args.worker]
    with tempfile.TemporaryDirectory(prefix="friendshore-bench-") as scratch:
        ctx = Ctx(rel, args.year, Path(args.store), Path(scratch))
        ctx.extra |= {
            "seed": args.seed,
            "panel_scale": args.panel_scale,
            "panel_years": args.panel_years,
        }
        result = run_case(
            case, ctx, repeat=args.repeat, warmup=args.warmup, only=args.only
        )
    Path(args.result).write_text(json.dumps(result, indent=2) + "\n")


def _spawn(args: argparse.Namespace, case: str, store: Path, **extra: Any) -> dict:
    """Run ``--worker case`` in a fresh interpreter and read its JSON."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result = Path(fh.name)
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--worker",
        case,
        "--scale",
        str(args.scale),
        "--seed",
        str(args.seed),
        "--year",
        str(args.year),
        "--store",
        str(store),
        "--result",
        str(result),
        "--repeat",
        str(extra.get("repeat", args.repeat)),
        "--warmup",
        str(extra.get("warmup", args.warmup)),
        "--panel-scale",
        str(args.panel_scale),
        "--panel-years",
        str(args.panel_years),
    ]
    if extra.get("only"):
        cmd += ["--only", extra["only"]]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0 or not result.read_text().strip():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return {"status": ERROR, "reason": " | ".join(tail) or "worker died"}
        data: dict = json.loads(result.read_text())
        return data
    finally:
        result.unlink(missing_ok=True)


# -- suite ----------------------------------------------------------------------------
def _ratios(impls: dict[str, dict[str, Any]]) -> dict[str, float]:
    ours = impls.get(OURS, {}).get("median_s")
    out = {}
    for name, data in impls.items():
        ref = data.get("median_s")
        if name != OURS and ours and ref:
            out[name] = round(ours / ref, 4)
    return out


def _targets(case: Case, result: dict[str, Any]) -> list[dict[str, Any]]:
    impls = result.get("implementations", {})
    ours = impls.get(OURS, {})
    rows = []
    for t in case.targets:
        if t.metric.startswith("ratio:"):
            value = result["ratios"].get(t.metric.split(":", 1)[1])
        elif t.metric.startswith("peak_ratio:"):  # ours' peak RSS / the other's
            other = impls.get(t.metric.split(":", 1)[1], {}).get("peak_rss_mb")
            mine = ours.get("peak_rss_mb")
            value = round(mine / other, 4) if mine and other else None
        elif t.metric == "seconds":
            value = ours.get("median_s")
        else:  # peak_mb
            value = ours.get("peak_rss_mb")
        rows.append(
            {
                "metric": t.metric,
                "limit": round(t.limit, 4),
                "value": value,
                "met": None if value is None else value <= t.limit,
                "source": t.source,
            }
        )
    return rows


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    """Generate (or find) the data, run every selected case, gather the results."""
    cases = list(iter_cases(args.cases))
    started = time.perf_counter()
    rel = synth.release(args.scale, args.seed, [args.year])
    store = Path(os.devnull)
    store_error = None
    if any(c.name not in NO_STORE for c in cases):
        try:
            store = prepare_store(rel, args.year)
        except Exception as exc:
            store_error = traceback.format_exception_only(exc)[-1].strip()
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": args.scale,
        "seed": args.seed,
        "year": args.year,
        "rows": rel.rows[args.year],
        "repeat": args.repeat,
        "warmup": args.warmup,
        "machine": machine(),
        "cases": {},
    }
    for case in cases:
        print(f"… {case.name}", file=sys.stderr, flush=True)
        if store_error and case.name not in NO_STORE:
            result = {
                "title": case.title,
                "status": ERROR,
                "reason": f"building the store failed: {store_error}",
            }
        else:
            result = _spawn(args, case.name, store)
            result.setdefault("title", case.title)
        if result["status"] == OK:
            if args.memory:
                for name in result["implementations"]:
                    probe = _spawn(
                        args, case.name, store, repeat=1, warmup=0, only=name
                    )
                    impl = result["implementations"][name]
                    own = probe.get("implementations", {}).get(name, {})
                    impl["peak_rss_mb"] = own.get(
                        "peak_rss_mb", probe.get("peak_rss_mb")
                    )
                    impl["base_rss_mb"] = probe.get("base_rss_mb")
            result["ratios"] = _ratios(result["implementations"])
            result["targets"] = _targets(case, result)
        report["cases"][case.name] = result
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def format_table(report: dict[str, Any]) -> str:
    """The results as a plain-text table."""
    m = report["machine"]
    lines = [
        f"friendshore benchmarks — scale {report['scale']:g} "
        f"({report['rows']:,} flows, year {report['year']}), "
        f"median of {report['repeat']}, {m['cpus_usable']} CPUs, "
        f"{m['memory_gb']} GB, load {m['load_average_1m']}",
        f"{'case':<12} {'implementation':<14} {'median s':>10} "
        f"{'ours/impl':>10} {'peak MB':>9}",
    ]
    for name, res in report["cases"].items():
        if res["status"] not in (OK,):
            lines.append(f"{name:<12} {res['status'].upper()}: {res.get('reason', '')}")
            continue
        for n, (impl, data) in enumerate(res["implementations"].items()):
            ratio = res["ratios"].get(impl)
            peak = data.get("peak_rss_mb")
            lines.append(
                f"{name if n == 0 else '':<12} {impl:<14} "
                f"{data['median_s']:>10.4f} "
                f"{'' if ratio is None else f'{ratio:.3f}':>10} "
                f"{'' if peak is None else f'{peak:.0f}':>9}"
            )
        if res.get("notes"):
            lines.append(f"{'':<12} on {panel_describe(res['notes'])}")
            if res["notes"].get("per_year"):  # the case covers every year
                ours = res["implementations"][OURS]["median_s"] / res["notes"]["years"]
                lines.append(f"{'':<12} friendshore per year: {ours:.4f} s")
        for impl, why in res.get("skipped", {}).items():
            lines.append(f"{'':<12} {impl:<14} {why}")
        for t in res.get("targets", []):
            verdict = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
            value = "?" if t["value"] is None else f"{t['value']:.4g}"
            lines.append(
                f"{'':<12} target {t['metric']} = {value} ≤ {t['limit']:g}: "
                f"{verdict} ({t['source']})"
            )
    return "\n".join(lines)


def failed(report: dict[str, Any]) -> list[str]:
    """Cases that errored or answered wrongly."""
    return [
        f"{name}: {res['status']}: {res.get('reason', '')}"
        for name, res in report["cases"].items()
        if res["status"] in (ERROR, WRONG)
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (also those of the internal ``--worker`` mode)."""
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = 10 million flows")
    ap.add_argument("--cases", nargs="*", help=f"subset of: {' '.join(CASES)}")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per impl")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs first")
    ap.add_argument("--seed", type=int, default=synth.DEFAULT_SEED)
    ap.add_argument("--year", type=int, default=synth.DEFAULT_YEAR)
    ap.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    ap.add_argument(
        "--panel-years", type=int, default=30, help="years of the panel cases"
    )
    ap.add_argument(
        "--panel-scale",
        type=float,
        help="flows per panel year (1.0 = 10 million; default scale / 10)",
    )
    ap.add_argument(
        "--no-memory",
        dest="memory",
        action="store_false",
        help="skip the per-implementation peak-memory subprocesses",
    )
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="scale 0.01, 1 timed run, no warm-up or memory probes, "
        "results to benchmarks/results/smoke.json",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--only", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.smoke:
        args.scale, args.repeat, args.warmup, args.memory = 0.01, 1, 0, False
        args.panel_years = min(args.panel_years, 3)
        if args.out == RESULTS / "latest.json":
            args.out = RESULTS / "smoke.json"
    if args.panel_scale is None:
        args.panel_scale = args.scale / 10
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the suite (or one worker); print the table; write the JSON."""
    args = parse_args(argv)
    if args.worker:
        _worker(args)
        return 0
    report = run_suite(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(format_table(report))
    print(f"results: {args.out} ({report['seconds']} s)")
    problems = failed(report)
    for p in problems:
        print(f"FAILED {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
