"""The scenario engine: move displaced import value to eligible suppliers, in Polars.

Pure functions over plain Polars frames (no store, no registry), vectorised over
every scenario × draw × importer × product at once — no Python loop per product
or per draw. The rule is DESIGN.md's "Scenario rule"; per importer and product,
with V the baseline import value and C the concern group's part of it:

1. ``displaced`` D0 = max(0, C − max_concern_share × V).
2. ``reshored`` R = min(D0, reshoring × V): domestic production comes first.
3. The rest, D = D0 − R, is water-filled over the eligible suppliers i in
   proportion to their world exports w_i of the product, each capped at
   e_i × w_i (e_i = capacity_expansion or the supplier's override):
   x_i = min(e_i, λ) × w_i with λ chosen so that Σ x_i = D, or every supplier
   at its cap when Σ e_i w_i < D. ``placed`` = Σ x_i, ``unmet`` = D − placed.

Suppliers that share an expansion factor e are capped together (x_i / w_i is the
same for all of them), so the water-fill runs over *classes*: one class for every
eligible supplier without an override, plus one per overridden supplier. That keeps
the work per importer × product at 1 + (number of overrides) rows however many
suppliers are eligible, and gives the exact per-supplier answer. λ comes from one
sort and cumulative sums per group: with classes sorted by e, the first k with
Σ_{j≤k} cap_j + e_k Σ_{j>k} W_j ≥ D gives λ = (D − Σ_{j<k} cap_j) / Σ_{j≥k} W_j
(the largest of those candidate λs is the first one, which avoids a "first" lookup).

Post-scenario metrics (over the supplied total S = V − unmet):

* the concern members lose D0 in proportion to their values;
* each eligible supplier gains x_i; reshored supply counts as ONE domestic
  supplier: in S and in the HHI (R²), in neither the concern nor the ally share;
* HHI = Σ v_i'² / S², computed from per-class sums (Σ v_i w_i, Σ w_i²) so the
  per-supplier values never need materialising.

Cost premium: for the value placed with suppliers whose world unit value (USD per
tonne) is known, Σ x_i × (scale × uv_i / uv_concern − 1), where uv_concern is the
unit value of the concern group's exports to the importer; extrapolated at the same
average rate to placed value whose unit value is unknown; null when the concern's
unit value is unknown or no placed value has one; 0 when nothing is placed.
Reshored value carries no priced premium (domestic costs are not in trade data).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import polars as pl

from friendshore.errors import SchemaError

# Binding suppliers listed per row, largest capacity first; ``n_binding`` has the
# full count. Listing every capped supplier of every importer × product of a BACI
# year would be ~10^8 strings.
TOP_BINDING = 10

# Displacement below this fraction of V is floating-point noise from
# C − share × V when share equals the current share exactly: treated as zero so a
# no-op scenario returns the baseline exactly.
_NOISE = 1e-12

# Polars' default streaming engine is built for larger-than-memory inputs; the
# engine's frames (≤ one row per importer × product × class × draw) fit in memory,
# where the in-memory engine measured ~30 % faster on the draws benchmark.
_ENGINE = "in-memory"
# ...except for the scan of world rows (~10^6, row-wise only), where the streaming
# engine measured ~1.5× faster on 2 cores.
_STREAM = "streaming"

KEY = ["scenario", "importer", "year", "hs6"]

FLOWS = {
    "scenario": pl.String,
    "importer": pl.String,
    "year": pl.Int32,
    "hs6": pl.String,
    "exporter": pl.String,
    "value_usd": pl.Float64,
    "quantity_t": pl.Float64,
}
OVERRIDE_VW = pl.List(pl.Struct({"cls": pl.String, "vw": pl.Float64}))
BASELINE = {
    "scenario": pl.String,
    "importer": pl.String,
    "year": pl.Int32,
    "hs6": pl.String,
    "v": pl.Float64,
    "v2": pl.Float64,
    "concern_v": pl.Float64,
    "concern_v2": pl.Float64,
    "concern_vq": pl.Float64,
    "concern_q": pl.Float64,
    "ally_v": pl.Float64,
    "vw": pl.Float64,
    "override_vw": OVERRIDE_VW,
}
WORLD = {
    "year": pl.Int32,
    "hs6": pl.String,
    "exporter": pl.String,
    "value_usd": pl.Float64,
    "unit_value": pl.Float64,
}
SETTINGS = {
    "scenario": pl.String,
    "max_concern_share": pl.Float64,
    "reshoring": pl.Float64,
    "capacity_expansion": pl.Float64,
}
MEMBERS = {
    "scenario": pl.String,
    "iso3": pl.String,
    "concern": pl.Boolean,
    "ally": pl.Boolean,
    "eligible": pl.Boolean,
    "capacity_expansion": pl.Float64,
}
DRAWS = {
    "scenario": pl.String,
    "draw": pl.Int32,
    "capacity_expansion": pl.Float64,
    "unit_value_scale": pl.Float64,
}

# Output metrics in display order (after the key columns).
SHARE_METRICS = [
    "baseline_prc_share",
    "scenario_prc_share",
    "baseline_hhi",
    "scenario_hhi",
    "baseline_ally_share",
    "scenario_ally_share",
]
USD_METRICS = [
    "import_value_usd",
    "displaced_usd",
    "reshored_usd",
    "placed_usd",
    "unmet_usd",
]
METRICS = [
    "import_value_usd",
    *SHARE_METRICS,
    "displaced_usd",
    "reshored_usd",
    "placed_usd",
    "unmet_usd",
    "unmet_share",
    "cost_premium_usd",
    "cost_premium_pct",
]


def _conform(
    frame: pl.DataFrame | pl.LazyFrame, schema: dict, what: str
) -> pl.LazyFrame:
    lf = frame.lazy()
    have = lf.collect_schema().names()
    missing = [c for c in schema if c not in have]
    if missing:
        raise SchemaError(f"{what}: missing column(s) {', '.join(missing)}")
    return lf.select(pl.col(c).cast(t) for c, t in schema.items())


def world_exports(trade: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """World exports per year × product × exporter from trade-flow-shaped rows.

    ``unit_value`` (USD per tonne) uses only the rows that report a quantity, so a
    missing quantity never inflates it; null when no row does.
    """
    has_q = pl.col("quantity_t").is_not_null() & (pl.col("quantity_t") > 0)
    return (
        trade.lazy()
        .group_by("year", "hs6", "exporter")
        .agg(
            pl.col("value_usd").sum(),
            (
                pl.col("value_usd").filter(has_q).sum()
                / pl.col("quantity_t").filter(has_q).sum()
            ).alias("unit_value"),
        )
        .with_columns(pl.col("unit_value").fill_nan(None))
        .collect(engine=_ENGINE)
    )


def make_draws(
    scenario: str,
    draws: int,
    seed: int,
    *,
    capacity_expansion: float,
    capacity_range: tuple[float, float] | None = None,
    unit_value_range: tuple[float, float] | None = None,
) -> pl.DataFrame:
    """Seeded uniform draws of one scenario: ``scenario, draw, capacity_expansion,
    unit_value_scale``.

    Both streams are always drawn (capacity first), so leaving one range out does not
    change the other's values. A missing range keeps the scenario's value (scale 1).
    """
    rng = random.Random(seed)
    u_cap = [rng.random() for _ in range(draws)]
    u_uv = [rng.random() for _ in range(draws)]

    def scale(u: list[float], span: tuple[float, float] | None, fixed: float) -> list:
        if span is None:
            return [fixed] * draws
        lo, hi = span
        return [lo + (hi - lo) * x for x in u]

    return pl.DataFrame(
        {
            "scenario": [scenario] * draws,
            "draw": list(range(draws)),
            "capacity_expansion": scale(u_cap, capacity_range, capacity_expansion),
            "unit_value_scale": scale(u_uv, unit_value_range, 1.0),
        },
        schema=DRAWS,
    )


def roles(members: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Per scenario and country: ``grp`` and ``ally``, as ``simulate_groups.sql`` reads.

    ``grp`` is ``'C'`` for a concern member, ``''`` for an eligible supplier without
    an override (they are capped together), the ISO3 for one with an override, and
    null for every other supplier (an override of 0 makes a supplier ineligible).
    """
    mb = _conform(members, MEMBERS, "members").with_columns(
        pl.col("concern", "ally", "eligible").fill_null(False)
    )
    over = pl.col("capacity_expansion")
    receives = pl.col("eligible") & (over.is_null() | (over > 0))
    return mb.select(
        "scenario",
        "iso3",
        pl.when(pl.col("concern"))
        .then(pl.lit("C"))
        .when(receives & over.is_null())
        .then(pl.lit(""))
        .when(receives)
        .then("iso3")
        .alias("grp"),
        (pl.col("ally") & ~pl.col("concern")).alias("ally"),
        pl.when(~pl.col("concern") & receives).then(over).alias("e_fix"),
    )


