"""The exposure, concentration, trend and flags commands (exit codes, exact errors)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest

from friendshore.store import Store

from .test_exposure import insert_flows

ROOT = Path(__file__).resolve().parent.parent
RAREE_2024 = ROOT / "data" / "sources" / "usgs" / "mcs2024" / "mcs2024-raree_world.csv"

FLOWS = [
    (2021, "CHN", "USA", "850511", 900.0),
    (2021, "JPN", "USA", "850511", 100.0),
    (2022, "CHN", "USA", "850511", 600.0),
    (2022, "JPN", "USA", "850511", 300.0),
    (2022, "DEU", "USA", "850511", 100.0),
    (2022, "CHN", "USA", "280530", 40.0),
    (2022, "CHN", "DEU", "850511", 10.0),
]


@pytest.fixture
def flows_db(db_path: Path) -> Path:
    with Store(db_path) as s:
        insert_flows(s, FLOWS)
    return db_path


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_exposure_csv_for_one_importer(cli, flows_db: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("exposure", "--importer", "usa", "--hs", "850511", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    (row,) = _csv(r.stdout)
    # CHN 600, JPN 300, DEU 100: HHI 0.46, prc 0.6, allies (JPN, DEU) 0.4.
    assert (row["year"], row["importer"], row["top_supplier"]) == ("2022", "USA", "CHN")
    assert float(row["hhi"]) == pytest.approx(0.46)
    assert float(row["prc_share"]) == pytest.approx(0.6)
    assert float(row["ally_share"]) == pytest.approx(0.4)
    assert row["source"] == "baci"


def test_exposure_top_and_years(cli, flows_db: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("exposure", "--years", "2021:2022", "--top", "2", "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    # Concern-supplied value: 2021 USA 850511 900; 2022 USA 850511 600; then 40, 10.
    assert [(x["year"], x["hs6"], x["importer"]) for x in rows] == [
        (2021, "850511", "USA"),
        (2022, "850511", "USA"),
    ]


def test_exposure_industry_level_with_lookthrough(cli, flows_db: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli(
        "exposure",
        "--importer",
        "USA",
        "--level",
        "industry",
        "--industry",
        "permanent-magnets",
        "--lookthrough",
        "--format",
        "csv",
    )
    assert r.exit_code == 0, r.stderr
    (row,) = _csv(r.stdout)
    # 850511 V 1000 prc 0.6 + 280530 V 40 prc 1 → (600 + 40) / 1040.
    assert float(row["prc_share"]) == pytest.approx(640 / 1040)
    assert float(row["lookthrough_prc_share"]) >= float(row["prc_share"])


def test_parquet_carries_provenance(cli, flows_db: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "usa.parquet"
    r = cli("exposure", "--importer", "USA", "--format", "parquet", "--out", out)
    assert r.exit_code == 0, r.stderr
    meta = {k.decode(): v.decode() for k, v in pq.read_schema(out).metadata.items()}
    assert meta["friendshore.command"] == "exposure"
    assert json.loads(meta["friendshore.params"])["importer"] == "USA"
    assert meta["friendshore.registry_version"]
    assert json.loads(meta["friendshore.loads"])[0]["file_name"] == "crafted.csv"
    assert pq.read_table(out).num_rows == 2


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (
            ["exposure", "--hs", "85051"],
            "Error: HS code(s) '85051': expected six digits (or four for an HS4 "
            "aggregate), e.g. 850511\n",
        ),
        (
            ["exposure", "--year", "2030"],
            "Error: No trade flows for 2030; the store holds 2021–2022.\n",
        ),
        (
            ["exposure", "--bloc", "natoo"],
            "Error: Unknown group 'natoo'. Did you mean 'nato'?\n",
        ),
        (
            ["exposure", "--year", "2022", "--years", "2021:2022"],
            "Error: give either --year or --years, not both\n",
        ),
        (
            ["exposure", "--importer", "XXX"],
            "Error: importer 'XXX': unknown country, expected an ISO 3166 alpha-3 "
            "code such as USA.\n",
        ),
        (
            ["flags", "--importer", "uk"],
            "Error: importer 'uk': unknown country, expected an ISO 3166 alpha-3 "
            "code such as USA. Did you mean 'GBR'?\n",
        ),
        (["concentration", "--stage", "mine"], "Error: --stage needs --production\n"),
        (
            ["concentration", "--production", "--hs", "850511"],
            "Error: --hs does not apply to --production\n",
        ),
        (
            # USGS production has no trade source to choose: said, not ignored.
            ["concentration", "--production", "--source", "baci"],
            "Error: --source does not apply to --production\n",
        ),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    cli, flows_db: Path, args: list[str], stderr: str
) -> None:  # type: ignore[no-untyped-def]
    r = cli(*args)
    assert r.exit_code == 2
    assert r.stderr == stderr


def test_missing_store_is_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("exposure")
    assert r.exit_code == 2
    assert r.stderr.startswith("Error: No store at ")


def test_concentration_production_on_the_real_usgs_file(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("load", "usgs", RAREE_2024).exit_code == 0
    r = cli(
        "concentration",
        "--production",
        "--commodity",
        "rare earths",
        "--stage",
        "mine",
        "--edition",
        "MCS2024",
        "--year",
        "2023",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.stderr
    (row,) = json.loads(r.stdout)
    assert (row["listed_total"], row["world_total"]) == (353_320.0, 350_000.0)
    assert row["prc_share"] == pytest.approx(240_000 / 353_320)
    assert row["top_country"] == "CHN"


def test_world_concentration_trend_and_flags_commands(cli, flows_db: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("concentration", "--hs", "850511", "--year", "2022", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    (world,) = _csv(r.stdout)
    # World exports of 850511 in 2022: CHN 610, JPN 300, DEU 100 → 1010.
    assert float(world["world_exports_usd"]) == 1010.0
    assert float(world["prc_share"]) == pytest.approx(610 / 1010)

    r = cli(
        "trend",
        "--from",
        "2021",
        "--to",
        "2022",
        "--importer",
        "USA",
        "--format",
        "csv",
    )
    assert r.exit_code == 0, r.stderr
    magnets = next(x for x in _csv(r.stdout) if x["hs6"] == "850511")
    assert float(magnets["prc_share_change"]) == pytest.approx(0.6 - 0.9)

    r = cli("flags", "--importer", "USA", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    rows = {x["hs6"]: x for x in _csv(r.stdout)}
    assert rows["280530"]["crma_import_flag"] == "true"
    assert rows["850511"]["crma_import_flag"] == "false"


def test_trend_across_a_revision_break_notes_it_on_stderr(db_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    with Store(db_path) as s:
        insert_flows(s, [(2020, "CHN", "USA", "811292", 10.0)], hs_revision="HS2017")
        insert_flows(
            s,
            [(2024, "CHN", "USA", "811292", 20.0)],
            hs_revision="HS2022",
            load_id=2,
            file_name="later.csv",
        )
    r = cli(
        "trend",
        "--from",
        "2020",
        "--to",
        "2024",
        "--importer",
        "USA",
        "--format",
        "csv",
    )
    assert r.exit_code == 0, r.stderr
    (row,) = _csv(r.stdout)
    assert (row["hs_revision_from"], row["hs_revision_to"]) == ("HS2017", "HS2022")
    assert "Note: the years compared use different HS revisions (HS2017 → HS2022)" in (
        r.stderr
    )


def test_flags_help_states_the_coverage_default(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("flags", "--help")
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    assert "--min-coverage" in text and "default: 0.5" in text.lower()


def test_a_table_to_a_pipe_keeps_every_column_whole(cli, flows_db: Path) -> None:  # type: ignore[no-untyped-def]
    # Without a terminal rich assumes 80 columns and squeezed the 17 columns of the
    # product table to "…": redirected to a file, --wide keeps its natural width.
    r = cli(
        "exposure", "--importer", "USA", "--hs", "850511", "--year", "2022", "--wide"
    )
    assert r.exit_code == 0, r.stderr
    header = next(line for line in r.stdout.splitlines() if "importer" in line)
    for name in ("import_value_usd", "top_supplier_share", "partner_share", "vintage"):
        assert name in header.split()
    assert "…" not in r.stdout
    assert len(header) > 180  # 17 columns two spaces apart


def test_the_default_table_shows_shares_as_percent_and_values_in_millions(
    cli, flows_db: Path
) -> None:  # type: ignore[no-untyped-def]
    r = cli("exposure", "--importer", "USA", "--hs", "850511", "--year", "2022")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    header = lines[1].split("  ")
    header = [h.strip() for h in header if h.strip()]
    assert header[:5] == ["year", "importer", "hs6", "imports $M", "concern %"]
    assert "vintage" not in r.stdout and "source" not in lines[1]
    csv_r = cli(
        "exposure", "--importer", "USA", "--hs", "850511", "--year", "2022", "-f", "csv"
    )
    [row] = _csv(csv_r.stdout)
    cells = lines[3].split()
    assert cells[3] == f"{float(row['import_value_usd']) / 1e6:,.1f}"
    assert cells[4] == f"{float(row['prc_share']) * 100:.1f}"
    assert "vintage" in csv_r.stdout.splitlines()[0]  # every column in csv


def test_an_empty_result_says_so_on_stderr(cli, flows_db: Path) -> None:  # type: ignore[no-untyped-def]
    # USA imported no 280530 in 2021: the header is still written, and stderr says
    # what matched nothing.
    r = cli(
        "exposure", "--importer", "USA", "--hs", "280530", "--year", "2021", "-f", "csv"
    )
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("year,importer,hs6,")
    assert _csv(r.stdout) == []
    assert r.stderr == (
        "exposure: no rows match (importer USA; hs 280530; year 2021); "
        "`friendshore info` lists the loaded years, sources and products\n"
    )
    # A result with rows has no such note.
    r = cli(
        "exposure", "--importer", "USA", "--hs", "280530", "--year", "2022", "-f", "csv"
    )
    assert r.exit_code == 0 and r.stderr == ""


def test_a_panel_of_years_streams_to_parquet_as_the_table_reads(  # type: ignore[no-untyped-def]
    cli, flows_db: Path, tmp_path: Path
) -> None:
    # Issue 17: --years … --format parquet writes a year at a time; the file holds
    # the rows, order and provenance of the one-piece answer (CSV here).
    out = tmp_path / "panel.parquet"
    r = cli("exposure", "--years", "2021:2022", "--format", "parquet", "--out", out)
    assert r.exit_code == 0, r.stderr
    assert "(4 rows)" in r.stderr
    whole = cli("exposure", "--years", "2021:2022", "--format", "csv")
    want = _csv(whole.stdout)
    got = pq.read_table(out).to_pylist()
    keys = ["year", "importer", "hs6", "import_value_usd", "prc_share", "hhi"]
    assert [tuple(str(g[k]) for k in keys) for g in got] == [
        tuple(w[k] for k in keys) for w in want
    ]
    # 2021 USA 850511: CHN 900 of 1000; 2022 DEU 850511: CHN 10 of 10.
    assert [(g["year"], g["importer"], g["prc_share"]) for g in got] == [
        (2021, "USA", 0.9),
        (2022, "DEU", 1.0),
        (2022, "USA", 1.0),
        (2022, "USA", 0.6),
    ]
    meta = {k.decode(): v.decode() for k, v in pq.read_schema(out).metadata.items()}
    assert json.loads(meta["friendshore.params"])["years"] == [2021, 2022]
    assert meta["friendshore.registry_version"]
    # A year not loaded fails before anything is written.
    bad = tmp_path / "bad.parquet"
    r = cli("exposure", "--years", "2021:2023", "--format", "parquet", "--out", bad)
    assert r.exit_code == 2 and "2023" in r.stderr and not bad.exists()
    assert not list(tmp_path.glob(".bad.parquet*"))


def test_exposure_by_year_yields_each_year_lazily(flows_db: Path) -> None:
    from friendshore.engines.exposure import exposure_by_year, product_exposure

    with Store(flows_db, read_only=True) as s:
        frames = exposure_by_year(s, years=[2021, 2022], importer="USA")
        first = next(frames)  # a generator: one year computed, not both
        assert first["year"].unique().to_list() == [2021]
        rest = list(frames)
        both = product_exposure(s, years=[2021, 2022], importer="USA")
        assert pl.concat([first, *rest]).equals(both)
        industries = list(exposure_by_year(s, years=[2021, 2022], level="industry"))
        assert [df["year"].unique().to_list() for df in industries] == [[2021], [2022]]


@pytest.mark.parametrize(
    "args",
    [
        ("exposure", "--importer", "USA"),
        ("exposure", "--level", "industry", "--industry", "permanent-magnets"),
        ("exposure", "--years", "2021:2022", "--format", "parquet", "--out", "{out}"),
        ("concentration", "--hs", "850511"),
        ("trend", "--from", "2021", "--to", "2022", "--importer", "USA"),
        ("flags", "--importer", "USA", "--year", "2022"),
        ("crma", "--year", "2022"),
    ],
)
def test_each_command_builds_one_selection(  # type: ignore[no-untyped-def]
    cli, flows_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args
) -> None:
    """The CLI decides which rows once per command (cli/rows.py) and the library
    reads that Selection: no engine builds a second one of its own."""
    from friendshore.selection import Selection

    built: list[list[int]] = []
    original = Selection.build.__func__  # type: ignore[attr-defined]

    def counting(cls, store, **kwargs):  # type: ignore[no-untyped-def]
        sel = original(cls, store, **kwargs)
        built.append(sel.years)
        return sel

    monkeypatch.setattr(Selection, "build", classmethod(counting))
    argv = [a.format(out=tmp_path / "x.parquet") for a in args]
    r = cli(*argv)
    assert r.exit_code == 0, r.stderr
    assert len(built) == 1, built


def test_a_load_spanning_years_counts_only_in_the_year_it_answers_for(  # type: ignore[no-untyped-def]
    cli, db_path: Path
) -> None:
    # BACI (load 1) answers for 2021; a Comtrade file (load 2) holds 2021 and 2022
    # and answers only for 2022, where it is the one source. Its 2021 rows must not
    # join BACI's: V(2021) = 900 (BACI), not 900 + 500.
    with Store(db_path) as s:
        insert_flows(s, [(2021, "CHN", "USA", "850511", 900.0)], load_id=1)
        insert_flows(
            s,
            [
                (2021, "CHN", "USA", "850511", 500.0),
                (2022, "JPN", "USA", "850511", 70.0),
            ],
            source="comtrade",
            load_id=2,
            file_name="comtrade.csv",
        )
    r = cli("exposure", "--importer", "USA", "--years", "2021:2022", "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = {x["year"]: x for x in json.loads(r.stdout)}
    assert rows[2021]["import_value_usd"] == pytest.approx(900.0)
    assert rows[2021]["source"] == "baci"
    assert rows[2022]["import_value_usd"] == pytest.approx(70.0)
    assert rows[2022]["source"] == "comtrade"


def test_row_options_are_the_parameters_a_command_received() -> None:
    """RowOptions.of reads the command's parsed parameters (click's values): the
    fields it has, --years Y1:Y2 as years, a repeatable option not given as None;
    given() is every other option for provenance, enums as values, output aside."""
    from types import SimpleNamespace

    from friendshore.cli.rows import Level, RowOptions, given

    ctx: Any = SimpleNamespace(
        params={
            "importer": "USA",
            "years": "2019:2021",
            "hs": ("850511", "280530"),
            "allies": (),
            "level": Level.industry,
            "top": 3,
            "fmt": "csv",
            "out": None,
            "registry": None,
        }
    )
    rows = RowOptions.of(ctx)
    assert rows == RowOptions(
        importer="USA", years=[2019, 2020, 2021], hs=["850511", "280530"]
    )
    assert given(ctx, "level", "top") == {"level": "industry", "top": 3}
    assert set(given(ctx)) == {"importer", "years", "hs", "allies", "level", "top"}
    assert given(ctx)["allies"] is None
    empty: Any = SimpleNamespace(params={"years": "", "year": 2022})
    assert RowOptions.of(empty) == RowOptions(year=2022)
