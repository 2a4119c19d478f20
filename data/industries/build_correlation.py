"""Build ``hs_correlation.csv``: the UNSD HS2022 correlation rows the industry map uses.

Run from the repository root with the folder of the UNSD tables (the project's shared
real-data copy, ``hs-correlation/``)::

    python data/industries/build_correlation.py /path/to/hs-correlation

For every HS2022 code of ``inputs.csv`` and ``upstream.csv`` and every earlier revision
(HS1992 … HS2017) it keeps the code's correlation rows (for an n:n code only the row of
UNSD's conversion table, the code's main counterpart: the full n:n sets of, e.g., the
integrated circuits reach 160–200 codes of other chapters through HS2022's new headings),
and then *every* row of each earlier code reached, so the map can tell what else that
code holds (its scope). Rows are copied as they are, with ``conversion`` = 1 where UNSD's
conversion table picks that earlier code for the HS2022 code.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
YEARS = ("1992", "1996", "2002", "2007", "2012", "2017")
HEADER = """\
# friendshore industry map: HS2022 -> earlier HS revisions, rows of the UN Statistics Division's
# "HS 2022 to HS YYYY Correlation and Conversion Tables" (correlation sheet; conversion = 1 where the
# conversion sheet picks that code), as redistributed in data-raw/ of the R package `concordance`
# (Liao, Kim, Miyano & Zhang; MIT licence), converted from xlsx to CSV without changes of content.
# Subset: the rows of every HS2022 code in inputs.csv/upstream.csv (n:n codes: the conversion row only)
# and every row of each earlier-revision code they reach. Built by build_correlation.py; do not edit.
"""


def _codes() -> set[str]:
    codes: set[str] = set()
    for name, cols in (
        ("inputs.csv", ("hs6",)),
        ("upstream.csv", ("hs6", "upstream_hs6")),
    ):
        with (HERE / name).open(encoding="utf-8") as fh:
            rows = csv.DictReader(line for line in fh if not line.startswith("#"))
            for row in rows:
                codes.update(row[c] for c in cols)
    return codes


def build(src: Path) -> list[tuple[str, str, str, str, int]]:
    """Rows ``revision, hs2022, hs6, relationship, conversion`` (sorted)."""
    codes = _codes()
    out: set[tuple[str, str, str, str, int]] = set()
    for year in YEARS:
        rev = f"HS{year}"
        with (src / f"hs2022_hs{year}_conversion.csv").open(encoding="utf-8") as fh:
            conv = {r["hs2022"]: r[f"hs{year}"] for r in csv.DictReader(fh)}
        fwd: dict[str, list[tuple[str, str]]] = defaultdict(list)
        back: dict[str, list[tuple[str, str]]] = defaultdict(list)
        with (src / f"hs2022_hs{year}_correlation.csv").open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                fwd[r["hs2022"]].append((r[f"hs{year}"], r["relationship"]))
                back[r[f"hs{year}"]].append((r["hs2022"], r["relationship"]))
        reached: set[str] = set()
        for code in sorted(codes):
            if code not in fwd:
                raise SystemExit(
                    f"{code}: not in the HS2022-HS{year} correlation table"
                )
            for old, rel in fwd[code]:
                if rel == "n:n" and conv.get(code) != old:
                    continue
                reached.add(old)
        for old in reached:
            for new, rel in back[old]:
                out.add((rev, new, old, rel, int(conv.get(new) == old)))
    return sorted(out)


def main() -> None:
    src = Path(sys.argv[1])
    rows = build(src)
    with (HERE / "hs_correlation.csv").open("w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER)
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["revision", "hs2022", "hs6", "relationship", "conversion"])
        w.writerows(rows)
    print(f"{len(rows)} rows")


if __name__ == "__main__":
    main()
