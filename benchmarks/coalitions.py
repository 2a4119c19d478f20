"""Coalition league tables and partner suggestions on a synthetic BACI year (issue 19).

Targets (whole process, as a user runs them, on this machine):

- ``friendshore coalitions``: eight coalitions × the defense basket (every
  industry's HS6 inputs) on a 10 M-flow year, under 30 s;
- ``friendshore partners suggest``: 40 candidate partners for one coalition, under
  60 s.

Beside the whole-process times, one process measures where the time goes: the one
read of the baseline, the solves, and — as a same-process ratio — a candidate
solved with only the products its joining changes against the whole basket solved
again (the route the command avoids).

    python -m benchmarks.coalitions --scale 1.0      # 10 M flows
    python -m benchmarks.coalitions --smoke          # scale 0.01, checks only

Results go to ``benchmarks/results/coalitions.json`` (``coalitions-smoke.json``).
The store is the one ``benchmarks.run`` builds (cached under ``benchmarks/.cache``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import synth
from .run import RESULTS, machine, prepare_store

GROUPS = ("quad", "aukus", "g7", "msp", "nato", "eu", "five-eyes", "ipef")
COALITION = "quad"
N_CANDIDATES = 40
TARGETS = {"coalitions_seconds": 30.0, "partners_seconds": 60.0}


def _cli(store: Path, *args: str) -> tuple[float, str]:
    """Run the friendshore CLI in a fresh process; (seconds, stderr)."""
    cmd = [sys.executable, "-m", "friendshore", "--db", str(store), "--read-only"]
    start = time.perf_counter()
    done = subprocess.run([*cmd, *args], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr.strip()}")
    return seconds, done.stderr


def _in_process(store: Path, year: int) -> dict[str, Any]:
    """The split of one command's time, and the candidate-route ratio."""
    import numpy as np
    import polars as pl

    from friendshore.engines.scenarios import coalitions as co
    from friendshore.reference.registry import load_registry
    from friendshore.store import Store

    out: dict[str, Any] = {}
    reg = load_registry()
    with Store(store, read_only=True) as s:
        start = time.perf_counter()
        basket = co.load_basket(s, year=year, industry="all", registry=reg)
        out["basket_read_seconds"] = time.perf_counter() - start
    mk = basket.markets
    out["flows"] = mk.n_flows
    out["products"] = len(mk.products)
    chosen = co.resolve_coalitions(reg, basket.year, list(GROUPS))
    start = time.perf_counter()
    league = co.league_table(basket, chosen.members)
    out["league_solve_seconds"] = time.perf_counter() - start
    out["league"] = league.select(
        "rank", "coalition", "import_price_change_pct", "cut_off_usd"
    ).to_dicts()
    members = chosen.members[COALITION]
    candidates = _candidates(basket, members)
    out["candidates"] = candidates
    start = time.perf_counter()
    table = co.partner_table(basket, COALITION, members, candidates=candidates)
    out["partners_solve_seconds"] = time.perf_counter() - start
    # The avoided route: the whole basket solved again for a few candidates.
    sample = candidates[:5]
    start = time.perf_counter()
    full = {}
    settings = co.Settings()
    concern_c = mk.country_mask(basket.concern_members)
    member_c = mk.country_mask(frozenset(members))
    for cand in sample:
        joined = frozenset(members) | {cand}
        sol = co._solve(mk, basket.policy(joined, settings, cand), settings)
        sums = co._set_sums(
            co._terms(sol, concern_c, settings.elasticities.demand), member_c
        )
        full[cand] = co._figures(sums)["import_price_change_pct"]
    whole = (time.perf_counter() - start) / len(sample)
    start = time.perf_counter()
    co.partner_table(basket, COALITION, members, candidates=sample)
    changed = (time.perf_counter() - start) / len(sample)
    out["candidate_changed_products_seconds"] = changed
    out["candidate_whole_basket_seconds"] = whole
    out["ratio_changed_vs_whole"] = changed / whole
    got = dict(
        table.filter(pl.col("candidate").is_in(sample))
        .select("candidate", "import_price_change_pct")
        .iter_rows()
    )
    gaps = [abs(got[c] - full[c]) for c in sample if np.isfinite(full[c])]
    out["changed_vs_whole_max_gap_pp"] = max(gaps, default=0.0)
    return out


