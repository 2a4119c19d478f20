"""The report writer: Parquet read back with pyarrow, the HTML parsed."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from friendshore import report
from friendshore.errors import ExportError

FRAMES = Path(__file__).resolve().parent / "fixtures" / "report" / "frames.json"

META = {
    "friendshore.version": "0.1.0",
    "friendshore.command": "report",
    "friendshore.params": '{"importer": "USA", "year": 2022}',
    "friendshore.created_at": "2025-03-01T12:00:00+00:00",
    "friendshore.loads": json.dumps(
        [
            {
                "source": "usgs",
                "file_name": "mcs2024-raree_world.csv",
                "sha256": "ab" * 32,
            }
        ]
    ),
    "friendshore.registry_version": "2026-11-27+a90f17c21c00",
}

# The documented schemas (README "Report tables"), written out independently of
# friendshore.report.TABLES: a change to either must be deliberate.
S, F, Y, N, B = pa.large_string(), pa.float64(), pa.int16(), pa.int64(), pa.bool_()
TIERS = [
    ("concern", S),
    ("prc_share", F),
    ("hhi", F),
    ("hhi_max", F),
    ("coverage", F),
    ("ally_share", F),
    ("partner_share", F),
    ("other_share", F),
]
PROVENANCE = [("source", S), ("hs_revision", S), ("basis", S), ("vintage", S)]
SCENARIO_METRICS = [
    ("stat", S),
    ("import_value_usd", F),
    ("scenario_import_value_usd", F),
    ("import_price_change_pct", F),
    ("import_quantity_change_pct", F),
    ("concern_share", F),
    ("scenario_concern_share", F),
    ("hhi", F),
    ("scenario_hhi", F),
    ("consumer_surplus_change_usd", F),
    ("reshored_usd", F),
    ("quota_rent_usd", F),
    ("import_t", F),
    ("scenario_import_t", F),
]
DOCUMENTED = {
    "exposure_products": [
        ("year", Y),
        ("importer", S),
        ("hs6", S),
        ("import_value_usd", F),
        ("n_suppliers", N),
        ("top_supplier", S),
        ("top_supplier_share", F),
        *TIERS,
        ("lookthrough_prc_share", F),
        ("lookthrough_coverage", F),
        *PROVENANCE,
    ],
    "exposure_industries": [
        ("year", Y),
        ("importer", S),
        ("industry", S),
        ("import_value_usd", F),
        ("n_products", N),
        *TIERS,
        ("top_supplier_share", F),
        ("top_prc_hs6", S),
        ("top_prc_share", F),
        *PROVENANCE,
    ],
    "trends": [
        ("year", Y),
        ("importer", S),
        ("industry", S),
        ("import_value_usd", F),
        *TIERS,
        ("source", S),
        ("hs_revision", S),
    ],
    "trend_products": [
        ("importer", S),
        ("hs6", S),
        ("year_from", Y),
        ("year_to", Y),
        ("import_value_usd_from", F),
        ("import_value_usd_to", F),
        ("import_value_change", F),
        ("prc_share_from", F),
        ("prc_share_to", F),
        ("prc_share_change", F),
        ("hhi_from", F),
        ("hhi_to", F),
        ("hhi_change", F),
        ("hs_revision_from", S),
        ("hs_revision_to", S),
    ],
    "world_concentration": [
        ("year", Y),
        ("hs6", S),
        ("world_exports_usd", F),
        ("n_exporters", N),
        ("hhi", F),
        ("hhi_max", F),
        ("coverage", F),
        ("top_exporter", S),
        ("top_share", F),
        ("concern", S),
        ("prc_share", F),
        ("source", S),
        ("hs_revision", S),
    ],
    "production_concentration": [
        ("edition", S),
        ("commodity", S),
        ("stage", S),
        ("year", Y),
        ("series", S),
        ("unit", S),
        ("listed_total", F),
        ("hhi", F),
        ("hhi_max", F),
        ("coverage", F),
        ("concern", S),
        ("prc_share", F),
        ("top_country", S),
        ("top_share", F),
        ("n_producers", N),
        ("n_withheld", N),
        ("world_total", F),
        ("gap_pct", F),
        ("gap_flag", B),
    ],
    "flags": [
        ("year", Y),
        ("importer", S),
        ("hs6", S),
        ("import_value_usd", F),
        ("coverage", F),
        ("import_hhi", F),
        ("world_hhi", F),
        ("exports_usd", F),
        ("import_export_ratio", F),
        ("geodep_years", N),
        ("years_checked", N),
        ("geodep_flag", B),
        ("top_supplier", S),
        ("top_supplier_share", F),
        ("crma_import_flag", B),
        ("flag_note", S),
        ("concern", S),
        ("prc_share", F),
    ],
    "scenario_products": [
        ("scenario", S),
        ("coalition", S),
        ("importer", S),
        ("year", Y),
        ("hs6", S),
        *SCENARIO_METRICS,
    ],
    "scenario_industries": [
        ("scenario", S),
        ("coalition", S),
        ("importer", S),
        ("year", Y),
        ("industry", S),
        *SCENARIO_METRICS,
    ],
    "scenario_exporters": [
        ("scenario", S),
        ("coalition", S),
        ("exporter", S),
        ("year", Y),
        ("hs6", S),
        ("stat", S),
        ("export_value_usd", F),
        ("scenario_export_value_usd", F),
        ("price_change_pct", F),
        ("export_quantity_change_pct", F),
        ("producer_surplus_change_usd", F),
        ("export_t", F),
        ("scenario_export_t", F),
    ],
}


def crafted() -> dict[str, pl.DataFrame]:
    """The crafted engine outputs of tests/fixtures/report/frames.json."""
    raw = json.loads(FRAMES.read_text(encoding="utf-8"))
    return {
        name: pl.DataFrame(t["rows"], schema=t["columns"], orient="row")
        for name, t in raw.items()
    }


def fixture_rows(name: str) -> list[dict[str, Any]]:
    raw = json.loads(FRAMES.read_text(encoding="utf-8"))[name]
    return [dict(zip(raw["columns"], row, strict=True)) for row in raw["rows"]]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    data = report.ReportData(crafted(), META, subject="USA", year=2022)
    report.write_report(data, out)
    return out


# -- Parquet ------------------------------------------------------------------------


def test_every_table_and_the_page_are_written(written: Path) -> None:
    names = sorted(p.name for p in written.iterdir())
    assert names == sorted([*(f"{t}.parquet" for t in crafted()), "report.html"])


@pytest.mark.parametrize("name", list(json.loads(FRAMES.read_text())))
def test_parquet_columns_and_types_are_the_documented_ones(
    written: Path, name: str
) -> None:
    schema = pq.read_schema(written / f"{name}.parquet")
    assert [(f.name, f.type) for f in schema] == DOCUMENTED[name]


def test_spec_and_documented_schemas_agree() -> None:
    # Includes scenario_products, which the crafted frames do not cover.
    for name, cols in DOCUMENTED.items():
        empty = report.conform(name, pl.DataFrame(schema=report.TABLES[name].schema))
        assert [(f.name, f.type) for f in empty.to_arrow().schema] == cols, name


@pytest.mark.parametrize("name", list(json.loads(FRAMES.read_text())))
def test_parquet_metadata_is_the_provenance_plus_table_name(
    written: Path, name: str
) -> None:
    f = pq.ParquetFile(written / f"{name}.parquet")
    meta = {
        k.decode(): v.decode()
        for k, v in f.schema_arrow.metadata.items()
        if k.startswith(b"friendshore.")
    }
    assert meta == {**META, "friendshore.table": name}
    codecs = {
        f.metadata.row_group(0).column(i).compression
        for i in range(f.metadata.num_columns)
    }
    assert codecs == {"ZSTD"}


def test_parquet_values_round_trip(written: Path) -> None:
    got = pq.read_table(written / "exposure_products.parquet").to_pylist()
    assert got == fixture_rows("exposure_products")
    scen = pq.read_table(written / "scenario_industries.parquet").to_pylist()
    assert [r["stat"] for r in scen] == [None, None]  # deterministic: no draws
    assert [r["import_price_change_pct"] for r in scen] == [21.5, 6.1]
    assert [r["import_t"] for r in scen] == [150.0, None]


def test_conform_lists_every_missing_column_and_drops_extras() -> None:
    full = crafted()["trend_products"]
    df = full.drop("hhi_from", "year_to").with_columns(x=pl.lit(1))
    with pytest.raises(ExportError) as err:
        report.conform("trend_products", df)
    assert str(err.value) == (
        "report table trend_products lacks column(s) year_to, hhi_from; the engine "
        "returned importer, hs6, year_from, import_value_usd_from, import_value_usd_to, "
        "import_value_change, prc_share_from, prc_share_to, prc_share_change, hhi_to, "
        "hhi_change, hs_revision_from, hs_revision_to, x"
    )
    ok = report.conform("trend_products", full.with_columns(x=pl.lit(1)))
    assert ok.columns == [c for c, _ in DOCUMENTED["trend_products"]]


def test_conform_refuses_values_that_do_not_fit_the_type() -> None:
    df = crafted()["trends"].with_columns(year=pl.lit(70000))  # beyond SMALLINT
    with pytest.raises(ExportError, match=r"^report table trends: "):
        report.conform("trends", df)


def test_a_failed_write_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file where the directory should be")
    data = report.ReportData({"flags": crafted()["flags"]}, META)
    with pytest.raises(
        ExportError, match=r"^cannot create the report directory .*/out: File exists$"
    ):
        report.write_report(data, blocker)


# -- HTML ------------------------------------------------------------------------------


class Page(HTMLParser):
    """Every element with its attributes, and the text of each <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self._in: tuple[str, dict[str, str | None]] | None = None
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._in, self._buf = (tag, dict(attrs)), []

    def handle_data(self, data: str) -> None:
        if self._in:
            self._buf.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._in and tag == self._in[0]:
            text = "".join(self._buf)
            if tag == "script":
                self.scripts.append((self._in[1], text))
            else:
                self.styles.append(text)
            self._in = None

    def json_scripts(self) -> dict[str, Any]:
        return {
            str(a["id"]): json.loads(text)
            for a, text in self.scripts
            if a.get("type") == "application/json"
        }


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def inline_values(spec: Any) -> list[dict[str, Any]]:
    """Every row of every inline dataset in a Vega-Lite spec."""
    rows: list[dict[str, Any]] = []
    if isinstance(spec, dict):
        data = spec.get("data")
        if isinstance(data, dict) and "values" in data:
            rows.extend(data["values"])
        for key, value in spec.items():
            if key == "datasets":
                for values in value.values():
                    rows.extend(values)
            elif key != "data":
                rows.extend(inline_values(value))
    elif isinstance(spec, list):
        for item in spec:
            rows.extend(inline_values(item))
    return rows