def baseline_sums(
    flows: pl.DataFrame | pl.LazyFrame,
    world: pl.DataFrame | pl.LazyFrame,
    members: pl.DataFrame | pl.LazyFrame,
) -> pl.DataFrame:
    """Supplier rows → the per importer × product sums of
    ``queries/simulate_baseline.sql`` (:data:`BASELINE`).

    The Polars twin of the store's one-pass query, for callers with frames in hand
    (a differential test keeps the two in step).
    """
    fl = _conform(flows, FLOWS, "flows").filter(
        (pl.col("value_usd") > 0) & (pl.col("exporter") != pl.col("importer"))
    )
    wo = _conform(world, WORLD, "world").select(
        "year", "hs6", "exporter", pl.col("value_usd").alias("w")
    )
    rl = roles(members).select(
        "scenario", pl.col("iso3").alias("exporter"), "grp", "ally"
    )
    v, q, grp = pl.col("value_usd"), pl.col("quantity_t"), pl.col("grp")
    conc = grp == "C"
    has_q = q.is_not_null() & (q > 0)
    vw = v * pl.col("w")
    return (
        fl.join(rl, on=["scenario", "exporter"], how="left")
        .join(wo, on=["year", "hs6", "exporter"], how="left")
        .group_by(KEY)
        .agg(
            v.sum().alias("v"),
            (v * v).sum().alias("v2"),
            v.filter(conc).sum().alias("concern_v"),
            (v * v).filter(conc).sum().alias("concern_v2"),
            v.filter(conc & has_q).sum().alias("concern_vq"),
            q.filter(conc & has_q).sum().alias("concern_q"),
            v.filter(pl.col("ally")).sum().alias("ally_v"),
            vw.filter(grp == "").sum().alias("vw"),
            pl.struct(grp.alias("cls"), vw.alias("vw"))
            .filter(grp.is_not_null() & ~grp.is_in(["", "C"]))
            .alias("override_vw"),
        )
        .sort(KEY)  # the query's ORDER BY: the output keeps this order
        .collect(engine=_ENGINE)
    )


