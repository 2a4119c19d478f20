"""The analyst report: Parquet tables with provenance and one offline HTML page.

Writing is separate from computing: :func:`write_report` takes already-computed
frames (name → DataFrame) and provenance and writes them; :func:`build_report` is
the thin step that asks the engines for those frames. Every table is conformed to
its documented columns and types (:data:`TABLES`) before it is written, so the
files keep the same shape from one run to the next whatever the engines add.

The HTML file is self-contained: the Vega, Vega-Lite and vega-embed JavaScript
(from ``vl-convert-python``) and every chart's data are inlined, so it opens from
disk with no network.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from friendshore import export
from friendshore.errors import ExportError, ParameterError
from friendshore.report import charts
from friendshore.store import Store

HTML_NAME = "report.html"


@dataclass(frozen=True)
class Col:
    """A documented output column."""

    name: str
    dtype: pl.DataType
    doc: str
    optional: bool = False  # absent from the engine's frame → written as nulls


@dataclass(frozen=True)
class TableSpec:
    """A report table: file stem, one-line meaning, grain and columns."""

    name: str
    doc: str
    grain: tuple[str, ...]
    columns: tuple[Col, ...]

    @property
    def schema(self) -> pl.Schema:
        """The Polars schema every written file of this table has."""
        return pl.Schema({c.name: c.dtype for c in self.columns})


_S, _F, _Y, _N, _B = pl.String(), pl.Float64(), pl.Int16(), pl.Int64(), pl.Boolean()

# Shares are fractions 0–1; money is US dollars; hhi on the 0–1 scale (DESIGN.md).
_WHO = (
    Col("year", _Y, "calendar year"),
    Col("importer", _S, "ISO3 code, or the bloc's group name"),
)
_TIERS = (
    Col("concern", _S, "registry group of concern (default prc: CHN, HKG, MAC)"),
    Col("prc_share", _F, "share of the concern group"),
    Col(
        "hhi",
        _F,
        "Herfindahl-Hirschman index of supplier shares, 0–1 (residual areas spread "
        "thin)",
    ),
    Col("hhi_max", _F, "the HHI with residual areas (XRW, X-codes) as one supplier"),
    Col("coverage", _F, "named suppliers' share of V (residual areas unnamed)"),
    Col("ally_share", _F, "share of registry allies (as of the year)"),
    Col("partner_share", _F, "share of registry partners"),
    Col("other_share", _F, "share of every other supplier"),
)
_TRADE_SOURCE = (
    Col("source", _S, "trade source: baci | comtrade | table:<name>"),
    Col("hs_revision", _S, "HS revision of the codes"),
)
_PROVENANCE = (
    *_TRADE_SOURCE,
    Col("basis", _S, "who reported: baci | import | export (mirror) | table"),
    Col("vintage", _S, "release or files the figures come from"),
)
_V = Col("import_value_usd", _F, "import value V, US dollars")


def _scenario_key(who: Col, key: Col) -> tuple[Col, ...]:
    """A scenario table's key columns: scenario, coalition, ``who`` (importer or
    exporter), year, ``key`` (hs6 or industry), stat."""
    return (
        Col("scenario", _S, "scenario name"),
        Col("coalition", _S, "the coalition applying the policy"),
        who,
        Col("year", _Y, "calendar year"),
        key,
        Col("stat", _S, "p5 | p50 | p95 with draws, else null", optional=True),
    )


def _scenario_table(name: str, level: str, key: Col) -> TableSpec:
    return TableSpec(
        name,
        f"Scenario results per coalition member and {level} (friendshore simulate)",
        ("scenario", "coalition", "importer", "year", key.name, "stat"),
        (
            *_scenario_key(
                Col("importer", _S, "ISO3 code of the coalition member"), key
            ),
            _V,
            Col("scenario_import_value_usd", _F, "imports at scenario prices, USD"),
            Col("import_price_change_pct", _F, "import price index change, %"),
            Col("import_quantity_change_pct", _F, "import quantity change, %"),
            Col("concern_share", _F, "concern share before the scenario"),
            Col("scenario_concern_share", _F, "concern share after (prices paid)"),
            Col("hhi", _F, "supplier HHI before"),
            Col("scenario_hhi", _F, "supplier HHI after"),
            Col("consumer_surplus_change_usd", _F, "consumer surplus change, USD"),
            Col("reshored_usd", _F, "domestic output that replaces imports, USD"),
            Col("quota_rent_usd", _F, "quota rent or tariff revenue, USD"),
            Col("import_t", _F, "tonnes before (where quantities exist)"),
            Col("scenario_import_t", _F, "tonnes after"),
        ),
    )


def _exporter_table() -> TableSpec:
    return TableSpec(
        "scenario_exporters",
        "Scenario results per exporter and product (friendshore simulate --by exporter)",
        ("scenario", "coalition", "exporter", "year", "hs6", "stat"),
        (
            *_scenario_key(
                Col("exporter", _S, "ISO3 code of the exporter"),
                Col("hs6", _S, "HS6 product code"),
            ),
            Col("export_value_usd", _F, "world exports before, USD"),
            Col("scenario_export_value_usd", _F, "world exports after, USD"),
            Col("price_change_pct", _F, "export price change, %"),
            Col("export_quantity_change_pct", _F, "export quantity change, %"),
            Col("producer_surplus_change_usd", _F, "producer surplus change, USD"),
            Col("export_t", _F, "tonnes before (where quantities exist)"),
            Col("scenario_export_t", _F, "tonnes after"),
        ),
    )


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "exposure_products",
            "Imports of each defense-critical HS6 product, by supplier tier",
            ("year", "importer", "hs6"),
            (
                *_WHO,
                Col("hs6", _S, "HS6 product code (in hs_revision)"),
                _V,
                Col("n_suppliers", _N, "suppliers with a positive value"),
                Col("top_supplier", _S, "ISO3 of the largest supplier"),
                Col("top_supplier_share", _F, "its share of V"),
                *_TIERS,
                Col(
                    "lookthrough_prc_share",
                    _F,
                    "direct plus indirect concern share along the industry map's "
                    "upstream links",
                ),
                Col(
                    "lookthrough_coverage",
                    _F,
                    "share of V whose suppliers' upstream sourcing is known",
                ),
                *_PROVENANCE,
            ),
        ),
        TableSpec(
            "exposure_industries",
            "Import-value-weighted roll-up of each industry's HS6 inputs",
            ("year", "importer", "industry"),
            (
                *_WHO,
                Col("industry", _S, "defense-critical industry (industry map)"),
                _V,
                Col("n_products", _N, "HS6 inputs with imports"),
                *_TIERS,
                Col("top_supplier_share", _F, "weighted top-supplier share"),
                Col("top_prc_hs6", _S, "the input with the highest concern share"),
                Col("top_prc_share", _F, "its concern share"),
                *_PROVENANCE,
            ),
        ),
        TableSpec(
            "trends",
            "The industry roll-up for every year the store holds",
            ("year", "importer", "industry"),
            (
                *_WHO,
                Col("industry", _S, "defense-critical industry"),
                _V,
                *_TIERS,
                *_TRADE_SOURCE,
            ),
        ),
        TableSpec(
            "trend_products",
            "Change per product between the first and the last year",
            ("importer", "hs6"),
            (
                Col("importer", _S, "ISO3 code, or the bloc's group name"),
                Col("hs6", _S, "HS6 product code"),
                Col("year_from", _Y, "first year"),
                Col("year_to", _Y, "last year"),
                *(
                    Col(f"{m}_{end}", _F, f"{m} in year_{end}")
                    for m in ("import_value_usd",)
                    for end in ("from", "to")
                ),
                Col("import_value_change", _F, "relative change of V (0.1 = +10 %)"),
                *(
                    Col(f"{m}_{end}", _F, f"{m} in year_{end}")
                    for m in ("prc_share",)
                    for end in ("from", "to")
                ),
                Col("prc_share_change", _F, "difference in share points, 0–1"),
                Col("hhi_from", _F, "hhi in year_from"),
                Col("hhi_to", _F, "hhi in year_to"),
                Col("hhi_change", _F, "difference, 0–1 scale"),
                Col("hs_revision_from", _S, "HS revision of the codes in year_from"),
                Col("hs_revision_to", _S, "HS revision of the codes in year_to"),
            ),
        ),
        TableSpec(
            "world_concentration",
            "Concentration of world exports of each product",
            ("year", "hs6"),
            (
                Col("year", _Y, "calendar year"),
                Col("hs6", _S, "HS6 product code"),
                Col("world_exports_usd", _F, "all exporters' exports, USD"),
                Col("n_exporters", _N, "exporters with a positive value"),
                Col("hhi", _F, "HHI of exporters' shares, 0–1 (residual spread thin)"),
                Col("hhi_max", _F, "the HHI with residual areas as one exporter"),
                Col("coverage", _F, "named exporters' share of world exports"),
                Col("top_exporter", _S, "ISO3 of the leading named exporter"),
                Col("top_share", _F, "its share of world exports"),
                Col("concern", _S, "registry group of concern"),
                Col("prc_share", _F, "share of the concern group"),
                *_TRADE_SOURCE,
            ),
        ),
        TableSpec(
            "production_concentration",
            "Concentration of mine and refinery production (USGS MCS)",
            ("edition", "commodity", "stage", "year", "series"),
            (
                Col("edition", _S, "USGS Mineral Commodity Summaries edition"),
                Col("commodity", _S, "USGS commodity, lower case"),
                Col("stage", _S, "mine | refinery | …"),
                Col("year", _Y, "calendar year"),
                Col("series", _S, "USGS Type text where a stage has several totals"),
                Col("unit", _S, "unit of the quantities"),
                Col("listed_total", _F, "sum of the listed countries and 'Other'"),
                Col("hhi", _F, "HHI of producers' shares, 0–1 ('Other' spread thin)"),
                Col("hhi_max", _F, "the HHI with 'Other countries' as one producer"),
                Col("coverage", _F, "named countries' share of the listed total"),
                Col("concern", _S, "registry group of concern"),
                Col("prc_share", _F, "the concern group's share of the listed total"),
                Col("top_country", _S, "ISO3 of the largest named producer"),
                Col("top_share", _F, "its share of the listed total"),
                Col("n_producers", _N, "named producers with a figure"),
                Col("n_withheld", _N, "figures withheld (W) or not available"),
                Col("world_total", _F, "published rounded world total"),
                Col("gap_pct", _F, "100 × (listed − world) / world"),
                Col("gap_flag", _B, "|gap_pct| > 5 (DESIGN.md)"),
            ),
        ),
        TableSpec(
            "flags",
            "Dependency flags: CEPII GeoDep and an EU CRMA import indicator",
            ("year", "importer", "hs6"),
            (
                *_WHO,
                Col("hs6", _S, "HS6 product code"),
                _V,
                Col("coverage", _F, "named suppliers' share of V"),
                Col("import_hhi", _F, "HHI of the importer's suppliers"),
                Col("world_hhi", _F, "HHI of world exporters"),
                Col("exports_usd", _F, "the importer's own exports of the product"),
                Col("import_export_ratio", _F, "imports / exports (9999: none)"),
                Col("geodep_years", _N, "years of the window meeting all 3 criteria"),
                Col("years_checked", _N, "years of the window in the store"),
                Col("geodep_flag", _B, "GeoDep: criteria met in ≥ 2 of 3 years"),
                Col("top_supplier", _S, "ISO3 of the largest supplier"),
                Col("top_supplier_share", _F, "its share of V"),
                Col(
                    "crma_import_flag",
                    _B,
                    "CRMA indicator: one named supplier > 65 % of imports",
                ),
                Col("flag_note", _S, "why the flags are empty (insufficient coverage)"),
                Col("concern", _S, "registry group of concern"),
                Col("prc_share", _F, "share of the concern group"),
            ),
        ),
        _scenario_table(
            "scenario_products", "product", Col("hs6", _S, "HS6 product code")
        ),
        _scenario_table(
            "scenario_industries",
            "industry",
            Col("industry", _S, "defense-critical industry"),
        ),
        _exporter_table(),
        TableSpec(
            "coalitions",
            "Coalition league table: each group bans the concern's supply of the "
            "defense basket (friendshore coalitions)",
            ("coalition",),
            (
                Col("rank", pl.Int32(), "1: the smallest members' price rise"),
                Col("coalition", _S, "registry group"),
                Col("members", pl.List(_S), "ISO3 members as of the year"),
                Col("n_members", pl.Int32(), "number of members"),
                Col("import_value_usd", _F, "members' baseline imports, USD"),
                Col("concern_share", _F, "concern share of those imports"),
                Col("import_price_change_pct", _F, "members' import price change, %"),
                Col("cut_off_usd", _F, "imports of member markets left unsupplied"),
                Col(
                    "supplied_price_change_pct",
                    _F,
                    "price change over the markets still supplied, %",
                ),
                Col("consumer_surplus_change_usd", _F, "members' surplus change, USD"),
                Col(
                    "concern_export_value_change_pct",
                    _F,
                    "the concern's world export value change, %",
                ),
                Col(
                    "diverted_share",
                    _F,
                    "of the concern's baseline sales to the members, the part sold "
                    "elsewhere",
                ),
                Col("year", _Y, "calendar year"),
                Col("policy", _S, "ban | tariff t | cap s"),
                Col("eligible", _S, "who may add capacity: members | all"),
            ),
        ),
    )
}


def conform(name: str, df: pl.DataFrame) -> pl.DataFrame:
    """``df`` reduced to the documented columns of table ``name``, in order and type.

    Raises
    ------
    ExportError
        Unknown table, or the frame lacks documented columns (all listed).
    """
    spec = TABLES.get(name)
    if spec is None:
        raise ExportError(f"no report table called {name!r}")
    missing = [
        c.name for c in spec.columns if c.name not in df.columns and not c.optional
    ]
    if missing:
        raise ExportError(
            f"report table {name} lacks column(s) {', '.join(missing)}; "
            f"the engine returned {', '.join(df.columns)}"
        )
    try:
        return df.select(
            pl.col(c.name).cast(c.dtype)
            if c.name in df.columns
            else pl.lit(None, c.dtype).alias(c.name)
            for c in spec.columns
        )
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ExportError(f"report table {name}: {first}") from None


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows: the tables, what they describe, and provenance."""

    tables: Mapping[str, pl.DataFrame]
    metadata: Mapping[str, str]
    subject: str = "every importer"
    year: int | None = None
    concern: str = "prc"
    notes: Sequence[str] = field(default_factory=tuple)
    labels: Mapping[str, str] = field(default_factory=dict)  # hs6 → short name


