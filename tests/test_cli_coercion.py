"""Option values coerced without pydantic give exactly what Typer's coercion gives.

friendshore.cli.app coerces the plain option types itself (issue 17: Typer's pydantic
adapters cost ~0.1 s of a 0.5 s query) and hands everything it is unsure of to
Typer. Here both paths meet every option type the CLI declares, on valid and invalid
values: the same value of the same type, or the same error type and message. A Typer
upgrade that changes its coercion, or moves the private hook, fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import typer.core
import typer.main
from typer._click import Context
from typer._coercion import build_runtime_param

from friendshore.cli import app

APP = sys.modules["friendshore.cli.app"]


def _params() -> list[tuple[str, Any, Any]]:
    """(command path, click command, parameter) for every parameter of the CLI."""
    found: list[tuple[str, Any, Any]] = []

    def walk(command: Any, path: str) -> None:
        for param in command.params:
            found.append((f"{path} {param.name}".strip(), command, param))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "")
    return found


PARAMS = _params()


def _values(param: Any, tmp: Path) -> list[Any]:
    """Valid and invalid inputs for a parameter's type, as argv and defaults give."""
    desc = param.type_descriptor
    annotation = desc.annotation
    if get_origin(annotation) is list:
        (leaf,) = get_args(annotation)
        items = _leaf_values(leaf, param, tmp)
        return [tuple(items[:2]), tuple(items), (), [items[0]], ("x", 1), (None,)]
    if get_origin(annotation) is tuple:
        leaves = [_leaf_values(a, param, tmp) for a in get_args(annotation)]
        pairs = [tuple(v) for v in zip(*leaves, strict=False)]
        return [*pairs, pairs[0][:1], (*pairs[0], pairs[0][0]), [*pairs[1]], "1", 1]
    return _leaf_values(annotation, param, tmp)


def _leaf_values(annotation: Any, param: Any, tmp: Path) -> list[Any]:
    common: list[Any] = ["", " ", "abc", b"bytes", None, object()]
    if annotation is str:
        return ["USA", " usa ", "ümlaut", "-", "1", 5, 1.5, True, *common]
    if annotation is bool:
        return [True, False, "true", "no", "1", "off", 1, 0, *common]
    if annotation is int:
        return [
            "2022", "007", "-3", "+5", "0", "1", "1899", "1900", " 5", "5 ", "1_000",
            "1.0", "1.5", "1e3", "٣", "99999999999999999999999", "-0",
            2022, 0, 1, True, 1.5, *common,
        ]  # fmt: skip
    if annotation is float:
        return [
            "0.5", "1", "-0", ".5", "5.", "1e3", "1E-2", "2", "-0.1", "1.0000001",
            "nan", "inf", "-inf", "1e999", "1_0", " 0.5", "0x10", "١",
            0.5, 1.0, 0.0, 2.0, 1, True, float("nan"), *common,
        ]  # fmt: skip
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        members = list(annotation)
        texts = [str(m.value) for m in members]
        return [
            *members, *texts, *(t.upper() for t in texts), *(f" {t}" for t in texts),
            "bogus", 3, *common,
        ]  # fmt: skip
    if annotation is Path:
        a_file = tmp / "a.csv"
        a_file.write_text("x\n")
        return [
            "out.csv", str(a_file), str(tmp), "~/x", "a/../b", ".", "-",
            Path("p.csv"), a_file, 5, *common,
        ]  # fmt: skip
    return [*common, "1", "1 2"]


def _outcome(runtime: Any, value: Any, param: Any, ctx: Any) -> tuple[Any, ...]:
    try:
        got = runtime.coerce(value, param=param, ctx=ctx)
    except Exception as exc:  # the error is the outcome compared
        return ("error", type(exc), str(exc))
    if isinstance(got, (list, tuple)):
        return ("value", type(got), [(type(g), g) for g in got])
    return ("value", type(got), got)


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    # NaN is not equal to itself: outcomes holding one compare by their repr.
    return a == b or ("nan" in repr(a) and repr(a) == repr(b))


