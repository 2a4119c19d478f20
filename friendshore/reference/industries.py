"""Defense-critical industries → HS6 inputs, with upstream links and HS revisions.

What the engines use:

* ``load_industries() -> IndustryMap``
* ``IndustryMap.names() -> list[str]`` — e.g. ``permanent-magnets``, ``batteries``.
* ``IndustryMap.products(industry: str | None = None, hs_revision: str = "HS2017",
  *, include_broader: bool = False) -> pl.DataFrame`` with columns ``industry, hs6,
  hs_revision, material, stage, source, scope`` — codes expressed in the requested
  revision; ``industry=None`` gives every industry. Unknown industry →
  ``UnknownNameError``. Rows of ``scope = broader`` are left out unless asked.
* ``IndustryMap.broader(industry, hs_revision)`` — the rows left out, with a note
  saying what else each code holds (for the "left out" notes and columns).
* ``IndustryMap.upstream(hs_revision: str = "HS2017", *, include_broader=False)
  -> pl.DataFrame`` with columns ``hs6, upstream_hs6`` — the upstream inputs of each
  product, used by the look-through exposure (one level; the engine follows the chain).
* ``IndustryMap.commodities() -> pl.DataFrame`` — ``material, commodity`` mapping
  industry-map materials to USGS commodity names (as stored in ``production``).

The map is authored in HS2022, the finest revision (``data/industries/inputs.csv``,
``upstream.csv``). Every earlier revision, HS1992 to HS2017, is reached through the
UN Statistics Division's HS2022 correlation tables (``hs_correlation.csv``, the rows
the map uses): an HS2022 code maps to its correlated earlier codes (for an n:n code,
to the one UNSD's conversion table picks). Where several HS2022 codes fall into one
earlier code (811292 took in hafnium 811231 and rhenium 811241 before HS2022;
854140 held LEDs and PV cells and modules beside 854149), an industry lists the earlier
code once, its materials joined.

Scope. A code is ``broader`` for an industry when it holds much that is not the
industry's input, and it is then left out of baskets and roll-ups unless
``include_broader``. Two routes: the author marks it in ``inputs.csv`` (282560 is
germanium oxides *and zirconium dioxide*), or the revision makes it so: an earlier code
that UNSD's conversion table names as the main counterpart of an HS2022 code the
industry does not list (HS2017 854140 for ``optics``, which lists only 854149). Waste
and scrap (incl. HS2022 heading 8549) never makes a code broader. A few judgements
override the rule, each with its reason (``scope_overrides.csv``: before HS2022,
811292 is the only code of unwrought gallium and germanium, and also holds hafnium
and rhenium).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from friendshore._assets import data_path
from friendshore.errors import ReferenceDataError, UnknownNameError
from friendshore.reference.rows import Rows

if TYPE_CHECKING:  # Polars loads where a frame is built: `industries …` needs none
    import polars as pl

AUTHORED = "HS2022"
REVISIONS = (
    "HS1992",
    "HS1996",
    "HS2002",
    "HS2007",
    "HS2012",
    "HS2017",
    "HS2022",
)  # oldest first
STAGES = ("ore", "processed", "component", "end item")  # upstream → downstream
SCOPES = ("exact", "broader")

PRODUCT_SCHEMA = {  # column kinds of friendshore.reference.rows.Rows
    "industry": "str",
    "hs6": "str",
    "hs_revision": "str",
    "material": "str",
    "stage": "str",
    "source": "str",
    "scope": "str",
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
    scope: str = "exact"


@dataclass(frozen=True)
class Correlation:
    """One UNSD correlation row: HS2022 ``hs2022`` ↔ ``hs6`` of ``revision``."""

    revision: str
    hs2022: str
    hs6: str
    relationship: str  # 1:1 | 1:n | n:1 | n:n, read HS2022 : earlier
    conversion: bool  # UNSD's conversion table picks ``hs6`` for ``hs2022``


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


@cache
def _is_waste(hs2022: str) -> bool:
    """HS2022 waste and scrap (incl. heading 8549): never makes a code broader."""
    if hs2022.startswith("8549"):
        return True
    text = (hs_description(hs2022, AUTHORED) or "").lower()
    return text.rsplit(";", 1)[-1].strip() == "waste and scrap"


@dataclass(frozen=True)
class _Grouped:
    """One product row of a revision, the authored inputs behind it and its notes."""

    row: dict[str, Any]  # str values (hs6, scope, …), as PRODUCT_SCHEMA lists them
    items: list[Input]
    notes: list[str]


class IndustryMap:
    """Industries, their HS6 inputs, upstream links and the HS correlation."""

    def __init__(
        self,
        industries: Iterable[Industry],
        inputs: Iterable[Input],
        upstream_links: Iterable[tuple[str, str, str]],
        correlation: Iterable[Correlation],
        commodity_map: Iterable[tuple[str, str]],
        scope_overrides: dict[tuple[str, str, str], tuple[str, str]] | None = None,
    ) -> None:
        self.industries = {i.name: i for i in industries}
        self.inputs = tuple(inputs)
        self.upstream_links = tuple(upstream_links)  # (hs6, upstream_hs6, revision)
        self.correlation = tuple(correlation)
        self.commodity_map = tuple(commodity_map)
        # (industry, revision, hs6) → (scope, reason): judgements over the rule.
        self.scope_overrides = dict(scope_overrides or {})
        # (revision, HS2022 code) → earlier codes; (revision, earlier code) → rows.
        self._down: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._up: dict[tuple[str, str], list[Correlation]] = defaultdict(list)
        for c in self.correlation:
            if c.relationship != "n:n" or c.conversion:
                self._down[(c.revision, c.hs2022)].add(c.hs6)
            self._up[(c.revision, c.hs6)].append(c)
        # industry → the HS2022 codes it lists (the scope rule asks per code).
        self._listed: dict[str, set[str]] = defaultdict(set)
        for i in self.inputs:
            self._listed[i.industry].add(i.hs6)
        # (industry, revision) → product rows (each with the inputs behind it and
        # its scope notes), and the same rows with the detail columns but not the
        # description: one industry query asks for a revision's rows up to four
        # times (selection, roll-up, left-out column, stderr note). The map is
        # immutable, so they are worked out once.
        self._row_cache: dict[tuple[str | None, str], list[_Grouped]] = {}
        self._detail_cache: dict[tuple[str | None, str], list[dict[str, Any]]] = {}

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

    # -- revisions ----------------------------------------------------------------
    def convert(self, hs6: str, from_revision: str, to_revision: str) -> list[str]:
        """The codes of ``to_revision`` that ``hs6`` of ``from_revision`` maps to.

        HS2022 → earlier: the correlated codes (an n:n code: UNSD's conversion
        pick); earlier → HS2022: every correlated HS2022 code; between two earlier
        revisions: through HS2022. Raises ``ReferenceDataError`` when the bundled
        correlation has no row for a code.
        """
        _check_revision(from_revision)
        _check_revision(to_revision)
        if from_revision == to_revision:
            return [hs6]
        if from_revision == AUTHORED:
            found = self._down.get((to_revision, hs6))
            if not found:
                raise ReferenceDataError(
                    f"hs_correlation.csv has no {AUTHORED}→{to_revision} row for {hs6}"
                )
            return sorted(found)
        rows = self._up.get((from_revision, hs6))
        if not rows:
            raise ReferenceDataError(
                f"hs_correlation.csv has no {from_revision}→{AUTHORED} row for {hs6}"
            )
        new = sorted({r.hs2022 for r in rows})
        if to_revision == AUTHORED:
            return new
        return sorted(
            {c for code in new for c in self._down.get((to_revision, code), ())}
        )

    def _also_holds(self, industry: str, code: str, revision: str) -> list[str]:
        """HS2022 codes ``code`` mainly holds that ``industry`` does not list."""
        if revision == AUTHORED:
            return []
        listed = self._listed[industry]
        return sorted(
            r.hs2022
            for r in self._up.get((revision, code), ())
            if r.conversion and r.hs2022 not in listed and not _is_waste(r.hs2022)
        )

    # -- products ---------------------------------------------------------------
    def products(
        self,
        industry: str | None = None,
        hs_revision: str = "HS2017",
        *,
        detail: bool = False,
        include_broader: bool = False,
    ) -> pl.DataFrame:
        """HS6 inputs of one industry (or all), expressed in ``hs_revision``.

        One row per (industry, hs6): where several authored codes fall into one
        earlier code (HS2022 811231, 811241, 811292 → HS2017 811292), their
        materials are joined and the most upstream stage kept. ``scope`` is
        ``exact`` or ``broader`` (see the module docstring); broader rows are left
        out unless ``include_broader``. ``detail=True`` adds ``authored_hs6`` (the
        HS2022 codes behind the row), ``relation``, ``scope_note`` (what else a
        broader code holds) and ``description`` (from the bundled nomenclature;
        null for revisions before HS2017, which are not bundled).
        """
        import polars as pl

        df = self._products(industry, hs_revision, detail=detail)
        if not include_broader:
            df = df.filter(pl.col("scope") == "exact")
        return df

    def broader(self, industry: str | None, hs_revision: str) -> pl.DataFrame:
        """The rows ``products`` leaves out by default: ``industry, hs6,
        hs_revision, material, scope_note``."""
        import polars as pl

        rows = self.product_rows(industry, hs_revision, detail=True, describe=False)
        return (
            rows.to_polars()
            .filter(pl.col("scope") == "broader")
            .select("industry", "hs6", "hs_revision", "material", "scope_note")
        )

    def _products(
        self, industry: str | None, hs_revision: str, *, detail: bool
    ) -> pl.DataFrame:
        return self.product_rows(industry, hs_revision, detail=detail).to_polars()

    def product_rows(
        self,
        industry: str | None,
        hs_revision: str,
        *,
        detail: bool = False,
        describe: bool = True,
    ) -> Rows:
        """Every input row, broader ones too (``scope``), as plain :class:`Rows`:
        what :meth:`products` filters, without Polars. ``describe=False`` leaves
        the ``description`` column of ``detail`` out (it reads a nomenclature)."""
        _check_revision(hs_revision)
        if industry is not None:
            self.industry(industry)
        schema = dict(PRODUCT_SCHEMA)
        if not detail:
            return _columns(
                [g.row for g in self._grouped(industry, hs_revision)], schema
            )
        key = (industry, hs_revision)
        rows: list[dict[str, Any]] | None = self._detail_cache.get(key)
        if rows is None:
            rows = self._detail_cache[key] = [
                g.row
                | {
                    "authored_hs6": ", ".join(sorted({i.hs6 for i in g.items})),
                    "relation": self._relation(g.items, g.row["hs6"], hs_revision),
                    "scope_note": "; ".join(g.notes) or None,
                }
                for g in self._grouped(industry, hs_revision)
            ]
        schema |= {"authored_hs6": "str", "relation": "str", "scope_note": "str"}
        if describe:
            schema["description"] = "str"
            rows = [
                r | {"description": hs_description(r["hs6"], hs_revision)} for r in rows
            ]
        return _columns(rows, schema)

    def _grouped(self, industry: str | None, hs_revision: str) -> list[_Grouped]:
        """The rows of :meth:`product_rows` with their inputs and notes (cached)."""
        key = (industry, hs_revision)
        cached = self._row_cache.get(key)
        if cached is not None:
            return cached
        groups: dict[tuple[str, str], list[Input]] = defaultdict(list)
        for item in self.inputs:
            if industry is not None and item.industry != industry:
                continue
            for code in self.convert(item.hs6, item.hs_revision, hs_revision):
                groups[(item.industry, code)].append(item)
        out = []
        for (ind, code), items in sorted(groups.items()):
            materials = sorted({m for i in items for m in _split_materials(i.material)})
            stage = min((i.stage for i in items), key=STAGES.index)
            sources = list(dict.fromkeys(i.source for i in items))
            marked = [i for i in items if i.scope == "broader"]
            holds = self._also_holds(ind, code, hs_revision)
            notes = [f"{i.hs6} (authored): {i.note}" for i in marked]
            if holds:
                notes.append(
                    f"{hs_revision} {code} also holds HS2022 {', '.join(holds)}, "
                    "which this industry does not list"
                )
            scope = "broader" if marked or holds else "exact"
            judged = self.scope_overrides.get((ind, hs_revision, code))
            if judged is not None:
                scope = judged[0]
                notes.append(judged[1])
            row: dict[str, Any] = {
                "industry": ind,
                "hs6": code,
                "hs_revision": hs_revision,
                "material": ", ".join(materials),
                "stage": stage,
                "source": "; ".join(sources),
                "scope": scope,
            }
            out.append(_Grouped(row, items, notes))
        self._row_cache[key] = out
        return out

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

    def upstream(
        self, hs_revision: str = "HS2017", *, include_broader: bool = False
    ) -> pl.DataFrame:
        """Upstream links ``hs6 ← upstream_hs6`` expressed in ``hs_revision``.

        Links that collapse onto one code (both ends in the same earlier code) are
        dropped, so the graph stays acyclic in every revision. A link with an end
        that is broader in every industry listing it (282560, germanium oxides and
        zirconium dioxide) carries no exposure unless ``include_broader``.
        """
        import polars as pl

        rows = self._upstream_pairs(hs_revision, include_broader=include_broader)
        return pl.DataFrame(
            {"hs6": [a for a, _ in rows], "upstream_hs6": [b for _, b in rows]},
            schema={"hs6": pl.String, "upstream_hs6": pl.String},
        )

    def _upstream_pairs(
        self, hs_revision: str, *, include_broader: bool = False
    ) -> list[tuple[str, str]]:
        """Sorted ``(hs6, upstream_hs6)`` pairs of :meth:`upstream`."""
        _check_revision(hs_revision)
        keep: set[str] | None = None
        if not include_broader:
            rows = self.product_rows(None, hs_revision)
            keep = {
                code
                for code, scope in zip(
                    rows.data["hs6"], rows.data["scope"], strict=True
                )
                if scope == "exact"
            }
        pairs: set[tuple[str, str]] = set()
        for hs6, up, rev in self.upstream_links:
            for a in self.convert(hs6, rev, hs_revision):
                for b in self.convert(up, rev, hs_revision):
                    if a != b and (keep is None or (a in keep and b in keep)):
                        pairs.add((a, b))
        return sorted(pairs)

    def upstream_chain(self, hs6: str, hs_revision: str = "HS2017") -> list[str]:
        """Every code upstream of ``hs6`` (transitively), nearest first."""
        edges: dict[str, list[str]] = defaultdict(list)
        for a, b in self._upstream_pairs(hs_revision):
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
        """Every input of one industry (broader ones too, with their scope note)
        plus its direct upstream codes."""
        return self.industry_rows(industry, hs_revision).to_polars()

    def industry_rows(self, industry: str, hs_revision: str = "HS2017") -> Rows:
        """:meth:`industry_frame` as plain :class:`Rows` (no Polars)."""
        self.industry(industry)
        products = self.product_rows(industry, hs_revision, detail=True)
        ups: dict[str, list[str]] = defaultdict(list)
        for hs6, up in self._upstream_pairs(hs_revision, include_broader=True):
            ups[hs6].append(up)
        order = sorted(range(products.height), key=lambda i: products.data["hs6"][i])
        data = {k: [v[i] for i in order] for k, v in products.data.items()}
        data["upstream"] = [
            ", ".join(sorted(ups[c])) if c in ups else None for c in data["hs6"]
        ]
        return Rows(data, {**products.schema, "upstream": "str"})

    def commodities(self) -> pl.DataFrame:
        """``material, commodity``: industry-map materials → USGS commodity names."""
        import polars as pl

        rows = sorted(self.commodity_map)
        return pl.DataFrame(
            {"material": [m for m, _ in rows], "commodity": [c for _, c in rows]},
            schema={"material": pl.String, "commodity": pl.String},
        )

    def industries_frame(self) -> pl.DataFrame:
        """One row per industry: title, number of inputs, materials, source."""
        return self.industries_rows().to_polars()

    def industries_rows(self) -> Rows:
        """:meth:`industries_frame` as plain :class:`Rows` (no Polars)."""
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
        schema = {"industry": "str", "title": "str", "inputs_hs2022": "int"}
        return _columns(rows, schema | {"materials": "str", "source": "str"})


def _columns(rows: list[dict[str, Any]], schema: dict[str, str]) -> Rows:
    """Rows from a list of row dicts, in the schema's column order."""
    return Rows({k: [r.get(k) for r in rows] for k in schema}, schema)