@dataclass(frozen=True)
class WrittenFile:
    """One file of a written report."""

    path: Path
    table: str
    rows: int


def write_report(data: ReportData, out_dir: Path) -> list[WrittenFile]:
    """Write every table as ``<name>.parquet`` and the page as ``report.html``.

    Parameters
    ----------
    data
        The frames (keys from :data:`TABLES`) and the provenance metadata.
    out_dir
        Created if missing; files of the same names are replaced.
    """
    tables = {name: conform(name, df) for name, df in data.tables.items()}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(
            f"cannot create the report directory {out_dir}: {exc.strerror or exc}"
        ) from None
    # A table an earlier run wrote and this one has not (scenario_* without
    # --scenario): gone, so the folder holds one report. Only our own names.
    for name in TABLES.keys() - tables.keys():
        (out_dir / f"{name}.parquet").unlink(missing_ok=True)
    written: list[WrittenFile] = []
    for name, df in tables.items():
        meta = {**data.metadata, "friendshore.table": name}
        path = export.write_parquet(df, out_dir / f"{name}.parquet", meta)
        written.append(WrittenFile(path, name, df.height))
    page = render_html(replace(data, tables=tables))
    written.append(WrittenFile(export.write_text(page, out_dir / HTML_NAME), "html", 0))
    return written


