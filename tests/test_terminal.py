"""What a person sees in a real terminal: tmux at 100 columns, the demo and walkthrough.

CliRunner has no terminal, so it never shows progress lines or a terminal's width;
here the commands run in a tmux pane of 100 × 50 and the test reads the screen and
its scroll-back: headers and numbers whole (no ``…``), no line wider than the
pane, no progress line left behind, and the one-line summaries of long jobs.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from .conftest import ROOT, SOURCES

pytestmark = pytest.mark.slow

WIDTH = 100
DONE = "__walkthrough_done__"


def _friendshore() -> str:
    script = Path(sys.executable).with_name("friendshore")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "friendshore"]
    return shlex.join(cmd)


def _tmux(sock: str, *args: str) -> str:
    return subprocess.run(
        ["tmux", "-L", sock, *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def screen(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Everything the pane showed (scroll-back included) after the walkthrough."""
    assert shutil.which("tmux"), "tmux is not installed (make test installs it)"
    tmp = tmp_path_factory.mktemp("tty")
    fs = _friendshore()
    demo_db, fresh_db = tmp / "friendshore-demo.duckdb", tmp / "fresh.duckdb"
    mcs2023 = SOURCES / "usgs" / "mcs2023"
    lines = [
        f"cd {shlex.quote(str(ROOT))}",
        f"export FRIENDSHORE_DB={shlex.quote(str(demo_db))}",
        f"{fs} demo",
        f"{fs} --db {shlex.quote(str(fresh_db))} load usgs {shlex.quote(str(mcs2023))}",
        f"{fs} info",
        f'{fs} concentration --production --commodity "rare earths" --edition MCS2024',
        f"{fs} exposure --importer USA --industry batteries --year 2024",
        f"{fs} exposure --importer USA --level industry --year 2024 --lookthrough",
        f"{fs} flags --importer USA --industry batteries",
        f"{fs} trend --from 2020 --to 2024 --importer USA --industry batteries",
        f"{fs} registry country FIN --year 2022",
        f"{fs} industries list",
        f"echo {DONE}",
    ]
    script = tmp / "walkthrough.sh"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sock = f"friendshore-test-{uuid.uuid4().hex[:8]}"  # a private tmux server
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
    subprocess.run(
        ["tmux", "-L", sock, "-f", "/dev/null", "start-server", ";",
         "set-option", "-g", "history-limit", "50000", ";",
         "new-session", "-d", "-s", "walk", "-x", str(WIDTH), "-y", "50",
         f"bash --noprofile --norc {shlex.quote(str(script))}; sleep 600"],
        check=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        text = ""
        while time.monotonic() < deadline:
            text = _tmux(sock, "capture-pane", "-p", "-J", "-S", "-", "-t", "walk")
            if DONE in text:
                break
            time.sleep(1)
        text = _tmux(sock, "capture-pane", "-p", "-S", "-", "-t", "walk")
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    assert DONE in text, f"the walkthrough did not finish:\n{text[-3000:]}"
    return text


def test_nothing_is_cut_and_nothing_wraps(screen: str) -> None:
    assert "…" not in screen
    assert "Traceback" not in screen and "Error" not in screen
    assert max(len(line) for line in screen.splitlines()) <= WIDTH


def test_no_progress_line_is_left_behind(screen: str) -> None:
    stale = [line for line in screen.splitlines() if re.search(r"\d\.\d%", line)]
    assert stale == []
    assert re.search(r"^demo: \d+ files in the store, [\d,]+ rows$", screen, re.M)
    n = len(list((SOURCES / "usgs" / "mcs2023").glob("*.csv")))
    assert re.search(
        rf"^load: {n} files \({n} loaded\), [\d,]+ rows in [\d.]+ s$", screen, re.M
    )


def test_tables_show_readable_units_whole(screen: str) -> None:
    # Headers and the figures the README quotes, whole, at 100 columns.
    for text in (
        "imports $M",
        "concern %",
        "china %",
        "909.1",  # US batteries imports, $M
        "98.4",  # China's share of gallium refining, %
        "353,320",  # listed rare-earth mine output 2023, t
        "141.8",
    ):
        assert text in screen, text
    # The narrow terminal leaves columns out whole, and says so on stderr.
    assert re.search(
        r"^\(\d+ more columns?: --wide or --format csv shows", screen, re.M
    )
