"""Look-through (indirect) exposure along the industry map's upstream links.

DESIGN.md: ``lookthrough_prc_share = prc_share + Σ_{i not concern} share_i × (i's own
concern share for the upstream inputs of k)``. An ally that supplies magnets but
buys its rare-earth metal from China carries that dependency into the importer's
figure.

What it is: an **indicator** of the concern dependency a supplier carries through
its own recorded imports of the inputs, not a bound on the importer's true exposure
either way. It ignores suppliers' own production: it weights a supplier by its
import mix of the inputs as if those imports made all it sells, while a supplier
that mines or refines its own input carries less concern content than that — so it
is not a lower bound. Nor is it an upper bound: inputs the industry map does not
name, and suppliers without recorded imports, add nothing.

Choices made here (and why):

* **The whole chain, not one level.** "i's own concern share for the upstream
  inputs of k" is itself taken look-through: L_i(U(k)) is the import-value-weighted
  mean of L_i(u) over the direct inputs u ∈ U(k) that i imports, and L_i(u) folds in
  u's own inputs in turn. Products are processed from the most upstream (no inputs:
  L = direct concern share) downwards; the map is acyclic (industries.py drops
  links that collapse onto one code).
* **Missing upstream data counts as no exposure.** A non-concern supplier with no
  recorded imports of any input of k (a miner, a domestic refiner) adds nothing.
  Residual and unspecified areas (``XRW``, X-codes) are never importers here: their
  supply carries no exposure and is not covered. ``lookthrough_coverage`` says how
  much of the non-concern supply had upstream data (value share, 0–1), so a low
  coverage is visible. Products without upstream links in the map keep
  ``lookthrough_prc_share = prc_share`` and a null coverage.
* Imports only: a supplier's own production of the inputs is not seen (trade data
  cannot see it), as DESIGN.md's definition says.
"""

from __future__ import annotations

import polars as pl

from friendshore._assets import query_sql
from friendshore.engines.exposure import residual
from friendshore.selection import Selection
from friendshore.store import Store

_KEYS = ["year", "importer", "hs6"]


def depths(upstream: pl.DataFrame) -> dict[str, int]:
    """Depth of every code in the upstream graph: 0 for codes without inputs."""
    edges: dict[str, list[str]] = {}
    for hs6, up in upstream.select("hs6", "upstream_hs6").iter_rows():
        edges.setdefault(hs6, []).append(up)
    memo: dict[str, int] = {}

    def depth(code: str, path: frozenset[str]) -> int:
        if code in memo:
            return memo[code]
        if code in path:  # a cycle: treat the repeat as a leaf rather than recurse
            return 0
        ups = edges.get(code, [])
        d = 0 if not ups else 1 + max(depth(u, path | {code}) for u in ups)
        memo[code] = d
        return d

    for code in {*edges, *(u for ups in edges.values() for u in ups)}:
        depth(code, frozenset())
    return memo


def closure(codes: set[str], upstream: pl.DataFrame) -> set[str]:
    """``codes`` and every code upstream of them, transitively."""
    edges: dict[str, set[str]] = {}
    for hs6, up in upstream.select("hs6", "upstream_hs6").iter_rows():
        edges.setdefault(hs6, set()).add(up)
    seen = set(codes)
    frontier = list(codes)
    while frontier:
        code = frontier.pop()
        for up in edges.get(code, ()):
            if up not in seen:
                seen.add(up)
                frontier.append(up)
    return seen