def test_page_loads_nothing_from_outside(written: Path) -> None:
    page = parse(written / "report.html")
    for tag, attrs in page.elements:
        assert tag not in {"link", "iframe", "img", "object", "embed"}, tag
        for key in ("src", "href", "srcset", "action", "data"):
            assert key not in attrs, (tag, attrs)
    assert not any("url(" in s or "@import" in s for s in page.styles)
    # Two scripts: the vega bundle and the embedding code, both inline.
    code = [text for attrs, text in page.scripts if attrs.get("type") is None]
    assert len(code) == 2
    assert "vegaEmbed" in code[0] and len(code[0]) > 500_000
    # No script fetches: the bundle is not loaded lazily and the specs have no url data.
    for spec in page.json_scripts().values():
        assert '"url"' not in json.dumps(spec)


def test_every_chart_has_a_container_and_its_spec(written: Path) -> None:
    page = parse(written / "report.html")
    containers = [
        a["data-spec"] for t, a in page.elements if t == "div" and "data-spec" in a
    ]
    assert containers == [
        "spec-prc-share-by-industry",
        "spec-supplier-composition",
        "spec-trends",
        "spec-scenario-before-after",
        "spec-scenario-prices",
    ]
    specs = page.json_scripts()
    assert set(containers) <= set(specs)


