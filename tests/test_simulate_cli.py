"""``friendshore simulate``: exit codes, one-line errors, formats, provenance."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .test_simulate_store import FLOWS, build_store

MAGNETS = """\
name = "{name}"
importer = "USA"
year = 2022
hs = ["850511"]
max_concern_share = {share}
eligible = ["us-treaty-allies"]
reshoring = 0.1
"""


@pytest.fixture
def loaded(db_path: Path) -> Path:
    build_store(db_path, FLOWS)
    return db_path


def scenario(tmp_path: Path, name: str, share: float = 0.2, extra: str = "") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(MAGNETS.format(name=name, share=share) + extra, encoding="utf-8")
    return path


def rows(stdout: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stdout)))


def test_a_scenario_file_as_csv(cli, loaded, tmp_path) -> None:
    # Worked in test_simulate_store: 40 displaced, 10 reshored, 30 placed.
    result = cli("simulate", scenario(tmp_path, "cap20"), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    [row] = rows(result.stdout)
    assert (row["scenario"], row["importer"], row["hs6"]) == ("cap20", "USA", "850511")
    assert float(row["displaced_usd"]) == pytest.approx(40.0)
    assert float(row["reshored_usd"]) == pytest.approx(10.0)
    assert float(row["placed_usd"]) == pytest.approx(30.0)
    assert float(row["unmet_usd"]) == 0.0


def test_two_files_give_one_table_with_a_scenario_column(cli, loaded, tmp_path) -> None:
    a, b = scenario(tmp_path, "cap20"), scenario(tmp_path, "cap0", share=0.0)
    result = cli("simulate", a, b, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [d["scenario"] for d in data] == ["cap20", "cap0"]
    # Cap 0: 60 displaced, 10 reshored; caps 25 + 12.5 + 50 = 87.5 ≥ 50: all placed.
    assert data[1]["displaced_usd"] == pytest.approx(60.0)
    assert data[1]["placed_usd"] == pytest.approx(50.0)


def test_quick_flags_and_the_industry_level(cli, loaded) -> None:
    result = cli(
        "simulate",
        "--importer",
        "USA",
        "--industry",
        "permanent-magnets",
        "--max-concern-share",
        "0",
        "--eligible",
        "us-treaty-allies",
        "--capacity-expansion",
        "0.1",
        "--level",
        "industry",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    [row] = rows(result.stdout)
    assert row["industry"] == "permanent-magnets"
    # 60 displaced; caps 0.1 × (100 + 50 + 200) = 35 placed, 25 unmet; all bind.
    assert float(row["placed_usd"]) == pytest.approx(35.0)
    assert float(row["unmet_usd"]) == pytest.approx(25.0)
    assert json.loads(row["binding_suppliers"]) == ["KOR", "JPN", "FRA"]


def test_draws_give_ordered_quantiles(cli, loaded, tmp_path) -> None:
    unc = "\n[uncertainty]\ndraws = 200\nseed = 1\ncapacity_expansion = [0.05, 0.5]\n"
    path = scenario(tmp_path, "mc", share=0.0, extra=unc)
    first = cli("simulate", path, "--format", "csv")
    again = cli("simulate", path, "--format", "csv")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == again.stdout  # seeded
    got = rows(first.stdout)
    assert [r["stat"] for r in got] == ["p5", "p50", "p95"]
    unmet = [float(r["unmet_usd"]) for r in got]
    assert unmet[0] <= unmet[1] <= unmet[2]
    # 50 to place against caps of e × 350: unmet at e = 0.05 is 32.5, none from 1/7 up.
    assert unmet[0] == 0.0 and unmet[2] > 0.0
    other = cli("simulate", path, "--seed", "2", "--format", "csv")
    assert other.stdout != first.stdout


def test_parquet_carries_provenance(cli, loaded, tmp_path) -> None:
    out = tmp_path / "s.parquet"
    result = cli(
        "simulate", scenario(tmp_path, "cap20"), "--format", "parquet", "--out", out
    )
    assert result.exit_code == 0, result.stderr
    meta = pq.read_schema(out).metadata
    assert meta[b"friendshore.command"] == b"simulate"
    assert b"friendshore.registry_version" in meta
    loads = json.loads(meta[b"friendshore.loads"])
    assert loads[0]["file_name"] == "synthetic.csv"
    scenarios = json.loads(meta[b"friendshore.scenarios"])
    assert scenarios[0]["name"] == "cap20" and scenarios[0]["reshoring"] == 0.1
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
    # FRA imports nothing in the fixture: the other scenario still has its
    # row, and stderr names the file and the scenario that found nothing.
    empty = tmp_path / "fra.toml"
    empty.write_text(
        MAGNETS.format(name="fra", share=0.2).replace('"USA"', '"FRA"'),
        encoding="utf-8",
    )
    result = cli("simulate", scenario(tmp_path, "cap20"), empty, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert [r["scenario"] for r in rows(result.stdout)] == ["cap20"]
    assert result.stderr == (
        f"{empty}: scenario 'fra' matched no trade flows (importer FRA, 2022, "
        "HS 850511); `friendshore info` lists the loaded years and products\n"
    )
