"""The Python API's examples (module docstring and README) run on the demo store."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import friendshore
from friendshore import api
from friendshore.demo import run_demo
from friendshore.store import Store

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the store ``make demo`` builds, under the same name."""
    folder = tmp_path_factory.mktemp("demo")
    with Store(folder / "friendshore-demo.duckdb") as store:
        run_demo(store)
    return folder


def _run(text: str, name: str) -> doctest.TestResults:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, name, name, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    return runner.summarize(verbose=False)


def test_the_module_examples_run(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(demo_dir)
    assert api.__doc__ is not None
    result = _run(api.__doc__, "friendshore.api")
    assert result.attempted >= 8
    assert result.failed == 0


def test_the_readme_section_runs_and_matches_the_module(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(demo_dir)
    section = README.read_text().split("## Python API", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    assert api.__doc__ is not None and block in api.__doc__
    assert _run(block, "README").failed == 0


def test_open_is_read_only_and_closes(demo_dir: Path) -> None:
    with friendshore.open(demo_dir / "friendshore-demo.duckdb") as fs:
        assert fs.store.read_only
        assert fs.loads().height > 0
        got = fs.query(
            "production_by_country",
            commodity="gallium",
            stage="refinery",
            edition="MCS2025",
        )
        assert got.row(0, named=True)["country"] == "CHN"