def _check_revision(revision: str) -> None:
    if revision not in REVISIONS:
        raise UnknownNameError("HS revision", revision, list(REVISIONS))


@cache
def hs_nomenclature(revision: str) -> dict[str, str]:
    """Six-digit code → description of a bundled nomenclature (HS2017, HS2022).

    Earlier revisions are not bundled: an empty mapping. The files keep codes as
    text (leading zeros); the HS2017 file starts with a BOM and ends with an empty row.
    """
    folder = {"HS2017": "hs2017", "HS2022": "hs2022"}.get(revision)
    if folder is None:
        return {}
    path: Path = data_path("hs", folder, "harmonized-system.csv")
    out: dict[str, str] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)  # by position: half the time of a DictReader
        header = next(reader)
        at = {name: header.index(name) for name in ("hscode", "description", "level")}
        width = max(at.values())
        for row in reader:
            if len(row) > width and row[at["level"]] == "6":
                code = row[at["hscode"]].strip()
                if len(code) == 6 and code.isdigit():
                    out[code] = row[at["description"]]
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
            r.get("scope") or "exact",
        )
        problem = _input_problem(item, names)
        if problem:
            raise ReferenceDataError(f"inputs.csv, row {n}: {problem}")
        inputs.append(item)
    links = [
        (r["hs6"], r["upstream_hs6"], r["hs_revision"])
        for _, r in _rows("upstream.csv")
    ]
    correlation = [
        Correlation(
            r["revision"],
            r["hs2022"],
            r["hs6"],
            r["relationship"],
            r["conversion"] == "1",
        )
        for _, r in _rows("hs_correlation.csv")
    ]
    commodity_map = [
        (r["material"], r["commodity"]) for _, r in _rows("commodities.csv")
    ]
    overrides = {}
    for n, r in _rows("scope_overrides.csv"):
        if r["scope"] not in SCOPES or r["hs_revision"] not in REVISIONS:
            raise ReferenceDataError(
                f"scope_overrides.csv, row {n}: scope {r['scope']!r} in "
                f"{r['hs_revision']!r}"
            )
        overrides[(r["industry"], r["hs_revision"], r["hs6"])] = (r["scope"], r["note"])
    return IndustryMap(industries, inputs, links, correlation, commodity_map, overrides)


def _input_problem(item: Input, industries: set[str]) -> str | None:
    if item.industry not in industries:
        return f"industry {item.industry!r} is not in industries.csv"
    if len(item.hs6) != 6 or not item.hs6.isdigit():
        return f"hs6 {item.hs6!r} is not six digits"
    if item.hs_revision != AUTHORED:
        return f"hs_revision {item.hs_revision!r}: the map is authored in {AUTHORED}"
    if item.stage not in STAGES:
        return f"stage {item.stage!r} is not one of {', '.join(STAGES)}"
    if item.scope not in SCOPES:
        return f"scope {item.scope!r} is not one of {', '.join(SCOPES)}"
    return None
