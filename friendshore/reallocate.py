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
    wo = _conform(world, WORLD, "world").filter(pl.col("value_usd") > 0)
    st = _conform(settings, SETTINGS, "settings")
    rl = roles(members)
    if draws is None:
        dr = st.select(
            "scenario",
            pl.lit(0, pl.Int32).alias("draw"),
            "capacity_expansion",
            pl.lit(1.0).alias("unit_value_scale"),
        )
    else:
        dr = _conform(draws, DRAWS, "draws")

    base = _baseline(sums_lf, st)
    pos = base.filter(pl.col("D") > 0)
    kc = _class_rows(pos, wo, rl)
    fill = _water_fill(kc, dr)
    return _finish(base, dr, fill)


def _baseline(sums: pl.LazyFrame, st: pl.LazyFrame) -> pl.DataFrame:
    """Per importer × product: V, C, Σv², displacement, concern unit value; ``k`` id."""
    m, r = pl.col("max_concern_share"), pl.col("reshoring")
    gap = pl.col("C") - m * pl.col("V")
    return (
        sums.select(
            *KEY,
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
        .filter(pl.col("V") > 0)
        .join(st, on="scenario")
        .with_columns(
            pl.when(gap > _NOISE * pl.col("V")).then(gap).otherwise(0.0).alias("D0")
        )
        .with_columns(pl.min_horizontal("D0", r * pl.col("V")).alias("R"))
        .with_columns(
            (pl.col("D0") - pl.col("R")).alias("D"),
            pl.when(pl.col("CQ") > 0).then(pl.col("CV") / pl.col("CQ")).alias("uv_c"),
        )
        # k follows the input order (the queries sort by importer, product), so the
        # output is ordered by sorting integers, not strings.
        .with_row_index("k")
        .collect(engine=_ENGINE)
    )


def _class_rows(pos: pl.DataFrame, wo: pl.LazyFrame, rl: pl.LazyFrame) -> pl.DataFrame:
    """One row per (displacing importer × product) × receiving class, with the
    class's world-export sums net of the importer's own exports."""
    need = pos.lazy().select("scenario", "year", "hs6").unique()
    classes = rl.filter(pl.col("grp").is_not_null() & (pl.col("grp") != "C")).select(
        "scenario",
        pl.col("iso3").alias("exporter"),
        "ally",
        pl.col("grp").alias("cls"),
        "e_fix",
    )
    uv = pl.col("unit_value")
    known = uv.is_not_null() & (uv > 0)
    w = pl.col("value_usd").alias("w")
    wj = (
        wo.join(need, on=["year", "hs6"])
        .join(classes, on=["scenario", "exporter"])
        .select(
            "scenario",
            "year",
            "hs6",
            "exporter",
            "cls",
            "e_fix",
            w,
            (w * w).alias("WW"),
            pl.when(known).then(w * uv).otherwise(0.0).alias("WU"),
            pl.when(known).then(w).otherwise(0.0).alias("WK"),
            pl.when(pl.col("ally")).then(w).otherwise(0.0).alias("WA"),
        )
    )
    wc = wj.group_by("scenario", "year", "hs6", "cls").agg(
        pl.col("e_fix").first(),
        pl.col("w").sum().alias("W"),
        pl.col("WW", "WU", "WK", "WA").sum(),
        pl.len().alias("n"),
        pl.col("exporter")
        .sort_by("w", descending=True)
        .head(TOP_BINDING + 1)
        .alias("top"),
        pl.col("w").sort(descending=True).head(TOP_BINDING + 1).alias("top_w"),
    )
    keys = pos.lazy().select("k", "scenario", "importer", "year", "hs6", "D", "uv_c")
    own = keys.join(
        wj.select(
            "scenario",
            "year",
            "hs6",
            pl.col("exporter").alias("importer"),
            "cls",
            pl.col("w").alias("o_W"),
            pl.col("WW").alias("o_WW"),
            pl.col("WU").alias("o_WU"),
            pl.col("WK").alias("o_WK"),
            pl.col("WA").alias("o_WA"),
        ),
        on=["scenario", "year", "hs6", "importer"],
    ).select("k", "cls", "o_W", "o_WW", "o_WU", "o_WK", "o_WA")
    # Σ v_i w_i per class: the default class from the sums, overrides from the list.
    vw = pl.concat(
        [
            pos.lazy().select("k", pl.lit("").alias("cls"), pl.col("VW0").alias("VW")),
            pos.lazy()
            .select("k", "override_vw")
            .explode("override_vw")
            .drop_nulls("override_vw")
            .select("k", pl.col("override_vw").struct.unnest())
            .select("k", "cls", pl.col("vw").alias("VW")),
        ]
    )
    net = [
        (pl.col(c) - pl.col(f"o_{c}").fill_null(0.0)).alias(c)
        for c in ("W", "WW", "WU", "WK", "WA")
    ]
    return (
        keys.join(wc, on=["scenario", "year", "hs6"])
        .join(own, on=["k", "cls"], how="left")
        .with_columns(
            *net,
            (pl.col("n") - pl.col("o_W").is_not_null().cast(pl.UInt32)).alias("n"),
        )
        .filter(pl.col("W") > 0)
        .join(vw, on=["k", "cls"], how="left")
        .with_columns(pl.col("VW").fill_null(0.0))
        .drop("o_W", "o_WW", "o_WU", "o_WK", "o_WA")
        .collect(engine=_ENGINE)
    )


def _water_fill(kc: pl.DataFrame, dr: pl.LazyFrame) -> pl.DataFrame:
    """λ per (importer × product × draw), then per-group sums of what it implies."""
    e, W, D = pl.col("e"), pl.col("W"), pl.col("D")
    draws = dr.select(
        "scenario",
        "draw",
        pl.col("capacity_expansion").alias("e_draw"),
        "unit_value_scale",
    ).collect(engine=_ENGINE)
    n_draws = max(int(draws["draw"].max() or 0) + 1, 1)
    # Only numeric columns go through the draws (×1000 rows); names and the top-
    # supplier lists join back for the binding rows alone.
    slim = kc.lazy().select(
        "k", "scenario", "cls", "e_fix", "D", "W", "WW", "WU", "WK", "WA", "VW", "n"
    )
    rows = slim.join(draws.lazy(), on="scenario").with_columns(
        pl.coalesce("e_fix", "e_draw").alias("e"),
        # One integer key per (importer × product, draw): cheap to sort and window.
        (
            pl.col("k").cast(pl.UInt64) * pl.lit(n_draws, pl.UInt64)
            + pl.col("draw").cast(pl.UInt64)
        ).alias("g"),
    )
    if (kc["cls"] == "").all():
        # One class per group (no overrides): λ = D / W, no cumulative sums needed.
        rows = rows.with_columns((D / W).alias("lam")).with_columns(
            pl.when(e * W < D).then(None).otherwise("lam").alias("lam")
        )
    else:
        rows = (
            rows.sort("g", "e")
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
    rows = (
        rows.with_columns(
            pl.when(pl.col("lam").is_null())
            .then(e)
            .otherwise(pl.min_horizontal(e, "lam"))
            .alias("t"),
            ((pl.col("lam").is_null() | (e <= pl.col("lam"))) & (e > 0)).alias("bind"),
        )
        .collect(engine=_ENGINE)  # read twice below: materialise once
        .lazy()
    )
    t = pl.col("t")
    sums = rows.group_by("g").agg(
        pl.col("k", "draw").first(),
        (t * W).sum().alias("placed_raw"),
        pl.col("lam").is_null().first().alias("all_capped"),
        (2 * t * pl.col("VW") + t * t * pl.col("WW")).sum().alias("hhi_add"),
        (t * pl.col("WA")).sum().alias("ally_add"),
        (t * pl.col("WK")).sum().alias("MK"),
        (t * pl.col("WU")).sum().alias("MU"),
        pl.col("n").filter("bind").sum().alias("n_binding"),
    )
    named = (
        rows.filter("bind")
        .select("g", "k", "cls", "e", "W")
        .join(kc.lazy().select("k", "cls", "importer", "top", "top_w"), on=["k", "cls"])
        .select(
            "g",
            "importer",
            "e",
            pl.when(pl.col("cls") == "")
            .then("top")
            .otherwise(pl.concat_list("cls"))
            .alias("who"),
            pl.when(pl.col("cls") == "")
            .then("top_w")
            .otherwise(pl.concat_list("W"))
            .alias("who_w"),
        )
        .explode("who", "who_w")
        .filter(pl.col("who") != pl.col("importer"))
        .group_by("g")
        .agg(
            pl.col("who")
            .sort_by(pl.col("e") * pl.col("who_w"), descending=True)
            .head(TOP_BINDING)
            .alias("binding_suppliers")
        )
    )
    return sums.join(named, on="g", how="left").drop("g").collect(engine=_ENGINE)


def _finish(base: pl.DataFrame, dr: pl.LazyFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """Join the water-fill back onto every importer × product and derive metrics."""
    V, C, D0, R, D = (pl.col(c) for c in ("V", "C", "D0", "R", "D"))
    placed = (
        pl.when(pl.col("placed_raw").is_null())
        .then(0.0)  # nothing eligible: all of D is unmet
        .when(pl.col("all_capped"))
        .then(pl.min_horizontal("placed_raw", "D"))
        .otherwise(D)  # λ found: exactly D placed (no rounding residue)
    )
    out = (
        base.lazy()
        .join(dr, on="scenario")
        .join(groups.lazy(), on=["k", "draw"], how="left")
        .sort("k", "draw")
        .with_columns(
            pl.when(D > 0).then(placed).otherwise(0.0).alias("placed"),
            pl.col("hhi_add", "ally_add", "MK", "MU").fill_null(0.0),
            pl.col("n_binding").fill_null(0).cast(pl.Int64),
            pl.col("binding_suppliers").fill_null(pl.lit([], pl.List(pl.String))),
        )
        .with_columns((D - pl.col("placed")).alias("unmet"))
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
    return out.select(
        "scenario",
        "draw",
        "importer",
        "year",
        "hs6",
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
        "binding_suppliers",
        "n_binding",
    ).collect(engine=_ENGINE)


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
