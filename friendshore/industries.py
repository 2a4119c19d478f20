"""Defense-critical industries → HS6 inputs, with upstream links and concordance.

INTERFACE CONTRACT (implemented in issue 3; the exposure and scenario engines code
against exactly these names):

* ``load_industries() -> IndustryMap``
* ``IndustryMap.names() -> list[str]`` — e.g. ``permanent-magnets``, ``batteries``.
* ``IndustryMap.products(industry: str | None = None, hs_revision: str = "HS2017")
  -> pl.DataFrame`` with columns ``industry, hs6, hs_revision, material, stage,
  source`` — codes expressed in the requested revision (via the concordance);
  ``industry=None`` gives every industry. Unknown industry → ``UnknownNameError``.
* ``IndustryMap.upstream(hs_revision: str = "HS2017") -> pl.DataFrame`` with
  columns ``hs6, upstream_hs6`` — the upstream inputs of each product, used by the
  look-through exposure (one level; the engine follows the chain).
* ``IndustryMap.commodities() -> pl.DataFrame`` — ``material, commodity`` mapping
  industry-map materials to USGS commodity names (as stored in ``production``).

The map is authored in HS2022, the finest of the three revisions (``data/
industries/inputs.csv``, ``upstream.csv``); ``concordance.csv`` links every
mapped code to its HS2017 and HS2012 counterparts. Where HS2022 split an HS2017
code (811292 lost hafnium to 811231 and rhenium to 811241; 854140, 360300,
810600 and 810920 were split), the HS2022 codes collapse into the one older
code, and an industry lists it once, its materials joined (``"hafnium,
niobium, rhenium, vanadium"``). ``material`` is therefore a comma-separated
list where one HS6 code covers several materials; ``commodities()`` maps each
single material.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from friendshore._assets import data_path
from friendshore.errors import ReferenceDataError, UnknownNameError

REVISIONS = (
    "HS2012",
    "HS2017",
    "HS2022",
)  # oldest first; concordance steps between neighbours
STAGES = ("ore", "processed", "component", "end item")  # upstream → downstream
RELATIONS = ("one-to-one", "one-to-many", "many-to-one", "many-to-many")

PRODUCT_SCHEMA = {
    "industry": pl.String,
    "hs6": pl.String,
    "hs_revision": pl.String,
    "material": pl.String,
    "stage": pl.String,
    "source": pl.String,
}


@dataclass(frozen=True)
class Industry:
    """One defense-critical industry of the map."""

    name: str
    title: str
    description: str
    source: str


@dataclass(frozen=True)
class Input:
    """One HS6 input of an industry, in the revision it was authored in."""

    industry: str
    hs6: str
    hs_revision: str
    material: str
    stage: str
    source: str
    note: str = ""


@dataclass(frozen=True)
class Link:
    """One concordance row between adjacent HS revisions."""

    from_revision: str
    from_hs6: str
    to_revision: str
    to_hs6: str
    relation: str
    source: str
    note: str = ""


def _rows(name: str) -> list[tuple[int, dict[str, str]]]:
    path = data_path("industries", name)
    lines = path.read_text(encoding="utf-8").splitlines()
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if not ln.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(ln for _, ln in numbered)))
    return [
        (n, {k: (v or "").strip() for k, v in row.items()})
        for (n, _), row in zip(numbered[1:], reader, strict=False)
    ]


def _split_materials(text: str) -> list[str]:
    return [m.strip() for m in text.split(",") if m.strip()]


class IndustryMap:
    """Industries, their HS6 inputs, upstream links and the HS concordance."""

    def __init__(
        self,
        industries: Iterable[Industry],
        inputs: Iterable[Input],
        upstream_links: Iterable[tuple[str, str, str]],
        concordance: Iterable[Link],
        commodity_map: Iterable[tuple[str, str]],
    ) -> None:
        self.industries = {i.name: i for i in industries}
        self.inputs = tuple(inputs)
        self.upstream_links = tuple(upstream_links)  # (hs6, upstream_hs6, revision)
        self.concordance = tuple(concordance)
        self.commodity_map = tuple(commodity_map)
        # Adjacent-revision edges in both directions: (rev, code) → {codes in next rev}.
        self._edges: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        for link in self.concordance:
            self._edges[(link.from_revision, link.from_hs6, link.to_revision)].add(
                link.to_hs6
            )
            self._edges[(link.to_revision, link.to_hs6, link.from_revision)].add(
                link.from_hs6
            )

    # -- names ------------------------------------------------------------------
    def names(self) -> list[str]:
        """Industry names, sorted."""
        return sorted(self.industries)

    def industry(self, name: str) -> Industry:
        """One industry; ``UnknownNameError`` ("Did you mean …") when unknown."""
        try:
            return self.industries[name]
        except KeyError:
            raise UnknownNameError("industry", name, self.names()) from None

    # -- concordance ------------------------------------------------------------
    def convert(self, hs6: str, from_revision: str, to_revision: str) -> list[str]:
        """The codes of ``to_revision`` that ``hs6`` of ``from_revision`` maps to.

        Steps through adjacent revisions (HS2012 ↔ HS2017 ↔ HS2022). Raises
        ``ReferenceDataError`` when the concordance has no row for a code.
        """
        _check_revision(from_revision)
        _check_revision(to_revision)
        codes = {hs6}
        i, j = REVISIONS.index(from_revision), REVISIONS.index(to_revision)
        step = 1 if j > i else -1
        for k in range(i, j, step):
            src, dst = REVISIONS[k], REVISIONS[k + step]
            nxt: set[str] = set()
            for code in codes:
                found = self._edges.get((src, code, dst))
                if not found:
                    raise ReferenceDataError(
                        f"concordance.csv has no {src}→{dst} row for {code}"
                    )
                nxt |= found
            codes = nxt
        return sorted(codes)

    def concordance_frame(self) -> pl.DataFrame:
        """The concordance rows as a frame (adjacent revisions, oldest → newest)."""
        return pl.DataFrame(
            [
                (
                    c.from_revision,
                    c.from_hs6,
                    c.to_revision,
                    c.to_hs6,
                    c.relation,
                    c.note,
                )
                for c in self.concordance
            ],
            schema=[
                ("from_revision", pl.String),
                ("from_hs6", pl.String),
                ("to_revision", pl.String),
                ("to_hs6", pl.String),
                ("relation", pl.String),
                ("note", pl.String),
            ],
            orient="row",
        )

    # -- products ---------------------------------------------------------------
    def products(
        self,
        industry: str | None = None,
        hs_revision: str = "HS2017",
        *,
        detail: bool = False,
    ) -> pl.DataFrame:
        """HS6 inputs of one industry (or all), expressed in ``hs_revision``.

        One row per (industry, hs6): where the concordance merges several
        authored codes into one (HS2022 811231, 811241, 811292 → HS2017
        811292), their materials are joined and the most upstream stage kept.
        ``detail=True`` adds ``authored_hs6`` (the HS2022 codes behind the row),
        ``relation`` (of the authored codes to this one) and ``description``
        (from the bundled nomenclature; null for HS2012, which is not bundled).
        """
        _check_revision(hs_revision)
        if industry is not None:
            self.industry(industry)
        groups: dict[tuple[str, str], list[Input]] = defaultdict(list)
        for item in self.inputs:
            if industry is not None and item.industry != industry:
                continue
            for code in self.convert(item.hs6, item.hs_revision, hs_revision):
                groups[(item.industry, code)].append(item)
        rows = []
        for (ind, code), items in sorted(groups.items()):
            materials = sorted({m for i in items for m in _split_materials(i.material)})
            stage = min((i.stage for i in items), key=STAGES.index)
            sources = list(dict.fromkeys(i.source for i in items))
            row = {
                "industry": ind,
                "hs6": code,
                "hs_revision": hs_revision,
                "material": ", ".join(materials),
                "stage": stage,
                "source": "; ".join(sources),
            }
            if detail:
                authored = sorted({i.hs6 for i in items})
                row["authored_hs6"] = ", ".join(authored)
                row["relation"] = self._relation(items, code, hs_revision)
                row["description"] = hs_description(code, hs_revision)
            rows.append(row)
        schema = dict(PRODUCT_SCHEMA)
        if detail:
            schema |= {
                "authored_hs6": pl.String,
                "relation": pl.String,
                "description": pl.String,
            }
        return pl.DataFrame(rows, schema=schema)

    def _relation(self, items: list[Input], code: str, revision: str) -> str:
        """How the authored codes behind a row relate to ``code``."""
        authored = {(i.hs6, i.hs_revision) for i in items}
        if all(rev == revision for _, rev in authored):
            return "one-to-one"
        many_in = any(len(self.convert(code, revision, rev)) > 1 for _, rev in authored)
        many_out = any(
            len(self.convert(hs6, rev, revision)) > 1 for hs6, rev in authored
        )
        return {
            (False, False): "one-to-one",
            (True, False): "many-to-one",
            (False, True): "one-to-many",
            (True, True): "many-to-many",
        }[(many_in, many_out)]

    def upstream(self, hs_revision: str = "HS2017") -> pl.DataFrame:
        """Upstream links ``hs6 ← upstream_hs6`` expressed in ``hs_revision``.

        Links that collapse onto one code (both ends in the same older code) are
        dropped, so the graph stays acyclic in every revision.
        """
        _check_revision(hs_revision)
        pairs: set[tuple[str, str]] = set()
        for hs6, up, rev in self.upstream_links:
            for a in self.convert(hs6, rev, hs_revision):
                for b in self.convert(up, rev, hs_revision):
                    if a != b:
                        pairs.add((a, b))
        rows = sorted(pairs)
        return pl.DataFrame(
            {"hs6": [a for a, _ in rows], "upstream_hs6": [b for _, b in rows]},
            schema={"hs6": pl.String, "upstream_hs6": pl.String},
        )

    def upstream_chain(self, hs6: str, hs_revision: str = "HS2017") -> list[str]:
        """Every code upstream of ``hs6`` (transitively), nearest first."""
        edges: dict[str, list[str]] = defaultdict(list)
        for a, b in self.upstream(hs_revision).iter_rows():
            edges[a].append(b)
        seen: list[str] = []
        frontier = [hs6]
        while frontier:
            nxt = []
            for code in frontier:
                for up in edges.get(code, []):
                    if up not in seen:
                        seen.append(up)
                        nxt.append(up)
            frontier = nxt
        return seen

    def industry_frame(
        self, industry: str, hs_revision: str = "HS2017"
    ) -> pl.DataFrame:
        """``products(detail=True)`` of one industry plus its direct upstream codes."""
        products = self.products(industry, hs_revision, detail=True)
        ups = (
            self.upstream(hs_revision)
            .group_by("hs6")
            .agg(pl.col("upstream_hs6").sort().str.join(", ").alias("upstream"))
        )
        return products.join(ups, on="hs6", how="left").sort("hs6")

    def commodities(self) -> pl.DataFrame:
        """``material, commodity``: industry-map materials → USGS commodity names."""
        rows = sorted(self.commodity_map)
        return pl.DataFrame(
            {"material": [m for m, _ in rows], "commodity": [c for _, c in rows]},
            schema={"material": pl.String, "commodity": pl.String},
        )

    def industries_frame(self) -> pl.DataFrame:
        """One row per industry: title, number of inputs, materials, source."""
        rows = []
        for name in self.names():
            ind = self.industries[name]
            items = [i for i in self.inputs if i.industry == name]
            materials = sorted({m for i in items for m in _split_materials(i.material)})
            rows.append(
                {
                    "industry": name,
                    "title": ind.title,
                    "inputs_hs2022": len(items),
                    "materials": ", ".join(materials),
                    "source": ind.source,
                }
            )
        return pl.DataFrame(
            rows,
            schema={
                "industry": pl.String,
                "title": pl.String,
                "inputs_hs2022": pl.Int64,
                "materials": pl.String,
                "source": pl.String,
            },
        )


def _check_revision(revision: str) -> None:
    if revision not in REVISIONS:
        raise UnknownNameError("HS revision", revision, list(REVISIONS))


@cache
def hs_nomenclature(revision: str) -> dict[str, str]:
    """Six-digit code → description of a bundled nomenclature (HS2017, HS2022).

    HS2012 is not bundled: an empty mapping. The files keep codes as text
    (leading zeros); the HS2017 file starts with a BOM and ends with an empty row.
    """
    folder = {"HS2017": "hs2017", "HS2022": "hs2022"}.get(revision)
    if folder is None:
        return {}
    path: Path = data_path("hs", folder, "harmonized-system.csv")
    out: dict[str, str] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            code = (row.get("hscode") or "").strip()
            if row.get("level") == "6" and len(code) == 6 and code.isdigit():
                out[code] = row["description"]
    return out


def hs_description(hs6: str, revision: str) -> str | None:
    """Description of a six-digit code in a bundled nomenclature, else None."""
    return hs_nomenclature(revision).get(hs6)


@cache
def load_industries() -> IndustryMap:
    """The bundled industry map (``data/industries/``)."""
    industries = [
        Industry(r["industry"], r["title"], r["description"], r["source"])
        for _, r in _rows("industries.csv")
    ]
    names = {i.name for i in industries}
    inputs = []
    for n, r in _rows("inputs.csv"):
        item = Input(
            r["industry"],
            r["hs6"],
            r["hs_revision"],
            r["material"],
            r["stage"],
            r["source"],
            r.get("note", ""),
        )
        problem = _input_problem(item, names)
        if problem:
            raise ReferenceDataError(f"inputs.csv, row {n}: {problem}")
        inputs.append(item)
    links = [
        (r["hs6"], r["upstream_hs6"], r["hs_revision"])
        for _, r in _rows("upstream.csv")
    ]
    concordance = [
        Link(
            r["from_revision"],
            r["from_hs6"],
            r["to_revision"],
            r["to_hs6"],
            r["relation"],
            r["source"],
            r.get("note", ""),
        )
        for _, r in _rows("concordance.csv")
    ]
    commodity_map = [
        (r["material"], r["commodity"]) for _, r in _rows("commodities.csv")
    ]
    return IndustryMap(industries, inputs, links, concordance, commodity_map)


def _input_problem(item: Input, industries: set[str]) -> str | None:
    if item.industry not in industries:
        return f"industry {item.industry!r} is not in industries.csv"
    if len(item.hs6) != 6 or not item.hs6.isdigit():
        return f"hs6 {item.hs6!r} is not six digits"
    if item.hs_revision not in REVISIONS:
        return f"hs_revision {item.hs_revision!r}"
    if item.stage not in STAGES:
        return f"stage {item.stage!r} is not one of {', '.join(STAGES)}"
    return None