def reallocate(
    flows: pl.DataFrame | pl.LazyFrame,
    world: pl.DataFrame | pl.LazyFrame,
    settings: pl.DataFrame | pl.LazyFrame,
    members: pl.DataFrame | pl.LazyFrame,
    draws: pl.DataFrame | pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """Run scenarios over every importer × product; one row per product (× draw).

    Parameters
    ----------
    flows
        Baseline supplier rows: ``scenario, importer, year, hs6, exporter,
        value_usd, quantity_t`` (tonnes, may be null). Intra-bloc rows already
        removed for a bloc importer.
    world
        World exports: ``year, hs6, exporter, value_usd, unit_value`` (USD/t, null
        when unknown) — see :func:`world_exports`.
    settings
        One row per scenario: ``scenario, max_concern_share, reshoring,
        capacity_expansion``.
    members
        Per scenario and country: ``scenario, iso3, concern, ally, eligible,
        capacity_expansion`` (a per-supplier override, null = the scenario's).
        Absent countries are none of these. Concern members are never eligible; an
        override of 0 makes a supplier ineligible. The importer itself is never a
        receiving supplier.
    draws
        Optional ``scenario, draw, capacity_expansion, unit_value_scale`` (see
        :func:`make_draws`); default one draw 0 at the scenario's own values.

    Returns
    -------
    polars.DataFrame
        ``scenario, draw, importer, year, hs6`` and :data:`METRICS`, then
        ``binding_suppliers`` (list of ISO3, largest capacity first, at most
        :data:`TOP_BINDING`) and ``n_binding``.
    """
    sums = baseline_sums(flows, world, members)
    return reallocate_sums(sums, world, settings, members, draws)


def reallocate_sums(
    sums: pl.DataFrame | pl.LazyFrame,
    world: pl.DataFrame | pl.LazyFrame,
    settings: pl.DataFrame | pl.LazyFrame,
    members: pl.DataFrame | pl.LazyFrame,
    draws: pl.DataFrame | pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """:func:`reallocate` from per importer × product sums (:func:`baseline_sums`
    or the store's ``simulate_baseline`` query) instead of supplier rows."""
    sums_lf = _conform(sums, BASELINE, "baseline sums")
    wo = _conform(world, WORLD, "world")
    st = _conform(settings, SETTINGS, "settings").collect(engine=_ENGINE)
    if draws is None:
        dr = st.select(
            "scenario",
            pl.lit(0, pl.Int32).alias("draw"),
            "capacity_expansion",
            pl.lit(1.0).alias("unit_value_scale"),
        )
    else:
        dr = _conform(draws, DRAWS, "draws").collect(engine=_ENGINE)
    # Scenarios travel as their position in ``settings`` (an integer key). Draws
    # sorted per scenario and numbered ``j``: a scenario's draws are rows
    # start..start + count of this frame, so each output row has a computable
    # position. Draws of a scenario without settings have no rows to act on.
    dr = (
        dr.with_columns(_code(pl.col("scenario"), st["scenario"]).alias("s"))
        .drop_nulls("s")
        .sort("s", "draw", maintain_order=True)
        .with_row_index("j")
    )
    codes = _Codes.of(roles(members), st["scenario"])

    base = _baseline(sums_lf, st)
    cols = ["k", *KEY, "s", *_INPUTS, "VW0"]
    if base["override_vw"].null_count() < base.height:  # filtering lists is slow
        cols.append("override_vw")
    pos = base.select(cols).filter(pl.col("D") > 0)
    kc, wj = _class_rows(pos, wo, codes)
    fill = _water_fill(kc, wj, dr, codes)
    return _finish(base, pos, dr, fill)


# Direct-address tables (one slot per product × supplier) replace hash joins up to
# this many slots (4 bytes each); beyond it, e.g. very many scenarios in one batch,
# the engine falls back to a join.
_MAX_SLOTS = 1 << 25


def _code(expr: pl.Expr, keys: pl.Series) -> pl.Expr:
    """Position of each value in ``keys`` (distinct values); null when absent."""
    return expr.replace_strict(
        keys, pl.Series(range(keys.len()), dtype=pl.UInt32), default=None
    )


def _pick(values: pl.Series, at: str | pl.Expr) -> pl.Expr:
    """``values[at]`` per row (null where ``at`` is): a lookup by position.

    Only in row-wise contexts (select, with_columns): inside a group-by
    aggregation Polars 2.1 built a corrupt column from it (a crash on first read).
    """
    return pl.lit(values).gather(at)


def _slots(at: pl.Series, size: int) -> pl.Series:
    """A ``size``-entry table holding ``i`` at position ``at[i]`` and null elsewhere."""
    rows = pl.Series(range(at.len()), dtype=pl.UInt32)
    return pl.repeat(None, size, dtype=pl.UInt32, eager=True).scatter(at, rows)


class _Codes:
    """Integer codes for the receiving suppliers, so the work over world rows keys
    on integers instead of strings.

    ``names`` are the ISO3 of every receiving supplier (code = position, so codes
    sort like the names). ``table`` has one row per scenario × receiving supplier:
    ``cls`` (0 for the scenario's default class, 1 + the code for an override
    class), ``e_fix`` and ``ally``; :meth:`row` finds it by position.
    """

    def __init__(self, names: pl.Series, table: pl.DataFrame, slot: pl.Series) -> None:
        self.names = names
        self.table = table
        self.slot = slot  # scenario × len(names) + code → row of table

    @classmethod
    def of(cls, rl: pl.LazyFrame, scenarios: pl.Series) -> _Codes:
        recv = (
            rl.filter(pl.col("grp").is_not_null() & (pl.col("grp") != "C"))
            .with_columns(_code(pl.col("scenario"), scenarios).alias("s"))
            .drop_nulls("s")
            .collect(engine=_ENGINE)
        )
        names = recv["iso3"].unique().sort()
        c = _code(pl.col("iso3"), names)
        table = recv.select(
            (pl.col("s").cast(pl.UInt64) * names.len() + c).alias("key"),
            pl.when(pl.col("grp") == "").then(0).otherwise(c + 1).alias("cls"),
            "e_fix",
            "ally",
        )
        slot = _slots(table["key"], max(scenarios.len() * names.len(), 1))
        return cls(names, table, slot)

    def country(self, col: str) -> pl.Expr:
        """The supplier code of an ISO3 column (null: not a receiving supplier)."""
        # An Enum cast looks the strings up ~1.5× faster than replace_strict.
        enum = pl.col(col).cast(pl.Enum(self.names), strict=False)
        return enum.to_physical().cast(pl.UInt32)

    def row(self, s: str | pl.Expr, c: str | pl.Expr) -> pl.Expr:
        """Row of :attr:`table` for scenario ``s`` × supplier code ``c``, or null."""
        s, c = (pl.col(x) if isinstance(x, str) else x for x in (s, c))
        return _pick(self.slot, s.cast(pl.UInt64) * self.names.len() + c)


def _baseline(sums: pl.LazyFrame, st: pl.DataFrame) -> pl.DataFrame:
    """Per importer × product: V, C, Σv², displacement, concern unit value; ``k`` id
    (the row's position: the input order, which the output keeps)."""
    s = pl.col("s")
    m = _pick(st["max_concern_share"], s)
    r = _pick(st["reshoring"], s)
    gap = pl.col("C") - m * pl.col("V")
    return (
        sums.select(
            *KEY,
            _code(pl.col("scenario"), st["scenario"]).alias("s"),
            pl.col("v").alias("V"),
            pl.col("concern_v").fill_null(0.0).alias("C"),
            pl.col("v2").alias("Q"),
            pl.col("concern_v2").fill_null(0.0).alias("QC"),
            pl.col("ally_v").fill_null(0.0).alias("A"),
            pl.col("concern_vq").alias("CV"),
            pl.col("concern_q").alias("CQ"),
            pl.col("vw").fill_null(0.0).alias("VW0"),
            "override_vw",
        )
        # A lookup rather than a join on the scenario name: the same inner-join
        # semantics (rows of unknown scenarios drop) without hashing every string.
        .filter((pl.col("V") > 0) & s.is_not_null())
        .with_columns(
            pl.when(gap > _NOISE * pl.col("V")).then(gap).otherwise(0.0).alias("D0")
        )
        .with_columns(pl.min_horizontal("D0", r * pl.col("V")).alias("R"))
        .with_columns(
            (pl.col("D0") - pl.col("R")).alias("D"),
            pl.when(pl.col("CQ") > 0).then(pl.col("CV") / pl.col("CQ")).alias("uv_c"),
        )
        .with_row_index("k")
        .collect(engine=_ENGINE)
    )


_SUMS = (
    "W",
    "WW",
    "WU",
    "WK",
    "WA",
)  # per class: Σw, Σw², Σw·uv, Σw (uv known), ally Σw


def _class_rows(
    pos: pl.DataFrame, wo: pl.LazyFrame, codes: _Codes
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One row per (displacing importer × product) × receiving class, with the
    class's world-export sums net of the importer's own exports; and the receiving
    world rows (``p`` product, ``c`` supplier, ``cls``, ``W`` …) for the names."""
    # p: one integer per scenario × product that displaces somewhere.
    need = (
        pos.lazy()
        .select("s", "year", "hs6")
        .unique()
        .with_row_index("p")
        .collect(engine=_ENGINE)
    )
    nc = codes.names.len()
    # World rows find their product by position, not by a join on strings:
    # yh = year offset × len(hs) + the product's position in ``hs``.
    hs = need["hs6"].drop_nulls().unique()
    y0, y1 = (int(need["year"].min() or 0), int(need["year"].max() or 0))
    year = pl.col("year")
    yh = (
        pl.when(year.is_between(y0, y1))
        .then((year - y0).cast(pl.UInt64) * hs.len())
        .otherwise(None)
        + pl.col("hs6").cast(pl.Enum(hs), strict=False).to_physical()
    ).alias("yh")
    need = need.with_columns(yh)
    if need["yh"].is_unique().all():
        # Each product displaces in one scenario: a direct lookup.
        at = _slots(need["yh"], max((y1 - y0 + 1) * hs.len(), 1))
        wp = wo.with_columns(_pick(at, yh).alias("p"))
        wp = wp.with_columns(_pick(need["s"], "p").alias("s"))  # null: not needed
        keys = pos.lazy().with_columns(_pick(at, yh).alias("p"))
    else:
        # Several scenarios share products: a world row per scenario that needs it.
        wp = wo.with_columns(yh).join(need.lazy().select("yh", "p", "s"), on="yh")
        keys = (
            pos.lazy()
            .with_columns(yh)
            .join(need.lazy().select("s", "yh", "p"), on=["s", "yh"])
        )
    uv = pl.col("unit_value")
    known = uv.is_not_null() & (uv > 0)
    w = pl.col("value_usd")
    m = pl.col("_m")
    wj = (
        wp.filter(pl.col("s").is_not_null() & (w > 0))  # a product that displaces
        .select("p", "s", codes.country("exporter").alias("c"), w, uv)
        .with_columns(codes.row("s", "c").alias("_m"))
        .filter(m.is_not_null())  # a receiving supplier of the scenario
        .select(
            "p",
            "c",
            (pl.col("p").cast(pl.UInt64) * nc + pl.col("c")).alias("pc"),
            _pick(codes.table["cls"], m).alias("cls"),
            w.alias("W"),
            (w * w).alias("WW"),
            pl.when(known).then(w * uv).otherwise(0.0).alias("WU"),
            pl.when(known).then(w).otherwise(0.0).alias("WK"),
            pl.when(_pick(codes.table["ally"], m)).then(w).otherwise(0.0).alias("WA"),
        )
        .collect(engine=_STREAM)  # read three times: materialise once
        .rechunk()  # gathered from by position below
    )
    # Per product × class; one integer key groups ~1.5× faster than two. In-memory:
    # the streaming engine's group-by is faster but sums in a run-dependent order,
    # so results would differ run to run in the last bits.
    g = pl.col("g")
    wc = (
        wj.lazy()
        .group_by((pl.col("p").cast(pl.UInt64) * (nc + 1) + pl.col("cls")).alias("g"))
        .agg(pl.col(*_SUMS).sum(), pl.len().alias("n"))
        .select(
            (g // (nc + 1)).cast(pl.UInt32).alias("p"),
            (g % (nc + 1)).cast(pl.UInt32).alias("cls"),
            *_SUMS,
            "n",
        )
    )
    keys = keys.select(
        "k", "s", "p", codes.country("importer").alias("c_imp"), "D", "VW0"
    ).with_columns((pl.col("p").cast(pl.UInt64) * nc + pl.col("c_imp")).alias("pc"))
    # The importer's own exports of the product (its world row, if it receives).
    size = need.height * nc
    if size <= _MAX_SLOTS:
        keys = keys.with_columns(_pick(_slots(wj["pc"], size), "pc").alias("_o"))
    else:
        own = wj.select("pc", pl.Series("_o", range(wj.height), dtype=pl.UInt32))
        keys = keys.join(own.lazy(), on="pc", how="left")
    o = pl.col("_o")
    mine = _pick(wj["cls"], o) == pl.col("cls")  # null: no own row
    override = codes.row("s", pl.when(pl.col("cls") > 0).then(pl.col("cls") - 1))
    kc = (
        keys.join(wc, on="p")
        .with_columns(
            *(
                (pl.col(c) - pl.when(mine).then(_pick(wj[c], o)).otherwise(0.0)).alias(
                    c
                )
                for c in _SUMS
            ),
            (pl.col("n") - mine.fill_null(False).cast(pl.UInt32)).alias("n"),
            pl.when(pl.col("cls") > 0)
            .then(_pick(codes.table["e_fix"], override))
            .alias("e_fix"),
        )
        .filter(pl.col("W") > 0)
    )
    # Σ v_i w_i per class: the default class from the sums, overrides from the list.
    if "override_vw" not in pos.columns or (
        pos["override_vw"].null_count() == pos.height
    ):
        kc = kc.with_columns(
            pl.when(pl.col("cls") == 0).then("VW0").otherwise(0.0).alias("VW")
        )
    else:
        over = (
            pos.lazy()
            .select("k", "override_vw")
            .explode("override_vw")
            .drop_nulls("override_vw")
            .select("k", pl.col("override_vw").struct.unnest())
            .select(
                "k",
                (codes.country("cls") + 1).alias("cls"),
                pl.col("vw").alias("VW_o"),
            )
            .drop_nulls("cls")
        )
        kc = kc.join(over, on=["k", "cls"], how="left").with_columns(
            pl.when(pl.col("cls") == 0)
            .then("VW0")
            .otherwise(pl.col("VW_o").fill_null(0.0))
            .alias("VW")
        )
    kc = kc.select(
        "k", "s", "p", "c_imp", "cls", "e_fix", "D", *_SUMS, "VW", "n"
    ).collect(engine=_ENGINE)
    return kc, wj


def _water_fill(
    kc: pl.DataFrame, wj: pl.DataFrame, dr: pl.DataFrame, codes: _Codes
) -> pl.DataFrame:
    """λ per (importer × product × draw ``j``), then per-group sums of what it
    implies."""
    e, W, D = pl.col("e"), pl.col("W"), pl.col("D")
    # Only numeric columns go through the draws (×1000 rows); the binding suppliers
    # are named for the binding rows alone.
    rows = kc.lazy().join(
        dr.lazy().select("s", "j", pl.col("capacity_expansion").alias("e_draw")),
        on="s",
    )
    rows = rows.with_columns(pl.coalesce("e_fix", "e_draw").alias("e"))
    one_class = bool((kc["cls"] == 0).all())
    if one_class:
        # One class per group (no overrides): λ = D / W, no cumulative sums needed,
        # and every row is its own group.
        rows = rows.with_columns(
            pl.when(e * W < D).then(None).otherwise(D / W).alias("lam")
        )
    else:
        rows = (
            # One integer key per (importer × product, draw): cheap to sort and window.
            rows.with_columns(
                (
                    pl.col("k").cast(pl.UInt64) * pl.lit(dr.height, pl.UInt64)
                    + pl.col("j").cast(pl.UInt64)
                ).alias("g")
            )
            .sort("g", "e")
            .with_columns((e * W).alias("cap"))
            .with_columns(
                pl.col("cap").cum_sum().over("g").alias("cum_cap"),
                W.cum_sum().over("g").alias("cum_W"),
                W.sum().over("g").alias("tot_W"),
            )
            .with_columns(
                # Classes up to this one capped, the rest at its ratio: enough for D?
                (
                    pl.col("cum_cap") + e * (pl.col("tot_W") - pl.col("cum_W")) >= D
                ).alias("fits"),
                (
                    (D - (pl.col("cum_cap") - pl.col("cap")))
                    / (pl.col("tot_W") - pl.col("cum_W") + W)
                ).alias("lam_k"),
            )
            .with_columns(
                # The first fitting class's λ is the largest: null = all capped.
                pl.when("fits").then("lam_k").max().over("g").alias("lam")
            )
        )
    rows = rows.with_columns(
        pl.when(pl.col("lam").is_null())
        .then(e)
        .otherwise(pl.min_horizontal(e, "lam"))
        .alias("t"),
        ((pl.col("lam").is_null() | (e <= pl.col("lam"))) & (e > 0)).alias("bind"),
    ).collect(engine=_ENGINE)  # read twice below: materialise once
    t = pl.col("t")
    parts = {
        "placed_raw": t * W,
        "all_capped": pl.col("lam").is_null(),
        "hhi_add": 2 * t * pl.col("VW") + t * t * pl.col("WW"),
        "ally_add": t * pl.col("WA"),
        "MK": t * pl.col("WK"),
        "MU": t * pl.col("WU"),
    }
    if one_class:
        sums = rows.lazy().select(
            "k",
            "j",
            *(x.alias(name) for name, x in parts.items()),
            pl.when("bind").then("n").otherwise(0).alias("n_binding"),
        )
    else:
        sums = (
            rows.lazy()
            .group_by("g")
            .agg(
                pl.col("k", "j").first(),
                *(
                    (x.first() if name == "all_capped" else x.sum()).alias(name)
                    for name, x in parts.items()
                ),
                pl.col("n").filter("bind").sum().alias("n_binding"),
            )
            .drop("g")
        )
    named = _binding_names(
        rows.filter("bind").select("k", "j", "p", "c_imp", "cls", "e", "W"),
        wj,
        codes,
    )
    return sums.join(named.lazy(), on=["k", "j"], how="left").collect(engine=_ENGINE)


def _binding_names(
    bound: pl.DataFrame, wj: pl.DataFrame, codes: _Codes
) -> pl.DataFrame:
    """``binding_suppliers`` per binding (importer × product, draw): the capped
    suppliers (never the importer), largest capacity e × w first (ties by name)."""
    who, who_w = pl.col("who"), pl.col("who_w")
    # Per class (independent of the draw): the default class's largest suppliers,
    # or the override supplier itself, with their capacity weights w.
    per = bound.lazy().select("k", "p", "c_imp", "cls", "W").unique(["k", "cls"])
    top_p = bound.filter(pl.col("cls") == 0)["p"].unique()
    top = (
        wj.lazy()
        .filter((pl.col("cls") == 0) & pl.col("p").is_in(top_p.implode()))
        .group_by("p")
        .agg(
            # One spare: the importer itself may be among them.
            pl.col("c")
            .sort_by("W", "c", descending=[True, False])
            .head(TOP_BINDING + 1)
            .alias("who"),
            pl.col("W").sort(descending=True).head(TOP_BINDING + 1).alias("who_w"),
        )
    )
    listed = (
        pl.concat(
            [
                per.filter(pl.col("cls") == 0)
                .join(top, on="p")
                .select("k", "cls", "c_imp", "who", "who_w")
                .explode("who", "who_w"),
                per.filter(pl.col("cls") > 0).select(
                    "k",
                    "cls",
                    "c_imp",
                    (pl.col("cls") - 1).alias("who"),
                    pl.col("W").alias("who_w"),
                ),
            ]
        )
        .filter(who.ne_missing(pl.col("c_imp")))
        .with_columns(_pick(codes.names, who).alias("who"))
        .group_by("k", "cls")
        .agg(
            who.sort_by(who_w, who, descending=[True, False]).head(TOP_BINDING),
            who_w.sort(descending=True).head(TOP_BINDING),
        )
    )
    named = bound.lazy().select("k", "j", "cls", "e").join(listed, on=["k", "cls"])
    if bound.select("k", "j").is_unique().all():
        # One binding class per group: its list, already in capacity order.
        return named.select("k", "j", who.alias("binding_suppliers")).collect(
            engine=_ENGINE
        )
    return (
        named.explode("who", "who_w")
        .group_by("k", "j")
        .agg(
            who.sort_by(pl.col("e") * who_w, who, descending=[True, False])
            .head(TOP_BINDING)
            .alias("binding_suppliers")
        )
        .collect(engine=_ENGINE)
    )


# Per importer × product inputs of the metrics.
_INPUTS = ["V", "C", "Q", "QC", "A", "D0", "R", "D", "uv_c"]
# Metrics that depend on the water-fill; the others are the same with or without it.
_FILLED = [
    "scenario_prc_share",
    "scenario_hhi",
    "scenario_ally_share",
    "placed_usd",
    "unmet_usd",
    "unmet_share",
    "cost_premium_usd",
    "cost_premium_pct",
]


def _metrics(lf: pl.LazyFrame) -> pl.LazyFrame:
    """:data:`METRICS` from V, C, Q, QC, A, D0, R, D, uv_c, ``placed`` and the
    water-fill sums ``hhi_add, ally_add, MK, MU`` with ``unit_value_scale``."""
    V, C, D0, R, D = (pl.col(c) for c in ("V", "C", "D0", "R", "D"))
    lf = (
        lf.with_columns((D - pl.col("placed")).alias("unmet"))
        .with_columns((V - pl.col("unmet")).alias("S"))
        .with_columns(
            # Concern members keep C − D0, in proportion: Σ v'² = f² Σ v².
            pl.when(C > 0).then((C - D0) / C).otherwise(1.0).alias("f"),
        )
        .with_columns(
            (
                pl.col("Q")
                - (1 - pl.col("f") * pl.col("f")) * pl.col("QC")
                + pl.col("hhi_add")
                + R * R
            ).alias("Q_after")
        )
    )
    S = pl.col("S")
    supplied = S > 0

    def after(x: pl.Expr) -> pl.Expr:
        return pl.when(supplied).then(x / S)

    premium = (
        pl.when(pl.col("placed") == 0)
        .then(0.0)
        .when(pl.col("uv_c").is_not_null() & (pl.col("MK") > 0))
        .then(
            pl.col("placed")
            * (
                pl.col("unit_value_scale")
                * pl.col("MU")
                / (pl.col("uv_c") * pl.col("MK"))
                - 1
            )
        )
    )
    return lf.select(
        V.alias("import_value_usd"),
        (C / V).alias("baseline_prc_share"),
        after(C - D0).alias("scenario_prc_share"),
        (pl.col("Q") / (V * V)).alias("baseline_hhi"),
        pl.when(supplied).then(pl.col("Q_after") / (S * S)).alias("scenario_hhi"),
        (pl.col("A") / V).alias("baseline_ally_share"),
        after(pl.col("A") + pl.col("ally_add")).alias("scenario_ally_share"),
        D0.alias("displaced_usd"),
        R.alias("reshored_usd"),
        pl.col("placed").alias("placed_usd"),
        pl.col("unmet").alias("unmet_usd"),
        (pl.col("unmet") / V).alias("unmet_share"),
        premium.alias("cost_premium_usd"),
        (100 * premium / V).alias("cost_premium_pct"),
    )


def _quiet(lf: pl.LazyFrame) -> pl.LazyFrame:
    """:func:`_metrics` with nothing placed (``placed`` and the water-fill sums 0),
    with the zero terms dropped: the same values in fewer passes over every row."""
    V, C, D0, R, D = (pl.col(c) for c in ("V", "C", "D0", "R", "D"))
    S, f = pl.col("S"), pl.col("f")
    supplied = S > 0
    lf = lf.with_columns(
        (V - D).alias("S"),  # unmet = D
        pl.when(C > 0).then((C - D0) / C).otherwise(1.0).alias("f"),
    ).with_columns((pl.col("Q") - (1 - f * f) * pl.col("QC") + R * R).alias("Q_after"))
    return lf.select(
        V.alias("import_value_usd"),
        (C / V).alias("baseline_prc_share"),
        pl.when(supplied).then((C - D0) / S).alias("scenario_prc_share"),
        (pl.col("Q") / (V * V)).alias("baseline_hhi"),
        pl.when(supplied).then(pl.col("Q_after") / (S * S)).alias("scenario_hhi"),
        (pl.col("A") / V).alias("baseline_ally_share"),
        pl.when(supplied).then(pl.col("A") / S).alias("scenario_ally_share"),
        D0.alias("displaced_usd"),
        R.alias("reshored_usd"),
        pl.lit(0.0).alias("placed_usd"),
        D.alias("unmet_usd"),
        (D / V).alias("unmet_share"),
        pl.lit(0.0).alias("cost_premium_usd"),
        pl.lit(0.0).alias("cost_premium_pct"),
    )


def _finish(
    base: pl.DataFrame, pos: pl.DataFrame, dr: pl.DataFrame, groups: pl.DataFrame
) -> pl.DataFrame:
    """Every importer × product × draw of its scenario, in input × draw order.

    Rows are first computed as if nothing were placed (true of every row without a
    water-fill group, which is nearly all of them) once per importer × product, then
    expanded over the draws; the water-fill groups are computed on their own and
    written into their output positions, so no join over the full output is needed.
    """
    # Draws of scenario s: rows start[s] .. start[s] + count[s] of ``dr``.
    per_s = dr.group_by("s").agg(pl.col("j").min().alias("start"), pl.len())
    size = max(int(base["s"].max() or 0), int(dr["s"].max() or 0)) + 1
    n_s = pl.Series([0] * size, dtype=pl.UInt32).scatter(per_s["s"], per_s["len"])
    start_s = pl.Series([0] * size, dtype=pl.UInt32).scatter(per_s["s"], per_s["start"])
    quiet = pl.concat(
        [base.select(*KEY), _quiet(base.lazy()).collect(engine=_ENGINE)],
        how="horizontal",
    )
    start, n = start_s.gather(base["s"]), n_s.gather(base["s"])
    if (n == 1).all():
        # One draw per scenario (the deterministic run): output row = input row.
        out = quiet.with_columns(start.alias("j"))
        offset = base["k"]
    else:
        out = (
            quiet.with_columns(
                pl.int_ranges(start, start + n, dtype=pl.UInt32).alias("j")
            )
            .filter(n > 0)
            .explode("j")  # in (k, draw) order: dr is sorted by draw per scenario
        )
        offset = n.cum_sum() - n
    # Output position of a water-fill row: its input row's first output row, plus
    # the draw's rank within the scenario.
    k = groups["k"]
    where = offset.gather(k) + groups["j"] - start.gather(k)
    # The inputs from ``pos`` (one chunk: gathers from ``base``'s many are slow).
    rows = pos.select(_INPUTS)[_slots(pos["k"], base.height).gather(k)]
    placed = (
        pl.when(pl.col("placed_raw").is_null())
        .then(0.0)  # nothing eligible: all of D is unmet
        .when(pl.col("all_capped"))
        .then(pl.min_horizontal("placed_raw", "D"))
        .otherwise("D")  # λ found: exactly D placed (no rounding residue)
    )
    filled = _metrics(
        pl.concat([rows, groups.drop("k")], how="horizontal")
        .lazy()
        .with_columns(
            pl.when(pl.col("D") > 0).then(placed).otherwise(0.0).alias("placed"),
            _pick(dr["unit_value_scale"], "j").alias("unit_value_scale"),
        )
    ).collect(engine=_ENGINE)
    # binding_suppliers: position 0 holds the empty list of every other row.
    empty = pl.Series([[]], dtype=pl.List(pl.String))
    # (one chunk: a gather from a chunked list column is ~40× slower)
    lists = pl.concat([empty, groups["binding_suppliers"]]).fill_null(empty).rechunk()
    at = (_slots(where, out.height) + 1).fill_null(0)
    n_binding = pl.repeat(0, out.height, dtype=pl.Int64, eager=True).scatter(
        where, groups["n_binding"].cast(pl.Int64)
    )
    return out.select(
        "scenario",
        _pick(dr["draw"], "j").alias("draw"),
        "importer",
        "year",
        "hs6",
        *(
            out[c].scatter(where, filled[c]) if c in _FILLED else pl.col(c)
            for c in METRICS
        ),
        lists.gather(at).alias("binding_suppliers"),
        n_binding.alias("n_binding"),
    )


# -- roll-up and uncertainty summaries -----------------------------------------------
def rollup(products: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """Industry level: USD columns summed, shares and HHI import-value-weighted.

    ``labels`` maps ``scenario`` → ``industry`` (the scenario's industry, or a label
    for an HS list). The cost premium is extrapolated from the products with a
    known premium to the industry's placed value (null when none has one).
    ``binding_suppliers``: distinct suppliers over the products, most often binding
    first, then by their capacity rank within the products.
    """
    keys = ["scenario", "draw", "importer", "year", "industry"]
    keys = [k for k in keys if k in products.columns or k == "industry"]
    V = pl.col("import_value_usd")
    known = pl.col("cost_premium_usd").is_not_null()
    placed_known = pl.col("placed_usd").filter(known).sum()
    lf = products.lazy().join(labels.lazy(), on=["scenario", "hs6"])
    agg = (
        lf.group_by(keys)
        .agg(
            *(pl.col(c).sum() for c in USD_METRICS),
            *((pl.col(c) * V).sum() / V.sum() for c in SHARE_METRICS),
            pl.col("cost_premium_usd").filter(known).sum().alias("_prem"),
            placed_known.alias("_placed_known"),
        )
        .with_columns(
            (pl.col("unmet_usd") / V).alias("unmet_share"),
            pl.when(pl.col("placed_usd") == 0)
            .then(0.0)
            .when(pl.col("_placed_known") > 0)
            .then(pl.col("_prem") * pl.col("placed_usd") / pl.col("_placed_known"))
            .alias("cost_premium_usd"),
        )
        .with_columns((100 * pl.col("cost_premium_usd") / V).alias("cost_premium_pct"))
    )
    who = (
        lf.select(
            *keys,
            "binding_suppliers",
            pl.int_ranges(pl.col("binding_suppliers").list.len()).alias("_pos"),
        )
        .explode("binding_suppliers", "_pos")
        .drop_nulls("binding_suppliers")
        .group_by(*keys, "binding_suppliers")
        .agg(pl.len(), pl.col("_pos").mean())
        .group_by(keys)
        .agg(
            # Binding in most products first; ties by capacity rank within products.
            pl.col("binding_suppliers")
            .sort_by(
                "len", "_pos", "binding_suppliers", descending=[True, False, False]
            )
            .head(TOP_BINDING)
        )
    )
    return (
        agg.join(who, on=keys, how="left")
        .with_columns(
            pl.col("binding_suppliers").fill_null(pl.lit([], pl.List(pl.String)))
        )
        .select(*keys, *METRICS, "binding_suppliers")
        .sort(keys)
        .collect(engine=_ENGINE)
    )


STATS = (("p5", 0.05), ("p50", 0.5), ("p95", 0.95))


def summarise_draws(frame: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """p5 / p50 / p95 of every metric over draws: three rows per key (``stat``).

    Quantiles use linear interpolation, so p5 ≤ p50 ≤ p95 per metric. A supplier is
    listed in ``binding_suppliers`` when its cap binds in at least half the draws.
    """
    keys = list(keys)
    metrics = [c for c in [*METRICS, "n_binding"] if c in frame.columns]
    n_draws = pl.col("draw").n_unique()
    q = (
        frame.lazy()
        .group_by(keys)
        .agg(
            *(
                pl.col(m).quantile(p, interpolation="linear").alias(f"{m}|{s}")
                for m in metrics
                for s, p in STATS
            ),
        )
    )
    who = (
        frame.lazy()
        .with_columns(n_draws.over(keys).alias("_n"))
        .select(*keys, "_n", "binding_suppliers")
        .explode("binding_suppliers")
        .drop_nulls("binding_suppliers")
        .group_by(*keys, "binding_suppliers")
        .agg(pl.len().alias("_k"), pl.col("_n").first())
        .filter(pl.col("_k") * 2 >= pl.col("_n"))
        .group_by(keys)
        .agg(
            pl.col("binding_suppliers").sort_by(
                "_k", "binding_suppliers", descending=[True, False]
            )
        )
    )
    wide = q.join(who, on=keys, how="left").with_columns(
        pl.col("binding_suppliers").fill_null(pl.lit([], pl.List(pl.String)))
    )
    parts = [
        wide.select(
            *keys,
            pl.lit(s).alias("stat"),
            *(pl.col(f"{m}|{s}").alias(m) for m in metrics if m != "n_binding"),
            "binding_suppliers",
            *(pl.col(f"{m}|{s}").alias(m) for m in metrics if m == "n_binding"),
        )
        for s, _ in STATS
    ]
    order = {s: i for i, (s, _) in enumerate(STATS)}
    return (
        pl.concat(parts)
        .with_columns(pl.col("stat").replace_strict(order).alias("_o"))
        .sort(*keys, "_o")
        .drop("_o")
        .collect(engine=_ENGINE)
    )
