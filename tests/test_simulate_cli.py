"""``friendshore simulate``: exit codes, one-line errors, formats, provenance."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .test_scenarios_store import FLOWS, build_store

# The worked case (tests/test_scenarios_store.py has the numbers).
WORKED = """\
name = "{name}"
importer = "USA"
year = 2022
hs = ["811292"]
capacity_expansion = 0.5
{policy}
[elasticities]
substitution = 3
demand = 0.5
supply = 1
"""


@pytest.fixture
def loaded(db_path: Path) -> Path:
    build_store(db_path, FLOWS)
    return db_path


def scenario(
    tmp_path: Path, name: str, policy: str = 'policy = "ban"', extra: str = ""
) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(WORKED.format(name=name, policy=policy) + extra, encoding="utf-8")
    return path


def rows(stdout: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stdout)))


def test_a_scenario_file_as_csv(cli, loaded, tmp_path) -> None:
    result = cli("simulate", scenario(tmp_path, "ban"), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    [row] = rows(result.stdout)
    assert (row["scenario"], row["importer"], row["hs6"]) == ("ban", "USA", "811292")
    assert float(row["import_price_change_pct"]) == pytest.approx(253.9915, abs=5e-5)
    assert float(row["import_quantity_change_pct"]) == pytest.approx(-46.85, abs=5e-5)
    assert float(row["consumer_surplus_change_usd"]) == pytest.approx(-176_293.26)


def test_two_files_give_one_table_with_a_scenario_column(cli, loaded, tmp_path) -> None:
    a = scenario(tmp_path, "ban")
    b = scenario(tmp_path, "cap25", 'policy = "cap"\nmax_concern_share = 0.25')
    result = cli("simulate", a, b, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [d["scenario"] for d in data] == ["ban", "cap25"]
    assert data[1]["import_price_change_pct"] == pytest.approx(95.9598, abs=5e-5)
    assert data[1]["scenario_concern_share"] == pytest.approx(0.25)


def test_by_exporter_shows_what_the_ban_does_to_suppliers(
    cli, loaded, tmp_path
) -> None:
    result = cli(
        "simulate", scenario(tmp_path, "ban"), "--by", "exporter", "--format", "csv"
    )
    assert result.exit_code == 0, result.stderr
    got = {r["exporter"]: float(r["price_change_pct"]) for r in rows(result.stdout)}
    assert got == pytest.approx(
        {"CHN": -28.6904, "DEU": 76.8012, "JPN": 150.4938}, abs=5e-5
    )


def test_a_coalition_sweep_is_one_command(cli, loaded, tmp_path) -> None:
    # The US alone against the US with France: one command, one table.
    result = cli(
        "simulate",
        scenario(tmp_path, "ban"),
        "--coalition",
        "USA",
        "--coalition",
        "USA,FRA",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    got = [(r["scenario"], r["importer"]) for r in rows(result.stdout)]
    assert got == [
        ("ban [USA]", "USA"),
        ("ban [USA+FRA]", "FRA"),
        ("ban [USA+FRA]", "USA"),
    ]
    price = {
        (r["scenario"], r["importer"]): float(r["import_price_change_pct"])
        for r in rows(result.stdout)
    }
    # With FRA in the coalition China has no market left: its price falls to 0.
    assert price[("ban [USA+FRA]", "USA")] >= price[("ban [USA]", "USA")]


def test_quick_flags_and_the_industry_level(cli, loaded) -> None:
    result = cli(
        "simulate",
        "--importer",
        "USA",
        "--hs",
        "811292",
        "--policy",
        "tariff",
        "--tariff",
        "0",
        "--level",
        "industry",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    [row] = rows(result.stdout)
    assert row["industry"] == "(hs list)"
    # A zero tariff is the baseline exactly.
    assert float(row["import_price_change_pct"]) == 0.0
    assert float(row["scenario_import_value_usd"]) == 100_000.0


def test_draws_give_ordered_quantiles(cli, loaded, tmp_path) -> None:
    unc = "\n[uncertainty]\ndraws = 100\nseed = 1\nsubstitution = [2, 6]\n"
    path = scenario(tmp_path, "mc", extra=unc)
    first = cli("simulate", path, "--format", "csv")
    again = cli("simulate", path, "--format", "csv")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == again.stdout  # seeded
    got = rows(first.stdout)
    assert [r["stat"] for r in got] == ["p5", "p50", "p95"]
    price = [float(r["import_price_change_pct"]) for r in got]
    assert price[0] <= price[1] <= price[2] and price[0] < price[2]
    other = cli("simulate", path, "--seed", "2", "--format", "csv")
    assert other.stdout != first.stdout


def test_the_table_shows_a_readable_few_columns(cli, loaded, tmp_path) -> None:
    result = cli("simulate", scenario(tmp_path, "ban"))
    assert result.exit_code == 0, result.stderr
    assert "import_price_change_pct" in result.stdout
    assert "quota_rent_usd" not in result.stdout  # csv / json / parquet carry it
    assert "consumer_surplus_change_usd" not in result.stdout


def test_parquet_carries_provenance(cli, loaded, tmp_path) -> None:
    out = tmp_path / "s.parquet"
    result = cli(
        "simulate", scenario(tmp_path, "ban"), "--format", "parquet", "--out", out
    )
    assert result.exit_code == 0, result.stderr
    meta = pq.read_schema(out).metadata
    assert meta[b"friendshore.command"] == b"simulate"
    assert b"friendshore.registry_version" in meta
    loads = json.loads(meta[b"friendshore.loads"])
    assert loads[0]["file_name"] == "synthetic.csv"
    scenarios = json.loads(meta[b"friendshore.scenarios"])
    assert scenarios[0]["name"] == "ban" and scenarios[0]["substitution"] == 3
    assert pq.read_table(out).num_rows == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'importer = "USA"\nindustry = "batteries"\nmax_concern_share = 0\nreshore = 0.1\n',
            "key 'reshore': unknown key. Did you mean 'reshoring'?",
        ),
        (
            'importer = "USA"\nindustry = "batteries"\nmax_concern_share = "0"\n',
            "key 'max_concern_share': expected a number, got a string '0'",
        ),
        (
            'importer = "USA"\nindustry = "batteries"\nmax_concern_share = 0\n'
            'eligible = ["mnnna"]\n',
            "key 'eligible': unknown registry group 'mnnna'. Did you mean 'mnna'?",
        ),
        (
            'importer = "USA"\nindustry = "permanent-magnet"\nmax_concern_share = 0\n',
            "key 'industry': unknown industry 'permanent-magnet'. "
            "Did you mean 'permanent-magnets'?",
        ),
        (
            'importer = "USA"\nhs = ["811292"]\n[elasticities]\nsubstitution = 1\n',
            "key 'elasticities.substitution': expected a number above 1, got 1 with a "
            "ban (at σ ≤ 1 a banned variety would be essential)",
        ),
        (
            'importer = "USA"\nhs = ["811292"]\n[elasticities]\ndemand = -0.5\n',
            "key 'elasticities.demand': expected a number >= 0, got -0.5",
        ),
        (
            'coalition = ["USA", "prc"]\nhs = ["811292"]\n',
            "key 'coalition': the coalition names the concern group 'prc'",
        ),
        (
            'importer = "USA"\nhs = ["811292"]\nreshoring_cost = 1\n',
            "key 'reshoring_cost': expected a price above 1 (the baseline import "
            "price), got 1",
        ),
        (
            'importer = "USA"\nhs = ["811293"]\nmax_concern_share = 0\n',
            "key 'hs': unknown HS6 code '811293' (not in HS2017/HS2022). "
            "Heading 8112 has: 811212, 811213, 811219, 811221, 811222, 811229, "
            "811231, 811239, 811241, 811249, 811251, 811252, 811259, 811261, "
            "811269, 811292, 811299",
        ),
    ],
)
def test_bad_scenario_files_exit_2_with_one_line(cli, tmp_path, text, message) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    result = cli("simulate", path)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {path}, {message}\n"


def test_usage_errors(cli, loaded, tmp_path) -> None:
    result = cli("simulate")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "Error: give scenario files, or build one from flags"
    )
    result = cli("simulate", scenario(tmp_path, "x"), "--importer", "JPN")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --importer: give either scenario files")
    result = cli("simulate", scenario(tmp_path, "x"), "--draws", "10")
    assert result.exit_code == 2
    assert "key 'uncertainty': --draws needs uniform ranges" in result.stderr
    result = cli("simulate", scenario(tmp_path, "x"), "--format", "parquet")
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: --format parquet needs --out FILE\n",
    )
    assert all(r.count("\n") == 1 for r in (result.stderr,))


def test_missing_store_is_a_usage_error(cli, tmp_path) -> None:
    result = cli("simulate", scenario(tmp_path, "x"))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: No store at ")


def test_a_scenario_that_matches_no_flows_is_named_on_stderr(
    cli, loaded, tmp_path
) -> None:
    # No 811299 flows in the fixture: the other scenario still has its row, and
    # stderr names the file and the scenario that found nothing.
    empty = tmp_path / "fra.toml"
    empty.write_text(
        WORKED.format(name="fra", policy="").replace('"811292"', '"811299"'),
        encoding="utf-8",
    )
    result = cli("simulate", scenario(tmp_path, "ban"), empty, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert [r["scenario"] for r in rows(result.stdout)] == ["ban"]
    assert result.stderr == (
        f"{empty}: scenario 'fra' matched no trade flows (coalition USA, 2022, "
        "HS 811299); `friendshore info` lists the loaded years and products\n"
    )


def test_unmatched_notes_name_each_scenario_without_rows() -> None:
    # The library's rule (the command only prints it): a scenario with no row in
    # the table gets one note naming its source, coalition, year and products.
    import polars as pl

    from friendshore.engines.scenarios.model import from_mapping
    from friendshore.engines.scenarios.simulate import unmatched_notes

    base = {"importer": "USA", "policy": "ban"}
    found = from_mapping(base | {"name": "found", "hs": ["811292"]}, "a.toml")
    by_hs = from_mapping(
        base | {"name": "hs", "hs": ["811292", "811299"], "year": 2021}, "b.toml"
    )
    industry = from_mapping(base | {"name": "ind", "industry": "batteries"}, "c.toml")
    every = from_mapping(
        {"bloc": "eu", "policy": "ban", "name": "all", "hs": "all"}, "d"
    )
    table = pl.DataFrame({"scenario": ["found", "found"]})
    tail = "; `friendshore info` lists the loaded years and products"
    assert unmatched_notes([found, by_hs, industry, every], table) == [
        "b.toml: scenario 'hs' matched no trade flows (coalition USA, 2021, "
        "HS 811292, 811299)" + tail,
        "c.toml: scenario 'ind' matched no trade flows (coalition USA, the latest "
        "year, industry batteries)" + tail,
        "d: scenario 'all' matched no trade flows (coalition eu, the latest year, "
        "every product)" + tail,
    ]