def _candidates(basket: Any, members: tuple[str, ...]) -> list[str]:
    """The 40 largest importers of the basket outside the coalition (countries)."""
    import numpy as np

    from friendshore.reference import countries

    mk = basket.markets
    totals = np.bincount(mk.m_country, mk.v, minlength=len(mk.countries))
    order = np.argsort(-totals, kind="stable")
    out = []
    for i in order:
        code = str(mk.countries[i])
        entry = countries.lookup(code)
        if code in members or code in basket.concern_members:
            continue
        if entry is None or entry.kind != "country" or totals[i] <= 0:
            continue
        out.append(code)
        if len(out) == N_CANDIDATES:
            break
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.coalitions", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = 10 million flows")
    ap.add_argument("--seed", type=int, default=synth.DEFAULT_SEED)
    ap.add_argument("--year", type=int, default=synth.DEFAULT_YEAR)
    ap.add_argument("--smoke", action="store_true", help="scale 0.01, checks only")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.smoke:
        args.scale = 0.01
    out = args.out or RESULTS / (
        "coalitions-smoke.json" if args.smoke else "coalitions.json"
    )
    rel = synth.release(args.scale, args.seed, (args.year,))
    store = prepare_store(rel, args.year)
    split = _in_process(store, args.year)
    with tempfile.TemporaryDirectory() as tmp:
        league_s, _ = _cli(
            store, "coalitions", "--industry", "all", "--year", str(args.year),
            "--groups", *GROUPS, "--format", "parquet", "--out", f"{tmp}/c.parquet",
        )  # fmt: skip
        cands = [a for c in split["candidates"] for a in ("--candidate", c)]
        partners_s, _ = _cli(
            store, "partners", "suggest", "--coalition", COALITION, "--industry",
            "all", "--year", str(args.year), *cands, "--format", "parquet",
            "--out", f"{tmp}/p.parquet",
        )  # fmt: skip
    result = {
        "scale": args.scale,
        "machine": machine(),
        "coalitions_seconds": league_s,
        "partners_seconds": partners_s,
        "n_coalitions": len(GROUPS),
        "n_candidates": len(split["candidates"]),
        **split,
    }
    checks = []
    if split["changed_vs_whole_max_gap_pp"] > 1e-6:
        checks.append(
            "a candidate solved on the changed products differs from the whole "
            f"basket by {split['changed_vs_whole_max_gap_pp']:.3g} pp"
        )
    if not args.smoke:
        for key, limit in TARGETS.items():
            result[f"{key}_target"] = limit
            if result[key] > limit:
                checks.append(f"{key} {result[key]:.1f} s > target {limit:.0f} s")
    result["problems"] = checks
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(
        f"{split['flows']:,} basket flows, {split['products']} products "
        f"(store of scale {args.scale:g}); machine shared with other work\n"
        f"coalitions ({len(GROUPS)} groups), whole process: {league_s:.2f} s "
        f"(target {TARGETS['coalitions_seconds']:.0f} s)\n"
        f"partners suggest ({result['n_candidates']} candidates), whole process: "
        f"{partners_s:.2f} s (target {TARGETS['partners_seconds']:.0f} s)\n"
        f"in one process: basket read {split['basket_read_seconds']:.2f} s, "
        f"{len(GROUPS)} coalition solves {split['league_solve_seconds']:.2f} s, "
        f"{result['n_candidates']} candidates {split['partners_solve_seconds']:.2f} s\n"
        f"a candidate on its changed products / on the whole basket: "
        f"{split['candidate_changed_products_seconds']:.3f} s / "
        f"{split['candidate_whole_basket_seconds']:.3f} s = "
        f"{split['ratio_changed_vs_whole']:.2f}\n"
        f"results: {out}"
    )
    for problem in checks:
        print(f"FAILED {problem}", file=sys.stderr)
    return 1 if checks else 0


if __name__ == "__main__":
    sys.exit(main())