# -- HTML ------------------------------------------------------------------------


def written_frame(written: Sequence[WrittenFile]) -> pl.DataFrame:
    """The written files as a table: ``file, table, rows``."""
    return pl.DataFrame(
        {
            "file": [str(w.path) for w in written],
            "table": [w.table for w in written],
            "rows": [w.rows for w in written],
        },
        schema={"file": pl.String, "table": pl.String, "rows": pl.Int64},
    )


def empty_note(
    data: ReportData, *, importer: str | None = None, bloc: str | None = None
) -> str | None:
    """What the report selected, when no trade flow matched (the page then shows
    no exposure); None when there is exposure to show."""
    exposure = [
        data.tables[name]
        for name in ("exposure_products", "exposure_industries")
        if name in data.tables
    ]
    if any(df.height for df in exposure):
        return None
    who = f"bloc {bloc}" if bloc else f"importer {importer}" if importer else ""
    asked = "; ".join(x for x in (who, f"year {data.year}") if x)
    return (
        f"report: no trade flows match ({asked}); the page shows no exposure. "
        "`friendshore info` lists the loaded years, sources and importers"
    )


@dataclass(frozen=True)
class Chart:
    """One chart of the page: an anchor id, a heading, a caption and its spec."""

    id: str
    title: str
    caption: str
    spec: dict[str, Any]