def test_industry_chart_holds_every_industry_share(written: Path) -> None:
    spec = parse(written / "report.html").json_scripts()["spec-prc-share-by-industry"]
    got = {(r["industry"], r["prc_share"]) for r in inline_values(spec)}
    assert got == {
        (r["industry"], r["prc_share"]) for r in fixture_rows("exposure_industries")
    }
    assert spec["mark"]["type"] == "bar"  # one importer: bars, not a heat map


def test_composition_chart_ranks_by_concern_supplied_value(written: Path) -> None:
    spec = parse(written / "report.html").json_scripts()["spec-supplier-composition"]
    rows = inline_values(spec)
    # PRC-supplied value by hand: 850760 0.35×8.0M = 2.8M; 850511 0.6×1.0M = 0.6M;
    # 810820 0.1×5.0M = 0.5M; 282530 1.0×0.3M = 0.3M; 280530 0.3×0.2M = 0.06M.
    assert spec["encoding"]["y"]["sort"] == [
        "850760",
        "850511",
        "810820",
        "282530",
        "280530",
    ]
    shares = {(r["product"], r["tier"]): r["share"] for r in rows}
    assert shares[("850760", "concern")] == 0.35
    assert shares[("850760", "ally")] == 0.55
    assert shares[("282530", "concern")] == 1.0
    assert shares[("810820", "other")] == 0.1
    assert len(rows) == 5 * 4


