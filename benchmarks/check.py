"""Guard against regressions: compare latest ratios with the committed baseline.

Usage::

    python -m benchmarks.check [--latest benchmarks/results/latest.json]
                               [--baseline benchmarks/baseline.json] [--tolerance 0.25]

Ratios (friendshore time / reference time, measured in the same run) travel
between machines far better than absolute seconds, so they are what is compared:
a ratio that grew by more than ``tolerance`` (25 %) over the baseline fails, as
does a case that ran in the baseline and now errors, answers wrongly or has gone
missing. A case or reference that is new since the baseline is reported, not
judged. Exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_TOLERANCE = 0.25


def compare(
    latest: dict[str, Any], baseline: dict[str, Any], tolerance: float
) -> tuple[list[str], list[str]]:
    """(failures, notes) of ``latest`` against ``baseline``."""
    failures: list[str] = []
    notes: list[str] = []
    if latest.get("scale") != baseline.get("scale"):
        failures.append(
            f"latest ran at scale {latest.get('scale')}, the baseline at "
            f"{baseline.get('scale')}: ratios are only comparable at one scale "
            "(run make bench)"
        )
        return failures, notes
    for name, base in baseline.get("cases", {}).items():
        if base.get("status") != "ok":
            continue
        now = latest.get("cases", {}).get(name)
        if now is None:
            failures.append(f"{name}: in the baseline but not in this run")
            continue
        if now.get("status") != "ok":
            failures.append(f"{name}: {now.get('status')}: {now.get('reason', '')}")
            continue
        for ref, was in base.get("ratios", {}).items():
            ratio = now.get("ratios", {}).get(ref)
            if ratio is None:
                failures.append(f"{name}: no ratio against {ref} in this run")
            elif ratio > was * (1 + tolerance):
                failures.append(
                    f"{name}: friendshore/{ref} {ratio:.3f} vs baseline {was:.3f} "
                    f"(+{ratio / was - 1:.0%}, more than {tolerance:.0%})"
                )
            else:
                notes.append(
                    f"{name}: friendshore/{ref} {ratio:.3f} (baseline {was:.3f})"
                )
    for name, now in latest.get("cases", {}).items():
        base = baseline.get("cases", {}).get(name, {})
        if now.get("status") == "ok" and base.get("status") != "ok":
            notes.append(f"{name}: new since the baseline (not judged)")
        for t in now.get("targets", []):
            if t.get("met") is False:
                notes.append(
                    f"{name}: target {t['metric']} ≤ {t['limit']:g} missed "
                    f"({t['value']:.4g}, {t['source']})"
                )
    return failures, notes


def main(argv: list[str] | None = None) -> int:
    """Compare two results files; print the verdict."""
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.check", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--latest", type=Path, default=HERE / "results" / "latest.json")
    ap.add_argument("--baseline", type=Path, default=HERE / "baseline.json")
    ap.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE)
    args = ap.parse_args(argv)
    for path in (args.latest, args.baseline):
        if not path.exists():
            print(f"Error: {path} not found (run make bench first)", file=sys.stderr)
            return 2
    latest = json.loads(args.latest.read_text())
    baseline = json.loads(args.baseline.read_text())
    failures, notes = compare(latest, baseline, args.tolerance)
    for line in notes:
        print(f"  {line}")
    for line in failures:
        print(f"REGRESSION {line}", file=sys.stderr)
    print("bench-check: " + ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
