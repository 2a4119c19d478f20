"""The benchmark suite itself: a deterministic generator, BACI-shaped files, a harness
that runs and that refuses fast-but-wrong answers, and the regression check."""

from __future__ import annotations

import csv
import importlib
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

from friendshore.sources import load
from friendshore.store import Store

ROOT = Path(__file__).resolve().parent.parent
SCALE = 0.0005  # 5,000 flows: enough for skew, fast to generate


def _bench(name: str) -> ModuleType:
    """``benchmarks.<name>`` (a top-level folder, not part of the package)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"benchmarks.{name}")


@pytest.fixture(scope="module")
def synth() -> ModuleType:
    return _bench("synth")


@pytest.fixture(scope="module")
def release(synth: ModuleType, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return synth.release(SCALE, 7, [2021, 2022], tmp_path_factory.mktemp("cache"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_generator_is_deterministic(synth: ModuleType, release, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    again = synth.release(SCALE, 7, [2022], tmp_path / "a")
    other_seed = synth.release(SCALE, 8, [2022], tmp_path / "b")
    first = release.year_files[2022]
    assert synth.sha256(again.year_files[2022]) == synth.sha256(first)
    assert synth.sha256(other_seed.year_files[2022]) != synth.sha256(first)
    # Each year draws its own flows from the shared structure.
    assert synth.sha256(release.year_files[2021]) != synth.sha256(first)


def test_year_file_is_shaped_as_cepii_ships_it(release) -> None:  # type: ignore[no-untyped-def]
    path = release.year_files[2022]
    assert path.name == "BACI_HS17_Y2022_V202501.csv"
    assert path.read_text().splitlines()[0] == "t,i,j,k,v,q"
    rows = _rows(path)
    assert len(rows) == 5_000 == release.rows[2022]
    countries = {r["country_code"] for r in _rows(release.country_codes)}
    products = {r["code"] for r in _rows(release.product_codes)}
    assert len(products) == 5388  # every HS2017 subheading
    keys = [(r["t"], r["i"], r["j"], r["k"]) for r in rows]
    assert len(set(keys)) == len(keys)  # unique (t, i, j, k)
    assert keys == sorted(keys, key=lambda k: tuple(map(int, k)))  # sorted as CEPII
    for r in rows:
        assert r["t"] == "2022"
        assert r["i"] != r["j"]
        assert {r["i"], r["j"]} <= countries
        assert not r["k"].startswith("0") and r["k"].zfill(6) in products
        v = Decimal(r["v"])
        assert v > 0 and -v.as_tuple().exponent <= 3  # type: ignore[operator]
        assert r["q"] == "NA" or Decimal(r["q"]) > 0
    missing = sum(r["q"] == "NA" for r in rows) / len(rows)
    assert 0.02 < missing < 0.08
    # A few dominant exporters: China (156) ships the most flows and the most value.
    by_exporter: dict[str, float] = {}
    for r in rows:
        by_exporter[r["i"]] = by_exporter.get(r["i"], 0.0) + float(r["v"])
    top = sorted(by_exporter, key=by_exporter.__getitem__, reverse=True)[:5]
    assert top[0] == "156" and "842" in top
    # The code file is the real one, byte for byte.
    real = ROOT / "data" / "sources" / "baci" / "country_codes_V202501.csv"
    assert release.country_codes.read_bytes() == real.read_bytes()


def test_friendshore_loads_the_synthetic_release(release, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(release.year_files[2022])
    with Store(tmp_path / "s.duckdb") as store:
        load(store, "baci", release.paths([2022]))
        n, value, q = store.fetchall(
            "SELECT count(*), sum(value_usd), count(quantity_t) FROM trade_flows"
        )[0]
        chn = store.fetchall("SELECT count(*) FROM trade_flows WHERE exporter = 'CHN'")[
            0
        ][0]
    assert n == len(rows)
    assert value == pytest.approx(sum(float(r["v"]) for r in rows) * 1000)
    assert q == sum(r["q"] != "NA" for r in rows)
    assert chn == sum(r["i"] == "156" for r in rows)


def _fake_case(ref_sum: float):  # type: ignore[no-untyped-def]
    cases = _bench("cases")

    def ours(ctx: object) -> float:
        return 10.0

    def ref(ctx: object) -> float:
        return ref_sum

    def answer(ctx: object, result: float) -> dict[str, float]:
        return {"rows": 3.0, "value": result}

    return cases.Case(
        name="fake",
        title="fake",
        impls=(
            cases.Impl(cases.OURS, ours, answer),
            cases.Impl("duckdb_sql", ref, answer),
        ),
        compare=("duckdb_sql",),
        required=("value",),
    )


@pytest.mark.parametrize(("ref_sum", "status"), [(10.0, "ok"), (10.5, "wrong answer")])
def test_harness_rejects_a_wrong_answer(
    ref_sum: float, status: str, tmp_path: Path
) -> None:
    run, cases = _bench("run"), _bench("cases")
    ctx = cases.Ctx(None, 2022, tmp_path / "none.duckdb", tmp_path)
    result = run.run_case(_fake_case(ref_sum), ctx, repeat=3, warmup=1)
    assert result["status"] == status
    assert len(result["implementations"]["friendshore"]["times_s"]) == 3
    if status != "ok":
        assert "value: friendshore 10.0 vs duckdb_sql 10.5" in result["reason"]


def test_harness_runs_the_load_case(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--scale", str(SCALE),
         "--cases", "load", "--repeat", "1", "--warmup", "0", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    load_case = report["cases"]["load"]
    assert load_case["status"] == "ok", load_case.get("reason")
    impls = load_case["implementations"]
    assert set(impls) == {"friendshore", "duckdb_sql", "pandas"}
    assert impls["friendshore"]["answer"]["rows"] == 5_000
    assert impls["friendshore"]["peak_rss_mb"] > 0  # measured in its own process
    assert set(load_case["ratios"]) == {"duckdb_sql", "pandas"}
    assert report["machine"]["cpu_count"] >= 1
    assert "duckdb" in report["machine"]["versions"]


def test_check_fails_on_a_regression_only() -> None:
    check = _bench("check")
    base = {"scale": 1.0, "cases": {"load": {"status": "ok", "ratios": {"x": 1.0}}}}

    def latest(ratio: float, status: str = "ok") -> dict:  # type: ignore[type-arg]
        return {
            "scale": 1.0,
            "cases": {"load": {"status": status, "ratios": {"x": ratio}}},
        }

    assert check.compare(latest(1.24), base, 0.25)[0] == []
    assert check.compare(latest(0.5), base, 0.25)[0] == []
    assert check.compare(latest(1.26), base, 0.25)[0]
    assert check.compare(latest(1.0, "wrong answer"), base, 0.25)[0]
    assert check.compare({**latest(1.0), "scale": 0.01}, base, 0.25)[0]


def test_every_defined_case_is_in_the_suite() -> None:
    # Two modules once each assigned CASES; the second silently dropped the
    # whole-process and panel cases from `make bench`.
    cases = _bench("cases")
    defined = {
        v.name
        for v in vars(cases).values()
        if isinstance(v, cases.Case) and not v.name.startswith("_")
    }
    defined |= {c.name for c in cases.STARTUP}
    defined |= {c.name for c in _bench("panel").PANEL_CASES}
    assert defined <= set(cases.CASES), sorted(defined - set(cases.CASES))