def test_trend_and_scenario_charts_hold_their_data(written: Path) -> None:
    specs = parse(written / "report.html").json_scripts()
    trend = inline_values(specs["spec-trends"])
    assert sorted((r["year"], r["industry"], r["prc_share"]) for r in trend) == sorted(
        (r["year"], r["industry"], r["prc_share"]) for r in fixture_rows("trends")
    )
    scen = inline_values(specs["spec-scenario-before-after"])
    after = {(r["case"], r["when"]): r["share"] for r in scen if "when" in r}
    case = "US magnets: cap PRC at 20 % · USA · permanent-magnets"
    assert after[(case, "before")] == 0.55
    assert after[(case, "after")] == 0.2
    bars = inline_values(specs["spec-scenario-prices"])
    change = {(r["case"], r["measure"]): r["change"] for r in bars if "measure" in r}
    assert change[(case, "import price")] == 21.5
    assert change[(case, "import quantity")] == -11.2


def test_provenance_is_on_the_page(written: Path) -> None:
    page = parse(written / "report.html")
    assert page.json_scripts()["provenance"] == META
    text = (written / "report.html").read_text(encoding="utf-8")
    assert "<td>mcs2024-raree_world.csv</td>" in text
    assert "<title>friendshore report — USA, 2022</title>" in text


def test_hostile_names_are_escaped(tmp_path: Path) -> None:
    evil = "</script><script>alert(1)</script>"
    frames = crafted()
    frames["exposure_industries"] = frames["exposure_industries"].with_columns(
        industry=pl.lit(evil)
    )
    frames["flags"] = frames["flags"].with_columns(detail=pl.lit(evil))
    report.write_report(report.ReportData(frames, META, subject=evil), tmp_path)
    page = parse(tmp_path / "report.html")
    # Still exactly the bundle, the embed code and the JSON blocks: nothing injected.
    assert not any(
        "alert(1)" in text for a, text in page.scripts if a.get("type") is None
    )
    spec = page.json_scripts()["spec-prc-share-by-industry"]
    assert {r["industry"] for r in inline_values(spec)} == {evil}


def test_many_importers_give_a_heat_map_of_the_largest(tmp_path: Path) -> None:
    base = crafted()
    importers = ["USA", "JPN", "DEU", "FRA", "GBR", "KOR", "ITA", "CAN"]
    ind = pl.concat(
        base["exposure_industries"].with_columns(
            importer=pl.lit(iso), import_value_usd=pl.col("import_value_usd") * (10 - i)
        )
        for i, iso in enumerate(importers)
    )
    trends = pl.concat(
        base["trends"].with_columns(
            importer=pl.lit(iso), import_value_usd=pl.col("import_value_usd") * (10 - i)
        )
        for i, iso in enumerate(importers)
    )
    report.write_report(
        report.ReportData({"exposure_industries": ind, "trends": trends}, META),
        tmp_path,
    )
    specs = parse(tmp_path / "report.html").json_scripts()
    heat = specs["spec-prc-share-by-industry"]
    assert heat["mark"]["type"] == "rect"
    # Six largest by import value; ITA and CAN (factors 4 and 3) are left out.
    assert {r["importer"] for r in inline_values(heat)} == set(importers[:6])
    assert "facet" in specs["spec-trends"]
    assert {r["importer"] for r in inline_values(specs["spec-trends"])} == set(
        importers[:6]
    )


def test_empty_note_says_what_matched_nothing() -> None:
    # The rule the report command prints (the library's): a note only when no
    # exposure table has a row, naming the importer or bloc and the year.
    empty = pl.DataFrame({"year": []}, schema={"year": pl.Int16})
    none = report.ReportData(
        tables={"exposure_products": empty, "exposure_industries": empty},
        metadata={},
        year=2022,
    )
    tail = (
        "; the page shows no exposure. `friendshore info` lists the loaded years, "
        "sources and importers"
    )
    assert report.empty_note(none, bloc="eu") == (
        "report: no trade flows match (bloc eu; year 2022)" + tail
    )
    assert report.empty_note(none, importer="USA") == (
        "report: no trade flows match (importer USA; year 2022)" + tail
    )
    assert report.empty_note(none) == "report: no trade flows match (year 2022)" + tail
    some = report.ReportData(
        tables={
            "exposure_products": empty,
            "exposure_industries": pl.DataFrame({"a": [1]}),
        },
        metadata={},
    )
    assert report.empty_note(some, importer="USA") is None


def test_written_frame_lists_each_file() -> None:
    written = [
        report.WrittenFile(Path("r/flags.parquet"), "flags", 3),
        report.WrittenFile(Path("r/report.html"), "report.html", 0),
    ]
    assert report.written_frame(written).rows() == [
        ("r/flags.parquet", "flags", 3),
        ("r/report.html", "report.html", 0),
    ]
    assert report.written_frame([]).schema == {
        "file": pl.String,
        "table": pl.String,
        "rows": pl.Int64,
    }