def report_charts(data: ReportData) -> list[Chart]:
    """The charts the available tables allow, in page order."""
    t, c = data.tables, data.concern
    out: list[Chart] = []
    if _has(t, "exposure_industries"):
        out.append(
            Chart(
                "prc-share-by-industry",
                f"{c.upper()} share by industry",
                "Import-value-weighted share of the concern group in each "
                "industry's inputs.",
                charts.prc_share_by_industry(t["exposure_industries"], c),
            )
        )
    if _has(t, "exposure_products"):
        out.append(
            Chart(
                "supplier-composition",
                "Where the most exposed products come from",
                f"Up to {charts.TOP_PRODUCTS} products with the most {c.upper()}-"
                "supplied import value, split by supplier tier.",
                charts.supplier_composition(t["exposure_products"], c, data.labels),
            )
        )
    if _has(t, "trends") and t["trends"]["year"].n_unique() > 1:
        out.append(
            Chart(
                "trends",
                "Trends across years",
                f"{c.upper()} share of each industry's inputs, year by year.",
                charts.trends(t["trends"], c),
            )
        )
    if _has(t, "coalitions"):
        out.append(
            Chart(
                "coalition-league",
                "Coalitions: who holds up best",
                "Each coalition bans the concern's supply of the defense basket "
                "together (one market-clearing run each); the bar is its members' "
                "import price change, smallest first. Grey: some member market "
                "keeps no supplier (its price is unbounded); the bar then shows "
                "the change where supply remains.",
                charts.coalition_league(t["coalitions"], c),
            )
        )
    if _has(t, "scenario_industries"):
        out.append(
            Chart(
                "scenario-before-after",
                "Scenarios: before and after",
                f"{c.upper()} share per coalition member and industry at baseline and "
                "after each scenario; the tooltip gives the import price and "
                "quantity change.",
                charts.scenario_before_after(t["scenario_industries"], c),
            )
        )
        out.append(
            Chart(
                "scenario-prices",
                "Scenarios: prices and volumes",
                "Import price and quantity change per coalition member and industry, "
                "members side by side (market clearing, DESIGN.md).",
                charts.scenario_prices(t["scenario_industries"]),
            )
        )
    return out