def lookthrough_table(
    suppliers: pl.DataFrame, concern: pl.DataFrame, upstream: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Look-through shares of every importer for every product of ``suppliers``.

    Parameters
    ----------
    suppliers
        ``year, importer, hs6, exporter, value_usd``: every importer's suppliers of
        the products of interest and all their upstream inputs.
    concern
        ``year, iso3`` of the concern group, as of each year.
    upstream
        ``hs6, upstream_hs6`` links (one level).

    Returns
    -------
    (table, inputs)
        ``table``: ``year, importer, hs6, lookthrough_prc_share,
        lookthrough_coverage``; ``inputs``: ``year, importer, hs6, upstream_share``
        = L_i(U(k)), each importer's look-through concern share of its imports of
        k's direct inputs (for bloc targets).
    """
    s = _flag_concern(suppliers, concern)
    direct = s.group_by(_KEYS).agg(
        pl.col("value_usd").sum().alias("v"),
        pl.col("value_usd").filter(pl.col("is_concern")).sum().alias("concern_v"),
    )
    depth = depths(upstream)
    products = set(direct["hs6"].unique().to_list())
    by_depth: dict[int, list[str]] = {}
    for code in products:
        by_depth.setdefault(depth.get(code, 0), []).append(code)
    table = direct.filter(pl.col("hs6").is_in(by_depth.get(0, []))).select(
        *_KEYS,
        "v",
        (pl.col("concern_v") / pl.col("v")).alias("lookthrough_prc_share"),
        pl.lit(None, dtype=pl.Float64).alias("lookthrough_coverage"),
    )
    inputs_parts: list[pl.DataFrame] = []
    for d in sorted(k for k in by_depth if k > 0):
        codes = by_depth[d]
        inputs = _input_shares(table, upstream.filter(pl.col("hs6").is_in(codes)))
        inputs_parts.append(inputs)
        level = _combine(
            s.filter(pl.col("hs6").is_in(codes)),
            direct.filter(pl.col("hs6").is_in(codes)),
            inputs,
        )
        table = pl.concat([table, level.select(table.columns)])
    inputs_all = (
        pl.concat(inputs_parts)
        if inputs_parts
        else pl.DataFrame(
            schema={**{k: s.schema[k] for k in _KEYS}, "upstream_share": pl.Float64}
        )
    )
    return table.drop("v"), inputs_all


def _flag_concern(suppliers: pl.DataFrame, concern: pl.DataFrame) -> pl.DataFrame:
    flags = concern.select(
        pl.col("year").cast(suppliers.schema["year"]),
        pl.col("iso3").alias("exporter"),
        pl.lit(True).alias("is_concern"),
    ).unique()
    return suppliers.join(flags, on=["year", "exporter"], how="left").with_columns(
        pl.col("is_concern").fill_null(False)
    )


def _input_shares(table: pl.DataFrame, edges: pl.DataFrame) -> pl.DataFrame:
    """L_i(U(k)): value-weighted look-through share of i's imports of k's inputs."""
    up = table.rename({"hs6": "upstream_hs6"})
    joined = edges.select("hs6", "upstream_hs6").join(
        up, on="upstream_hs6", how="inner"
    )
    return joined.group_by(_KEYS).agg(
        (
            (pl.col("v") * pl.col("lookthrough_prc_share")).sum() / pl.col("v").sum()
        ).alias("upstream_share")
    )


def _combine(
    suppliers: pl.DataFrame, direct: pl.DataFrame, inputs: pl.DataFrame
) -> pl.DataFrame:
    """L_j(k) = c_j(k) + Σ_{i not concern} s_ij(k) × L_i(U(k)), missing L_i → 0."""
    via = inputs.rename({"importer": "exporter"})
    contrib = (
        suppliers.filter(~pl.col("is_concern"))
        .join(via, on=["year", "exporter", "hs6"], how="left")
        .group_by(_KEYS)
        .agg(
            (pl.col("value_usd") * pl.col("upstream_share").fill_null(0.0))
            .sum()
            .alias("indirect_v"),
            pl.col("value_usd")
            .filter(pl.col("upstream_share").is_not_null())
            .sum()
            .alias("covered_v"),
            pl.col("value_usd").sum().alias("non_concern_v"),
        )
    )
    return direct.join(contrib, on=_KEYS, how="left").select(
        *_KEYS,
        "v",
        (
            (pl.col("concern_v") + pl.col("indirect_v").fill_null(0.0)) / pl.col("v")
        ).alias("lookthrough_prc_share"),
        (pl.col("covered_v") / pl.col("non_concern_v")).alias("lookthrough_coverage"),
    )


def bloc_suppliers(
    suppliers: pl.DataFrame,
    bloc: str,
    members: pl.DataFrame,
    *,
    include_intra: bool = False,
) -> pl.DataFrame:
    """A bloc's supplier rows: members' imports summed per supplier."""
    m = members.select(pl.col("year").cast(suppliers.schema["year"]), "iso3")
    rows = suppliers.join(
        m.rename({"iso3": "importer"}), on=["year", "importer"], how="semi"
    )
    if not include_intra:
        rows = rows.join(
            m.rename({"iso3": "exporter"}), on=["year", "exporter"], how="anti"
        )
    return (
        rows.group_by("year", "hs6", "exporter")
        .agg(pl.col("value_usd").sum())
        .with_columns(pl.lit(bloc).alias("importer"))
        .select("year", "importer", "hs6", "exporter", "value_usd")
    )


def add_lookthrough(
    store: Store, df: pl.DataFrame, sel: Selection, upstream: pl.DataFrame
) -> pl.DataFrame:
    """Add ``lookthrough_prc_share`` and ``lookthrough_coverage`` to product rows.

    ``df`` holds product rows (``year, importer, hs6, prc_share``…) of the
    selection ``sel``: one bloc (its ``members``; ``importer`` is the bloc's name)
    or countries. The upstream suppliers are read in the selection's loads and
    tiers, every importer's (their own imports are what is looked through).
    """
    tiers, members, include_intra = sel.tiers, sel.members, sel.include_intra
    targets = set(df["hs6"].unique().to_list()) & set(upstream["hs6"].to_list())
    out_cols = [*df.columns, "lookthrough_prc_share", "lookthrough_coverage"]
    if not targets:
        return df.with_columns(
            pl.col("prc_share").alias("lookthrough_prc_share"),
            pl.lit(None, dtype=pl.Float64).alias("lookthrough_coverage"),
        ).select(out_cols)
    codes = sorted(closure(targets, upstream))
    # A residual area (XRW, X + code) is no importer: it has no "own imports" to
    # look through, so its supply stays uncovered (it lowers the coverage).
    suppliers = store.pl(
        query_sql("exposure_suppliers"), sel.loads.params() | {"hs": codes}
    ).filter(~residual("importer"))
    concern = tiers.filter((pl.col("tier") == "concern") & ~residual("iso3")).select(
        "year", "iso3"
    )
    table, inputs = lookthrough_table(suppliers, concern, upstream)
    if members is not None:
        bloc = df["importer"][0] if df.height else ""
        rows = _flag_concern(
            bloc_suppliers(suppliers, bloc, members, include_intra=include_intra),
            concern,
        )
        direct = rows.group_by(_KEYS).agg(
            pl.col("value_usd").sum().alias("v"),
            pl.col("value_usd").filter(pl.col("is_concern")).sum().alias("concern_v"),
        )
        table = _combine(
            rows.filter(pl.col("hs6").is_in(list(targets))),
            direct.filter(pl.col("hs6").is_in(list(targets))),
            inputs,
        ).drop("v")
    table = table.with_columns(pl.col("year").cast(df.schema["year"]))
    has_inputs = pl.col("hs6").is_in(list(targets))
    return (
        # The exposure rows keep their order (year, importer, hs6).
        df.join(table, on=_KEYS, how="left", maintain_order="left")
        .with_columns(
            pl.when(has_inputs)
            .then(pl.col("lookthrough_prc_share"))
            .otherwise(pl.col("prc_share"))
            .alias("lookthrough_prc_share"),
            pl.when(has_inputs)
            .then(pl.col("lookthrough_coverage"))
            .alias("lookthrough_coverage"),
        )
        .select(out_cols)
    )