def test_the_hook_is_in_place() -> None:
    # If a Typer upgrade moves the hook, the CLI still works (on Typer's own,
    # slower coercion) but this test says the fast path is gone.
    assert typer.core._TyperParameter.get_runtime_param is APP._runtime_param


def test_every_plain_option_type_is_coerced_here() -> None:
    # An option type that went to Typer would load pydantic on every run of its
    # command (its coercion is built even for an absent option's None).
    to_typer = {
        repr(p.type_descriptor.annotation)
        for _, _, p in PARAMS
        if APP._plain_coercion(p.type_descriptor) is None
    }
    assert to_typer == set()


@pytest.mark.parametrize(
    ("name", "command", "param"), PARAMS, ids=[name for name, _, _ in PARAMS]
)
def test_coercion_equals_typers(
    name: str, command: Any, param: Any, tmp_path: Path
) -> None:
    ctx = Context(command)
    ours = APP._runtime_param(_Fresh(param))
    theirs = build_runtime_param(param.type_descriptor)
    assert isinstance(ours, APP._PlainParam) == (
        APP._plain_coercion(param.type_descriptor) is not None
    )
    checked = 0
    for value in _values(param, tmp_path):
        mine = _outcome(ours, value, param, ctx)
        typers = _outcome(theirs, value, param, ctx)
        assert _same(mine, typers), (name, value, mine, typers)
        checked += 1
    assert checked >= 5


class _Fresh:
    """A parameter's descriptor with no runtime coercion built yet."""

    def __init__(self, param: Any) -> None:
        self.type_descriptor = param.type_descriptor
        self._runtime_param = None


def test_the_fast_path_is_taken_for_a_plain_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A valid value never reaches Typer's pydantic coercion.
    calls: list[Any] = []
    monkeypatch.setattr(APP, "build_runtime_param", lambda d: calls.append(d))
    year = next(p for n, _, p in PARAMS if n == "exposure year")
    level = next(p for n, _, p in PARAMS if n == "exposure level")
    ctx = Context(typer.main.get_command(app))
    assert APP._runtime_param(_Fresh(year)).coerce("2022", year, ctx) == 2022
    got = APP._runtime_param(_Fresh(level)).coerce("industry", level, ctx)
    assert got.value == "industry"
    assert calls == []


_BAD = [
    ("exposure", "--year", "abc"),
    ("exposure", "--year", "1.5"),
    ("registry", "list", "--year", "1800"),
    ("registry", "list", "--year", "12x"),
    ("exposure", "--top", "0"),
    ("exposure", "--level", "bogus"),
    ("exposure", "--format", "xml"),
    ("exposure", "--engine", "Spark2"),
    ("concentration", "--stage", "quarry"),
    ("flags", "--min-coverage", "abc"),
    ("flags", "--min-coverage", "1.5"),
    ("simulate", "s.toml", "--capacity-range", "0.1", "x"),
]


@pytest.mark.parametrize("args", _BAD, ids=[" ".join(a) for a in _BAD])
def test_bad_values_exit_2_with_typers_message(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    # The same command run with Typer's own coercion (the hook undone) in another
    # process prints the reference message.
    ours = _run(args, tmp_path, typer_own=False)
    theirs = _run(args, tmp_path, typer_own=True)
    assert ours.returncode == theirs.returncode == 2
    assert ours.stderr == theirs.stderr
    assert "Invalid value" in ours.stderr


_RUN = """
import json, sys
import typer._coercion, typer.core
from friendshore.cli import main
if sys.argv[2] == "typer":
    def own(self):
        if self._runtime_param is None:
            self._runtime_param = typer._coercion.build_runtime_param(self.type_descriptor)
        return self._runtime_param
    typer.core._TyperParameter.get_runtime_param = own
sys.argv = ["friendshore", *json.loads(sys.argv[1])]
main()
"""


def _run(
    args: tuple[str, ...], cwd: Path, *, typer_own: bool
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            _RUN,
            json.dumps(args),
            "typer" if typer_own else "ours",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin", "TERM": "dumb"},
    )