def _has(tables: Mapping[str, pl.DataFrame], name: str) -> bool:
    return name in tables and not tables[name].is_empty()


@cache
def _vega_bundle() -> tuple[str, str]:
    """(Vega-Lite version, the vega + vega-lite + vega-embed JavaScript bundle).

    The Vega-Lite version is the one altair writes specs for (``v6.4.1`` →
    ``v6_4``), so the inlined renderer reads exactly what the charts declare.
    """
    import altair as alt
    import vl_convert

    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    version = f"v{major}_{minor}"
    if f"{major}.{minor}" not in vl_convert.get_vegalite_versions():
        raise ExportError(
            f"vl-convert-python {vl_convert.__version__} cannot render Vega-Lite "  # type: ignore[attr-defined]  # not in its stub
            f"{alt.SCHEMA_VERSION}; upgrade vl-convert-python"
        )
    # the stub marks snippet as required; the function defaults it (vl-convert 1.7)
    return version, vl_convert.javascript_bundle(vl_version=version)  # type: ignore[call-arg]


def _json_script(obj: Any, element_id: str) -> str:
    # "</" would end the <script> element early; "<\/" is the same JSON string.
    text = json.dumps(obj, default=str, allow_nan=False).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; }
.sub, .caption { color: #555; } .chart { margin: .6rem 0 1rem; min-height: 4rem; }
.chart[data-error] { color: #b00; }
table { border-collapse: collapse; font-size: 13px; margin: .5rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
code { font-size: 12px; }
"""

# Draws every chart; marks each container so a reader (or a test) can see the
# outcome: data-rendered="true", or data-error with the message shown in place.
_EMBED = """
document.querySelectorAll("div.chart[data-spec]").forEach(function (div) {
  var spec = JSON.parse(document.getElementById(div.dataset.spec).textContent);
  vegaEmbed(div, spec, {actions: false, renderer: "svg"})
    .then(function () { div.dataset.rendered = "true"; })
    .catch(function (err) {
      div.dataset.error = String(err);
      div.textContent = "This chart could not be drawn: " + err;
      console.error(err);
    });
});
"""


def render_html(data: ReportData) -> str:
    """The self-contained report page (inline JavaScript, inline data)."""
    vl_version, bundle = _vega_bundle()
    bundle = bundle.replace("</script", "<\\/script")  # keep the element whole
    esc = html.escape
    year = f", {data.year}" if data.year is not None else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>friendshore report — {esc(data.subject)}{esc(year)}</title>",
        f"<style>{_STYLE}</style>",
        f"<script>/* vega, vega-lite {esc(vl_version)}, vega-embed */\n"
        f"{bundle}\n</script>",
        "</head><body>",
        f"<h1>Supply exposure of {esc(data.subject)}{esc(year)}</h1>",
        f'<p class="sub">Concern group: <b>{esc(data.concern)}</b>. '
        f"Made by friendshore {esc(data.metadata.get('friendshore.version', '?'))} "
        f"on {esc(data.metadata.get('friendshore.created_at', '?'))}.</p>",
    ]
    parts.extend(f'<p class="sub">{esc(n)}</p>' for n in data.notes)
    for chart in report_charts(data):
        spec_id = f"spec-{chart.id}"
        parts += [
            f'<section id="{chart.id}"><h2>{esc(chart.title)}</h2>',
            f'<p class="caption">{esc(chart.caption)}</p>',
            f'<div class="chart" data-spec="{spec_id}"></div>',
            _json_script(chart.spec, spec_id),
            "</section>",
        ]
    parts += _tables_section(data.tables, data.labels)
    parts += _provenance_section(data.metadata)
    parts += [f"<script>{_EMBED}</script>", "</body></html>"]
    return "\n".join(parts) + "\n"


def _html_table(df: pl.DataFrame, limit: int = 15) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    rows = []
    for row in df.head(limit).iter_rows():
        cells = []
        for v in row:
            if isinstance(v, float):
                text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
                cells.append(f'<td class="num">{text}</td>')
            elif isinstance(v, bool):
                cells.append(f"<td>{'yes' if v else ''}</td>")
            else:
                cells.append(f"<td>{esc('' if v is None else str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f"<p class='sub'>First {limit} of {df.height} rows; all in the Parquet file.</p>"
        if df.height > limit
        else ""
    )
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{more}"
    )


def _with_labels(df: pl.DataFrame, labels: Mapping[str, str]) -> pl.DataFrame:
    """A ``product`` column (``hs6`` and its short name) right after ``hs6``."""
    named = pl.col("hs6").replace_strict(
        dict(labels), default="", return_dtype=pl.String
    )
    product = (
        pl.concat_str("hs6", pl.lit(" "), named).str.strip_chars().alias("product")
    )
    cols = [product if c == "hs6" else pl.col(c) for c in df.columns]
    return df.select(cols)


def _tables_section(
    tables: Mapping[str, pl.DataFrame], labels: Mapping[str, str]
) -> list[str]:
    parts = ['<section id="tables"><h2>Tables</h2>']
    if _has(tables, "exposure_products"):
        top = charts.most_exposed_products(tables["exposure_products"])
        cols = [
            "importer",
            "hs6",
            "import_value_usd",
            "prc_share",
            "lookthrough_prc_share",
            "top_supplier",
            "top_supplier_share",
            "hhi",
        ]
        shown = _with_labels(top.select(c for c in cols if c in top.columns), labels)
        parts += ["<h3>Most exposed products</h3>", _html_table(shown)]
    if _has(tables, "flags"):
        flags = tables["flags"]
        if {"geodep_flag", "crma_import_flag"} <= set(flags.columns):
            flags = flags.filter(pl.col("geodep_flag") | pl.col("crma_import_flag"))
        cols = [
            "importer",
            "hs6",
            "geodep_flag",
            "crma_import_flag",
            "import_hhi",
            "world_hhi",
            "import_export_ratio",
            "top_supplier",
            "top_supplier_share",
        ]
        shown = _with_labels(
            flags.select(c for c in cols if c in flags.columns), labels
        )
        parts += [
            "<h3>Dependency flags</h3>",
            "<p class='caption'>Products flagged by CEPII GeoDep (import HHI &gt; 0.4, "
            "world-export HHI &gt; 0.4, imports &gt; exports, in 2 of 3 years) or by "
            "the EU CRMA import indicator (one named supplier above 65 % of imports; "
            "the Art. 5(1)(b) benchmark itself is about consumption).</p>",
            _html_table(shown, 25),
        ]
    files = pl.DataFrame(
        {
            "file": [f"{n}.parquet" for n in tables],
            "rows": [df.height for df in tables.values()],
            "contents": [TABLES[n].doc for n in tables],
        },
        schema={"file": pl.String, "rows": pl.Int64, "contents": pl.String},
    )
    parts += ["<h3>Files beside this page</h3>", _html_table(files, 50), "</section>"]
    return parts


def _provenance_section(meta: Mapping[str, str]) -> list[str]:
    esc = html.escape
    rows = "".join(
        f"<tr><th>{esc(k.removeprefix('friendshore.'))}</th><td><code>{esc(v)}</code></td></tr>"
        for k, v in meta.items()
        if k != "friendshore.loads"
    )
    parts = ['<section id="provenance"><h2>Provenance</h2>', f"<table>{rows}</table>"]
    loads = json.loads(meta.get("friendshore.loads", "[]"))
    if loads:
        parts += [
            "<h3>Source files</h3>",
            _html_table(pl.DataFrame(loads).cast(pl.String), 500),
        ]
    parts += [_json_script(dict(meta), "provenance"), "</section>"]
    return parts


# -- provenance and the engines ---------------------------------------------------


def build_report(
    store: Store,
    *,
    importer: str | None = None,
    bloc: str | None = None,
    year: int | None = None,
    scenarios: Iterable[Path] = (),
    concern: str = "prc",
    coalitions: bool = False,
) -> ReportData:
    """Compute every report table with the engines, with provenance.

    Products are the industry map's HS6 inputs (the defense basket), in every HS
    revision the store holds.

    Parameters
    ----------
    store
        A store with trade flows (and USGS production for that table).
    importer, bloc
        One ISO3 importer or one registry group; neither means every importer.
    year
        Year of the snapshot tables (default: the latest year in ``trade_flows``).
    scenarios
        Scenario TOML files to simulate; adds the ``scenario_*`` tables.
    concern
        Registry group of concern.
    coalitions
        Add the ``coalitions`` league table (every alliance and partnership of
        two or more members banning the concern's supply of the defense basket).

    Raises
    ------
    ParameterError
        Both importer and bloc, no trade flows, or a year the store lacks.
    """
    if importer and bloc:
        raise ParameterError("give --importer or --bloc, not both")
    from friendshore.engines import concentration, exposure, flags, trend
    from friendshore.reference.industries import load_industries
    from friendshore.reference.registry import load_registry
    from friendshore.selection import industry_codes

    years = [
        int(r[0])
        for r in store.fetchall("SELECT DISTINCT year FROM trade_flows ORDER BY 1")
    ]
    if not years:
        raise ParameterError("the store holds no trade flows; load some first")
    year = years[-1] if year is None else year
    if year not in years:
        raise ParameterError(
            f"--year {year}: the store holds trade flows for {_span(years)}"
        )
    registry, industries = load_registry(), load_industries()
    revisions = [
        r[0] for r in store.fetchall("SELECT DISTINCT hs_revision FROM trade_flows")
    ]
    # Labels name products as the revision of the year shown does (HS2022 811292
    # lost hafnium and rhenium): that year's revisions, newest first.
    shown = [
        r[0]
        for r in store.fetchall(
            "SELECT DISTINCT hs_revision FROM trade_flows WHERE year = $year "
            "ORDER BY hs_revision DESC",
            {"year": year},
        )
    ]
    basket = sorted(set(industry_codes(industries, None, revisions)["hs6"]))
    who: dict[str, Any] = {
        "importer": importer,
        "bloc": bloc,
        "concern": concern,
        "registry": registry,
        "industries": industries,
    }
    tables: dict[str, pl.DataFrame] = {
        "exposure_products": exposure.product_exposure(
            store, year=year, hs=basket, lookthrough=True, **who
        ),
        "exposure_industries": exposure.industry_exposure(store, year=year, **who),
        "trends": exposure.industry_exposure(
            store, years=[y for y in years if y <= year], **who
        ),
        "world_concentration": concentration.world_concentration(
            store, year=year, hs=basket, concern=concern, registry=registry
        ),
        "production_concentration": concentration.production_concentration(store),
        "flags": flags.dependency_flags(store, year=year, hs=basket, **who),
    }
    if years[0] < year:
        tables["trend_products"] = trend.trend(
            store, start=years[0], end=year, level="product", hs=basket, **who
        )
    paths = [Path(p) for p in scenarios]
    if paths:
        from friendshore.engines.scenarios import simulate
        from friendshore.engines.scenarios.model import load_scenario

        runs = [load_scenario(p) for p in paths]
        common: dict[str, Any] = {"registry": registry, "industries": industries}
        tables["scenario_products"] = simulate.simulate(store, runs, **common)
        tables["scenario_industries"] = simulate.simulate(
            store, runs, level="industry", **common
        )
        tables["scenario_exporters"] = simulate.simulate(
            store, runs, by="exporter", **common
        )
    notes = list(_data_notes(store))
    if coalitions:
        from friendshore.engines.scenarios.coalitions import coalitions as league

        try:
            tables["coalitions"], _ = league(
                store,
                year=year,
                industry="all",
                concern=concern,
                registry=registry,
                industries=industries,
            )
        except ParameterError as exc:  # the basket has no trade in the year
            notes.append(f"No coalition league table: {exc}")
    params = {
        "importer": importer,
        "bloc": bloc,
        "year": year,
        "concern": concern,
        "scenarios": [p.name for p in paths],
    }
    if coalitions:
        params["coalitions"] = True
    meta = export.provenance(store, "report", params, registry_version=registry.version)
    return ReportData(
        tables,
        meta,
        subject=_subject(importer, bloc),
        year=year,
        concern=concern,
        notes=tuple(notes),
        labels=_labels(industries, shown),
    )


def _span(years: Sequence[int]) -> str:
    return f"{years[0]}–{years[-1]}" if len(years) > 1 else str(years[0])


def _data_notes(store: Store) -> tuple[str, ...]:
    """One line saying which sources and years the store holds."""
    rows = store.fetchall(
        """SELECT source, min(year), max(year) FROM trade_flows GROUP BY ALL
           UNION ALL
           SELECT 'USGS ' || min(edition) || '–' || max(edition), min(year), max(year)
           FROM production HAVING count(*) > 0
           ORDER BY 1"""
    )
    parts = [f"{src} {_span([lo, hi] if hi != lo else [lo])}" for src, lo, hi in rows]
    return (f"Data: {'; '.join(parts)}.",) if parts else ()


def _labels(industries: Any, revisions: Sequence[str]) -> dict[str, str]:
    """hs6 → the industry map's material (first seen), for chart and table labels."""
    frames = [industries.products(None, rev) for rev in revisions]
    if not frames:
        return {}
    rows = pl.concat(frames).unique("hs6", keep="first").sort("hs6")
    return dict(zip(rows["hs6"], rows["material"], strict=True))


def _subject(importer: str | None, bloc: str | None) -> str:
    if bloc:
        return f"the {bloc} bloc"
    if not importer:
        return "every importer"
    from friendshore.reference import countries

    code = importer.strip().upper()
    known = countries.lookup(code)
    return f"{known.name} ({code})" if known else code
