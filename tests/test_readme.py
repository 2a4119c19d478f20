"""The README's console blocks are the output of the commands they show.

Every ``$ friendshore …`` line of a ```console block runs in bash, as the reader
would type it (pipes included), in a folder that holds the checkout's ``data/``
and the store the demo built, with ``FRIENDSHORE_DB=friendshore-demo.duckdb`` as
the README sets it; the lines after it must be what the command prints (stdout,
then stderr). A line that is only ``…`` stands for lines left out. A command shown
without output must still succeed, unless it names a file the reader has to
download first. Numbers change as the engines do: this test is what keeps the
README's figures the real ones.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, run_cli

README = ROOT / "README.md"
DEMO_DB = "friendshore-demo.duckdb"
# What `make demo` prints after the demo's tables (the Makefile's echo).
MAKE_DEMO_NEXT = (
    "Next: source .venv/bin/activate && export FRIENDSHORE_DB=friendshore-demo.duckdb "
    "(or run .venv/bin/friendshore --db friendshore-demo.duckdb …); see the README's "
    "walkthrough."
)


def console_blocks(text: str) -> list[list[str]]:
    """The lines of every ```console block."""
    return [
        m.group(1).splitlines()
        for m in re.finditer(r"^```console\n(.*?)^```", text, re.M | re.S)
    ]


def commands(block: list[str]) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of each ``$ `` line of a block."""
    out: list[tuple[str, list[str]]] = []
    for line in block:
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return out


def matches(expected: list[str], actual: list[str]) -> bool:
    """``expected`` equals ``actual`` (trailing blanks aside), ``…`` lines skipping."""
    exp = [e.rstrip() for e in expected]
    act = [a.rstrip() for a in actual]
    parts: list[list[str]] = [[]]
    for line in exp:
        if line == "…":
            parts.append([])
        else:
            parts[-1].append(line)
    if len(parts) == 1:
        return exp == act
    first, *middle, last = parts
    if act[: len(first)] != first or (last and act[-len(last) :] != last):
        return False
    pos, end = len(first), len(act) - len(last)
    for part in middle:
        while pos + len(part) <= end and act[pos : pos + len(part)] != part:
            pos += 1
        if pos + len(part) > end:
            return False
        pos += len(part)
    return pos <= end


# Commands that show another machine's situation; not run, with the reason.
ILLUSTRATIVE = {
    "half-copied/": "needs an export copied halfway",
    "# on a machine without Java": "needs a machine without Java",
    "--years 1995:2024": "needs a BACI panel of 1995-2024 (the demo has 2020-2024)",
}
# Lines the JVM under the Spark engine writes to stderr, outside friendshore.
_JVM_NOISE = ("WARNING: Using incubator modules",)


def _needs_download(args: list[str]) -> bool:
    return any(a.startswith("~") for a in args)


def run_readme_command(
    command: str, workdir: Path, demo_output: str
) -> tuple[int, str] | None:
    """Exit code and output of one README command run in ``workdir``; None when it
    is no friendshore command (``source``, ``export``) or needs a download."""
    if command.split("#")[0].strip() == "make demo":
        return 0, demo_output + MAKE_DEMO_NEXT + "\n"
    args = shlex.split(command, comments=True)
    if not args or args[0] != "friendshore" or _needs_download(args):
        return None
    if any(mark in command for mark in ILLUSTRATIVE):
        return None
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRIENDSHORE_")}
    env.pop("COLUMNS", None)
    env["FRIENDSHORE_DB"] = DEMO_DB
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        ["bash", "-c", command],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    err = "".join(
        line
        for line in proc.stderr.splitlines(keepends=True)
        if not line.startswith(_JVM_NOISE)
    )
    return proc.returncode, proc.stdout + err


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A folder like the checkout after `make demo`, and what the demo printed."""
    workdir = tmp_path_factory.mktemp("readme")
    (workdir / "data").symlink_to(ROOT / "data")
    result = run_cli("demo", db=workdir / DEMO_DB)
    assert result.exit_code == 0, result.stderr
    return workdir, result.stdout


def test_the_readme_shows_the_demo_store_setup() -> None:
    text = README.read_text(encoding="utf-8")
    assert "$ source .venv/bin/activate" in text
    assert f"$ export FRIENDSHORE_DB={DEMO_DB}" in text
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert f"DEMO_DB ?= {DEMO_DB}" in makefile


@pytest.mark.slow
def test_every_quoted_output_is_the_commands_output(demo: tuple[Path, str]) -> None:
    workdir, demo_output = demo
    checked = 0
    for block in console_blocks(README.read_text(encoding="utf-8")):
        for command, expected in commands(block):
            ran = run_readme_command(command, workdir, demo_output)
            if ran is None:
                continue
            code, output = ran
            if expected:
                checked += 1
                assert matches(expected, output.splitlines()), (
                    f"README output of `{command}` is not what it prints:\n{output}"
                )
            else:
                assert code == 0, f"`{command}` failed on the demo store:\n{output}"
    assert checked >= 8  # the demo, info, load, concentration, exposure, … and an error


def test_the_matcher_skips_only_where_the_readme_says() -> None:
    assert matches(["a", "…", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "…", "c", "…", "e"], list("abcde"))
    assert not matches(["a", "…", "x"], list("abcd"))
    assert not matches(["a", "b"], ["a", "b", "c"])
    assert not matches(["a", "…", "c", "…", "e"], list("abde"))
