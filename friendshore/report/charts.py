"""Vega-Lite chart specs for the HTML report, built with altair.

Each builder takes one report table (the documented columns of
:mod:`friendshore.report`) and returns a Vega-Lite spec as a plain dict with its
data inlined as values, so the report needs no data files and no network. Charts
show a bounded number of marks (the largest importers, the most exposed
products); the Parquet tables hold everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import polars as pl

# Tier colours: concern in red, allies in blue, partners in teal, the rest grey.
TIERS = ("concern", "ally", "partner", "other")
TIER_COLOURS = ("#c0392b", "#2e6da4", "#49a69a", "#b3b3b3")
MAX_IMPORTERS = 6  # more panels than this stop being readable on one screen
TOP_PRODUCTS = 12
WIDTH = 560

_PCT = alt.Axis(format="%")
_CASE_AXIS = alt.Axis(labelLimit=380)  # scenario names are long sentences


def _values(df: pl.DataFrame) -> alt.InlineData:
    """Inline the rows (JSON-ready: dates as ISO text, NaN as null)."""
    return alt.InlineData(values=df.fill_nan(None).to_dicts())


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    return chart.to_dict()


def focus_importers(df: pl.DataFrame, n: int = MAX_IMPORTERS) -> pl.DataFrame:
    """Rows of the ``n`` importers with the largest total import value."""
    if df.is_empty() or df["importer"].n_unique() <= n:
        return df
    top = (
        df.group_by("importer")
        .agg(pl.col("import_value_usd").sum())
        .sort(["import_value_usd", "importer"], descending=[True, False])
        .head(n)["importer"]
    )
    return df.filter(pl.col("importer").is_in(top.implode()))


def prc_share_by_industry(industries: pl.DataFrame, concern: str) -> dict[str, Any]:
    """Bar chart (one importer) or heat map (several) of the concern share per industry."""
    df = focus_importers(industries).select(
        "importer", "industry", "prc_share", "import_value_usd"
    )
    tooltip = [
        alt.Tooltip("importer:N"),
        alt.Tooltip("industry:N"),
        alt.Tooltip("prc_share:Q", title=f"{concern} share", format=".1%"),
        alt.Tooltip("import_value_usd:Q", title="imports (USD)", format=",.0f"),
    ]
    base = alt.Chart(_values(df))
    if df["importer"].n_unique() > 1:
        chart = base.mark_rect().encode(
            x=alt.X("importer:N", title="importer"),
            y=alt.Y("industry:N", title=None),
            color=alt.Color(
                "prc_share:Q",
                title=f"{concern} share",
                scale=alt.Scale(domain=[0, 1], scheme="reds"),
                legend=alt.Legend(format="%"),
            ),
            tooltip=tooltip,
        )
    else:
        chart = base.mark_bar(color=TIER_COLOURS[0]).encode(
            x=alt.X(
                "prc_share:Q",
                title=f"{concern} share of imports",
                axis=_PCT,
                scale=alt.Scale(domain=[0, 1]),
            ),
            y=alt.Y("industry:N", title=None, sort="-x"),
            tooltip=tooltip,
        )
    return _spec(chart.properties(width=WIDTH))


def most_exposed_products(
    products: pl.DataFrame, n: int = TOP_PRODUCTS
) -> pl.DataFrame:
    """The ``n`` (importer, product) rows with the most concern-supplied value."""
    return (
        products.with_columns(
            (pl.col("prc_share") * pl.col("import_value_usd")).alias("_concern_usd")
        )
        .sort(["_concern_usd", "importer", "hs6"], descending=[True, False, False])
        .head(n)
        .drop("_concern_usd")
    )


def supplier_composition(
    products: pl.DataFrame, concern: str, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Stacked bars: where the most exposed products come from, by supplier tier.

    ``labels`` maps hs6 → a short name shown beside the code.
    """
    top = most_exposed_products(products)
    several = top["importer"].n_unique() > 1
    named = pl.col("hs6").replace_strict(
        dict(labels or {}), default="", return_dtype=pl.String
    )
    product = pl.concat_str("hs6", pl.lit(" "), named).str.strip_chars()
    label = pl.concat_str("importer", pl.lit(" · "), product) if several else product
    long = (
        top.with_columns(label.alias("product"))
        .unpivot(
            index=["product", "top_supplier", "import_value_usd"],
            on=["prc_share", "ally_share", "partner_share", "other_share"],
            variable_name="tier",
            value_name="share",
        )
        .with_columns(
            pl.col("tier")
            .str.strip_suffix("_share")
            .replace({"prc": "concern"})
            .alias("tier")
        )
    )
    order = top.select(label.alias("product"))["product"].to_list()
    chart = (
        alt.Chart(_values(long))
        .mark_bar()
        .encode(
            x=alt.X("share:Q", title="share of imports", axis=_PCT, stack="zero"),
            y=alt.Y("product:N", title=None, sort=order, axis=alt.Axis(labelLimit=260)),
            color=alt.Color(
                "tier:N",
                title="supplier",
                scale=alt.Scale(domain=list(TIERS), range=list(TIER_COLOURS)),
                legend=alt.Legend(
                    labelExpr=f"datum.label == 'concern' ? '{concern}' : datum.label"
                ),
            ),
            order=alt.Order("tier_order:Q"),
            tooltip=[
                alt.Tooltip("product:N"),
                alt.Tooltip("tier:N"),
                alt.Tooltip("share:Q", format=".1%"),
                alt.Tooltip("top_supplier:N", title="top supplier"),
                alt.Tooltip("import_value_usd:Q", title="imports (USD)", format=",.0f"),
            ],
        )
        .transform_calculate(
            tier_order="indexof(['concern','ally','partner','other'], datum.tier)"
        )
        .properties(width=WIDTH)
    )
    return _spec(chart)


