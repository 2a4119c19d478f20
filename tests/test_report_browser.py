"""report.html in a real browser: Debian's headless Chromium opens it from disk.

The browser runs with every host name unresolvable, so a chart that needed the
network would not draw. `make test` installs ``chromium`` where it is missing; here
its absence is a failure, not a skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from friendshore import report

FRAMES = Path(__file__).resolve().parent / "fixtures" / "report" / "frames.json"
META = {
    "friendshore.version": "0.1.0",
    "friendshore.created_at": "2025-03-01T12:00:00+00:00",
    "friendshore.command": "report",
}
CHARTS = [
    "spec-prc-share-by-industry",
    "spec-supplier-composition",
    "spec-trends",
    "spec-scenario-before-after",
    "spec-scenario-prices",
]

pytestmark = pytest.mark.slow


def crafted() -> dict[str, pl.DataFrame]:
    raw = json.loads(FRAMES.read_text(encoding="utf-8"))
    return {
        n: pl.DataFrame(t["rows"], schema=t["columns"], orient="row")
        for n, t in raw.items()
    }


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium offline; console messages go to stderr."""
    exe = shutil.which("chromium")
    assert exe is not None, "chromium is not installed (apt-get install chromium)"
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",  # running as root in CI
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # no network at all
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Charts(HTMLParser):
    """Per chart container: its attributes and the SVG marks drawn inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, str | None]] = {}
        self.marks: dict[str, int] = {}
        self.svgs: dict[str, int] = {}
        self._stack: list[str | None] = []  # chart id owning each open element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        owner = self._stack[-1] if self._stack else None
        if tag == "div" and "data-spec" in a:
            owner = str(a["data-spec"])
            self.charts[owner] = a
        if owner is not None:
            if tag == "svg":
                self.svgs[owner] = self.svgs.get(owner, 0) + 1
            if tag in {"path", "rect", "line", "circle"} and self._in_mark:
                self.marks[owner] = self.marks.get(owner, 0) + 1
        cls = a.get("class") or ""
        if tag == "g" and "role-mark" in cls.split():
            self._marks_depth = len(self._stack) + 1
        if tag not in {"path", "rect", "line", "circle", "br", "img", "input", "meta"}:
            self._stack.append(owner)

    _marks_depth = 10**9

    @property
    def _in_mark(self) -> bool:
        return len(self._stack) >= self._marks_depth

    def handle_endtag(self, tag: str) -> None:
        if tag in {"path", "rect", "line", "circle"}:
            return
        if self._stack:
            self._stack.pop()
        if len(self._stack) < self._marks_depth:
            self._marks_depth = 10**9


def render(tmp_path: Path, frames: dict[str, pl.DataFrame]) -> tuple[Charts, str]:
    out = tmp_path / "report"
    report.write_report(report.ReportData(frames, META, subject="USA", year=2022), out)
    run = chromium(tmp_path / "profile", "--dump-dom", (out / "report.html").as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    dom = Charts()
    dom.feed(run.stdout)
    return dom, run.stderr


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.search(r":CONSOLE[:(]", line)]


def test_every_chart_renders_offline_without_console_errors(tmp_path: Path) -> None:
    dom, stderr = render(tmp_path, crafted())
    assert list(dom.charts) == CHARTS
    for chart_id, attrs in dom.charts.items():
        assert attrs.get("data-error") is None, (chart_id, attrs.get("data-error"))
        assert attrs.get("data-rendered") == "true", chart_id
        assert dom.svgs.get(chart_id, 0) >= 1, chart_id
    # Marks drawn: 3 industry bars; 5 products × 4 tiers of stacked bars; …
    assert dom.marks["spec-prc-share-by-industry"] == 3
    assert dom.marks["spec-supplier-composition"] == 20
    assert dom.marks["spec-trends"] == 3 + 9  # 3 lines, 9 points
    assert dom.marks["spec-scenario-before-after"] == 2 + 4  # 2 rules, 4 dots
    assert dom.marks["spec-scenario-prices"] == 4  # 2 industries × price, quantity
    assert console_lines(stderr) == []


def test_a_broken_chart_shows_its_error_and_the_test_sees_it(tmp_path: Path) -> None:
    # The harness must be able to fail: a page whose spec is invalid is caught.
    out = tmp_path / "report"
    report.write_report(report.ReportData(crafted(), META), out)
    page = out / "report.html"
    text = page.read_text(encoding="utf-8")
    marker = '"mark": {"type": "bar"'
    assert marker in text
    page.write_text(text.replace(marker, '"mark": {"type": "no-such-mark"', 1))
    run = chromium(tmp_path / "profile", "--dump-dom", page.as_uri())
    dom = Charts()
    dom.feed(run.stdout)
    broken = dom.charts["spec-prc-share-by-industry"]
    assert broken.get("data-rendered") is None
    error = str(broken.get("data-error") or "")
    assert error.startswith("TypeError")  # vega's own message for the unknown mark
    assert any(error.split(":")[0] in line for line in console_lines(run.stderr))
    # The other charts still draw.
    assert dom.charts["spec-supplier-composition"].get("data-rendered") == "true"


def test_the_report_on_real_bundled_data_renders(tmp_path: Path) -> None:
    from friendshore import sources
    from friendshore.store import Store

    root = Path(__file__).resolve().parent.parent / "data"
    with Store(tmp_path / "store.duckdb") as store:
        sources.load(
            store, "comtrade", sorted((root / "sources" / "comtrade").glob("*.csv"))
        )
        sources.load(
            store, "usgs", sorted((root / "sources" / "usgs" / "mcs2024").glob("*.csv"))
        )
        data = report.build_report(
            store, importer="USA", scenarios=[root / "scenarios" / "us-magnets.toml"]
        )
    out = tmp_path / "report"
    report.write_report(data, out)
    run = chromium(tmp_path / "profile", "--dump-dom", (out / "report.html").as_uri())
    dom = Charts()
    dom.feed(run.stdout)
    assert list(dom.charts) == CHARTS
    for chart_id, attrs in dom.charts.items():
        assert attrs.get("data-rendered") == "true", (chart_id, attrs.get("data-error"))
        assert dom.marks.get(chart_id, 0) > 0, chart_id
    assert console_lines(run.stderr) == []
