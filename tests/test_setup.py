"""The README's two set-up commands, run as subprocesses from a fresh clone.

`make demo` runs in full. `make test` runs in the clone with a narrowed pytest
selection (PYTEST_ARGS), which still proves the target builds its own virtualenv,
installs the dev extras, lints and runs pytest — running the whole suite again
from inside the suite would double CI time for no extra evidence.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import ROOT


def _fresh_clone(tmp_path: Path) -> Path:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.fail("the fresh-clone test needs a git checkout and git on PATH")
    dest = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", str(ROOT), str(dest)], check=True, timeout=120
    )
    return dest


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRIENDSHORE_")}
    env.pop("VIRTUAL_ENV", None)
    return env


@pytest.mark.slow
def test_make_demo_and_make_test_from_a_fresh_clone(tmp_path: Path) -> None:
    clone = _fresh_clone(tmp_path)
    demo = subprocess.run(
        ["make", "demo"],
        cwd=clone,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "loaded (products" in demo.stdout
    assert "China's share of world production" in demo.stdout
    assert "US exposure to the PRC by defense industry" in demo.stdout
    assert (clone / "friendshore-demo.duckdb").exists()
    # How to reach the command and the demo's store, as the README quotes it.
    from .test_readme import MAKE_DEMO_NEXT

    assert MAKE_DEMO_NEXT in demo.stdout.splitlines()

    test = subprocess.run(
        ["make", "test", "PYTEST_ARGS=-q tests/test_cli.py"],
        cwd=clone,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert test.returncode == 0, test.stdout[-2000:] + test.stderr[-2000:]
    assert " passed" in test.stdout