def trends(series: pl.DataFrame, concern: str) -> dict[str, Any]:
    """Lines of the concern share per industry across years (a panel per importer)."""
    df = focus_importers(series).select(
        "importer", "industry", "year", "prc_share", "import_value_usd"
    )
    line = (
        alt.Chart()
        .mark_line(point=True)
        .encode(
            x=alt.X("year:O", title="year", axis=alt.Axis(labelAngle=0)),
            y=alt.Y(
                "prc_share:Q",
                title=f"{concern} share",
                axis=_PCT,
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=alt.Color("industry:N", title="industry"),
            tooltip=[
                alt.Tooltip("importer:N"),
                alt.Tooltip("industry:N"),
                alt.Tooltip("year:O"),
                alt.Tooltip("prc_share:Q", format=".1%"),
            ],
        )
    )
    if df["importer"].n_unique() > 1:
        chart = alt.FacetChart(
            data=_values(df),
            spec=line.properties(width=240, height=160),
            facet=alt.Facet("importer:N", title=None),
            columns=3,
        )
    else:
        chart = line.properties(data=_values(df), width=WIDTH)
    return _spec(chart)


def _cases(scenarios: pl.DataFrame) -> pl.DataFrame:
    """The scenario rows a chart shows, labelled ``scenario · importer · industry``
    in ``case``: with draws the engine gives p5 / p50 / p95 rows, a chart the median."""
    return scenarios.filter(
        pl.col("stat").is_null() | (pl.col("stat") == "p50")
    ).with_columns(
        pl.concat_str(
            "scenario", pl.lit(" · "), "importer", pl.lit(" · "), "industry"
        ).alias("case")
    )


def scenario_before_after(scenarios: pl.DataFrame, concern: str) -> dict[str, Any]:
    """Dumbbells: the concern share before and after each scenario, per industry."""
    df = _cases(scenarios)
    long = df.unpivot(
        index=["case", "import_price_change_pct", "import_quantity_change_pct"],
        on=["concern_share", "scenario_concern_share"],
        variable_name="when",
        value_name="share",
    ).with_columns(
        pl.col("when").replace(
            {"concern_share": "before", "scenario_concern_share": "after"}
        )
    )
    x = alt.X(
        "share:Q",
        title=f"{concern} share of imports",
        axis=_PCT,
        scale=alt.Scale(domain=[0, 1]),
    )
    rule = (
        alt.Chart(_values(df.select("case", "concern_share", "scenario_concern_share")))
        .mark_rule(color="#888", strokeWidth=2)
        .encode(
            y=alt.Y("case:N", title=None, axis=_CASE_AXIS),
            x=alt.X("concern_share:Q", title=None, scale=alt.Scale(domain=[0, 1])),
            x2="scenario_concern_share:Q",
        )
    )
    base = alt.Chart(_values(long)).encode(
        y=alt.Y("case:N", title=None, axis=_CASE_AXIS), x=x
    )
    dots = base.mark_point(filled=True, size=90).encode(
        color=alt.Color(
            "when:N",
            title=None,
            scale=alt.Scale(domain=["before", "after"], range=["#c0392b", "#2e6da4"]),
        ),
        tooltip=[
            alt.Tooltip("case:N"),
            alt.Tooltip("when:N"),
            alt.Tooltip("share:Q", format=".1%"),
            alt.Tooltip(
                "import_price_change_pct:Q", title="import price %", format=".1f"
            ),
            alt.Tooltip(
                "import_quantity_change_pct:Q", title="import quantity %", format=".1f"
            ),
        ],
    )
    return _spec(alt.layer(rule, dots).properties(width=WIDTH))


def scenario_prices(scenarios: pl.DataFrame) -> dict[str, Any]:
    """Bars: each coalition member's import price and quantity change per industry
    and scenario, side by side (the market-clearing results of issue 15)."""
    df = _cases(scenarios)
    long = df.unpivot(
        index=["case", "scenario_concern_share"],
        on=["import_price_change_pct", "import_quantity_change_pct"],
        variable_name="measure",
        value_name="change",
    ).with_columns(
        pl.col("measure").replace(
            {
                "import_price_change_pct": "import price",
                "import_quantity_change_pct": "import quantity",
            }
        )
    )
    chart = (
        alt.Chart(_values(long))
        .mark_bar()
        .encode(
            y=alt.Y("case:N", title=None, axis=_CASE_AXIS),
            yOffset=alt.YOffset("measure:N"),
            x=alt.X("change:Q", title="change from baseline, %"),
            color=alt.Color(
                "measure:N",
                title=None,
                scale=alt.Scale(
                    domain=["import price", "import quantity"],
                    range=["#c0392b", "#2e6da4"],
                ),
            ),
            tooltip=[
                alt.Tooltip("case:N"),
                alt.Tooltip("measure:N"),
                alt.Tooltip("change:Q", format=".1f"),
                alt.Tooltip(
                    "scenario_concern_share:Q",
                    title="concern share after",
                    format=".1%",
                ),
            ],
        )
        .properties(width=WIDTH)
    )
    return _spec(chart)


def coalition_league(league: pl.DataFrame, concern: str) -> dict[str, Any]:
    """League table as bars: each coalition's members' import price rise, best first.

    An infinite rise (a member market left with no supplier) cannot be drawn: the
    bar shows the rise over the markets still supplied, hatched in grey, and the
    tooltip gives the value cut off.
    """
    df = league.sort("rank", nulls_last=True).select(
        pl.concat_str(
            pl.col("rank").cast(pl.String).fill_null("–"),
            pl.lit(". "),
            "coalition",
        ).alias("label"),
        pl.when(pl.col("import_price_change_pct").is_infinite())
        .then(pl.col("supplied_price_change_pct"))
        .otherwise(pl.col("import_price_change_pct"))
        .alias("price_pct"),
        pl.when(pl.col("cut_off_usd") > 0)
        .then(pl.lit("some member market cut off"))
        .otherwise(pl.lit("every member market supplied"))
        .alias("supply"),
        "n_members",
        "import_value_usd",
        "cut_off_usd",
        "consumer_surplus_change_usd",
        "concern_export_value_change_pct",
        "diverted_share",
    )
    # JSON has no infinity: an unbounded surplus loss shows as a blank tooltip.
    df = df.with_columns(
        pl.when(pl.col(c).is_infinite()).then(None).otherwise(pl.col(c)).alias(c)
        for c, t in df.schema.items()
        if t == pl.Float64
    )
    order = df["label"].to_list()
    chart = (
        alt.Chart(_values(df))
        .mark_bar()
        .encode(
            y=alt.Y("label:N", title=None, sort=order, axis=_CASE_AXIS),
            x=alt.X("price_pct:Q", title="members' import price change, %"),
            color=alt.Color(
                "supply:N",
                title=None,
                scale=alt.Scale(
                    domain=[
                        "every member market supplied",
                        "some member market cut off",
                    ],
                    range=["#2e6da4", "#b3b3b3"],
                ),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="coalition"),
                alt.Tooltip("n_members:Q", title="members"),
                alt.Tooltip("price_pct:Q", title="price change %", format=".2f"),
                alt.Tooltip("import_value_usd:Q", title="imports (USD)", format=",.0f"),
                alt.Tooltip("cut_off_usd:Q", title="cut off (USD)", format=",.0f"),
                alt.Tooltip(
                    "consumer_surplus_change_usd:Q",
                    title="consumer surplus (USD)",
                    format=",.0f",
                ),
                alt.Tooltip(
                    "concern_export_value_change_pct:Q",
                    title=f"{concern} export value %",
                    format=".2f",
                ),
                alt.Tooltip("diverted_share:Q", title="diverted", format=".1%"),
            ],
        )
    )
    return _spec(chart.properties(width=WIDTH))
