"""The columns each command's terminal table shows by default, in one place.

A person reads these first; every other column is behind ``--wide`` and always in
``--format csv|json|parquet`` (values as stored there: shares 0–1, US dollars).
A column a view names that the frame lacks is skipped, and a column the frame has
that no view names stays under ``--wide`` (or, for a view with ``rest``, follows
the named ones): to place a new engine column, add it to the view here.

Units: ``pct`` shows a 0–1 share as a percentage, ``musd`` US dollars in
millions, ``fixed3`` an index on 0–1 (HHI) with three decimals, ``fixed1`` a
figure already in % with one decimal.
"""

from __future__ import annotations

from .render import Col, View

_IMPORTS = Col("import_value_usd", "musd", "imports $M")
_CONCERN = Col("prc_share", "pct", "concern %")
_HHI = Col("hhi", "fixed3")
_HHI_MAX = Col("hhi_max", "fixed3", "hhi max")
_NAMED = Col("coverage", "pct", "named %")  # named suppliers' share of the value
_ALLY = Col("ally_share", "pct", "ally %")
_PARTNER = Col("partner_share", "pct", "partner %")
_LOOKTHROUGH = Col("lookthrough_prc_share", "pct", "lookthrough %")

EXPOSURE_PRODUCT = View.of(
    "year",
    "importer",
    "hs6",
    _IMPORTS,
    _CONCERN,
    _LOOKTHROUGH,
    _NAMED,
    _HHI,
    _HHI_MAX,
    Col("top_supplier", label="top"),
    Col("top_supplier_share", "pct", "top %"),
    Col("n_suppliers", label="named"),
    _ALLY,
    _PARTNER,
    keep=3,
)
EXPOSURE_INDUSTRY = View.of(
    "year",
    "importer",
    "industry",
    _IMPORTS,
    Col("n_products", label="products"),
    _CONCERN,
    _LOOKTHROUGH,
    _NAMED,
    _HHI,
    _HHI_MAX,
    Col("top_prc_hs6", label="top prc hs6"),
    Col("top_prc_share", "pct", "its prc %"),
    _ALLY,
    _PARTNER,
    keep=3,
)
WORLD_CONCENTRATION = View.of(
    "year",
    "hs6",
    Col("world_exports_usd", "musd", "exports $M"),
    Col("n_exporters", label="exporters"),
    _NAMED,
    _HHI,
    _HHI_MAX,
    Col("top_exporter", label="top"),
    Col("top_share", "pct", "top %"),
    _CONCERN,
    keep=2,
)
PRODUCTION_CONCENTRATION = View.of(
    "edition",
    "commodity",
    "stage",
    "year",
    "unit",
    Col("listed_total", label="listed total"),
    Col("prc_share", "pct", "concern %"),
    Col("top_country", label="top"),
    Col("top_share", "pct", "top %"),
    _HHI,
    Col("world_total", label="world total"),
    Col("gap_pct", "fixed1", "gap %"),
    Col("gap_flag", label="gap>5%"),
    Col("series", wrap=True),
    keep=4,
)
TREND = View.of(
    "importer",
    "hs6",
    "industry",
    Col("year_from", label="from"),
    Col("year_to", label="to"),
    Col("import_value_usd_from", "musd", "$M from"),
    Col("import_value_usd_to", "musd", "$M to"),
    Col("import_value_change", "pct", "value Δ %"),
    Col("prc_share_from", "pct", "concern % from"),
    Col("prc_share_to", "pct", "to"),
    Col("prc_share_change", "pct", "Δ pts"),
    Col("hhi_from", "fixed3", "hhi from"),
    Col("hhi_to", "fixed3", "hhi to"),
    keep=3,
)
FLAGS = View.of(
    "year",
    "importer",
    "hs6",
    "industry",
    _IMPORTS,
    Col("geodep_flag", label="geodep"),
    Col("crma_import_flag", label="crma imp"),
    _NAMED,
    Col("import_hhi", "fixed3", "import hhi"),
    Col("world_hhi", "fixed3", "world hhi"),
    Col("import_export_ratio", label="imp/exp"),
    Col("geodep_years", label="years"),
    Col("top_supplier", label="top"),
    Col("top_supplier_share", "pct", "top %"),
    _CONCERN,
    Col("flag_note", label="note", wrap=True),
    keep=3,
)
CRMA = View.of(
    "year",
    "bloc",
    "material",
    "stage",
    "edition",
    Col("crma_flag", label="crma"),
    Col("top_third_country", label="top"),
    Col("top_consumption_share", "pct", "top %"),
    Col("apparent_consumption_t", label="consumption t"),
    Col("quantity_coverage", "pct", "qty cov %"),
    Col("note", wrap=True),
    keep=3,
)
# simulate's default columns are its own TABLE_COLUMNS (friendshore/cli/simulate.py).

# Not the seconds: they differ from run to run (in --wide and csv).
LOAD = View.of("file", "source", "status", "rows", "years", Col("note", wrap=True))
INFO = {
    "store": View.of("path", "size_bytes", "schema_version"),
    "trade_flows": View.of(
        "source",
        "year",
        "hs_revision",
        "rows",
        "importers",
        "exporters",
        "products",
        Col("value_usd", "musd", "value $M"),
        keep=2,
    ),
    "production": View.of("source", "edition", "year", "rows", "commodities", keep=3),
    "loads": View.of("load_id", "source", "file_name", "rows", "years", keep=3),
}

REGISTRY_LIST = View.of("group", "kind", "tier", "members", Col("title", wrap=True))
REGISTRY_SHOW = View.of(
    "iso3", "name", "role", "since", "until", Col("note", wrap=True), keep=2
)
REGISTRY_COUNTRY = View.of(
    "iso3", "group", "kind", "role", "since", "until", "member", "tier", keep=2
)
INDUSTRIES_LIST = View.of(
    "industry",
    "title",
    Col("inputs_hs2022", label="inputs"),
    Col("materials", wrap=True),
)
INDUSTRIES_SHOW = View.of(
    "hs6",
    "material",
    "stage",
    "scope",
    Col("upstream", wrap=True),
    Col("description", wrap=True),
)

# friendshore.demo.run_demo's tables, by the start of their titles.
DEMO = {
    "China's share of world production": View.of(
        "commodity",
        "stage",
        Col("series", wrap=True),
        "edition",
        "year",
        Col("china_pct", "fixed1", "china %"),
        Col("top_country", label="top"),
        Col("top_pct", "fixed1", "top %"),
        Col("hhi", "fixed3"),
        Col("gap_vs_world_pct", "fixed1", "gap %"),
        keep=2,
    ),
    "US exposure to the PRC by defense industry": View.of(
        "industry",
        "year",
        Col("imports_musd", "fixed1", "imports $M"),
        Col("n_products", label="products"),
        Col("prc_pct", "fixed1", "prc %"),
        Col("hhi", "fixed3"),
        Col("named_pct", "fixed1", "named %"),
        Col("top_prc_hs6", label="top prc hs6"),
        keep=2,
    ),
}
