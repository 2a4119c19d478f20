"""The CLI builds only the command a command line names (issue 17: Typer builds every
command's Click object on each run, ~25 ms of a 0.5 s query). What a user sees must
not change: help, errors and output of every command and group are compared with the
whole tree's here."""

from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from friendshore.cli import app
from friendshore.cli.app import GLOBAL_VALUE_OPTIONS, invoked_command, only_command

runner = CliRunner()


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["exposure", "--importer", "USA"], "exposure"),
        (["--db", "x.duckdb", "exposure"], "exposure"),
        (["--db=x.duckdb", "--read-only", "registry", "list"], "registry"),
        (["--db", "exposure", "simulate"], "simulate"),  # a value named like a command
        (["--memory-limit", "500MB", "--debug", "load", "baci", "f.zip"], "load"),
        (["--help"], None),
        (["--version"], None),
        ([], None),
        (["--db", "x.duckdb"], None),
        (["--", "exposure"], None),
    ],
)
def test_the_command_a_command_line_names(argv: list[str], name: str | None) -> None:
    assert invoked_command(argv) == name


def test_the_global_options_that_take_a_value_are_the_callbacks() -> None:
    root = typer.main.get_command(app)
    takes_value = {
        opt
        for p in root.params
        if not getattr(p, "is_flag", False) and getattr(p, "opts", None)
        for opt in p.opts
    }
    assert takes_value == GLOBAL_VALUE_OPTIONS


def _names() -> list[str]:
    root = typer.main.get_command(app)
    return sorted(root.commands)  # type: ignore[attr-defined]


def _invoke(args: list[str], name: str | None) -> tuple[int, str]:
    with only_command(name):
        result = runner.invoke(app, args, env={"COLUMNS": "100"})
    return result.exit_code, result.output


@pytest.mark.parametrize("name", _names())
def test_help_of_every_command_is_the_whole_trees(name: str) -> None:
    with only_command(name):  # the command or group alone
        assert len(app.registered_commands) + len(app.registered_groups) == 1
    whole = _invoke([name, "--help"], None)
    alone = _invoke([name, "--help"], name)
    assert alone == whole
    assert whole[0] == 0 and name in whole[1]
    root = typer.main.get_command(app)
    group = root.commands[name]  # type: ignore[attr-defined]
    for sub in sorted(getattr(group, "commands", {})):  # a group's own commands
        assert _invoke([name, sub, "--help"], name) == _invoke(
            [name, sub, "--help"], None
        )


@pytest.mark.parametrize(
    "args",
    [
        ["exposure", "--year", "abc"],
        ["exposure", "--no-such-option"],
        ["simulate"],
        ["registry", "nope"],
        ["registry", "list", "--format", "xml"],
    ],
)
def test_errors_are_the_whole_trees(args: list[str]) -> None:
    whole = _invoke(args, None)
    alone = _invoke(args, args[0])
    assert alone == whole
    assert whole[0] == 2


def test_a_misspelt_or_no_command_builds_the_whole_tree() -> None:
    for args in (["exposre"], [], ["--help"]):
        assert _invoke(args, invoked_command(args)) == _invoke(args, None)
    with only_command("exposre"):
        assert len(app.registered_commands) > 1
    with only_command("exposure"):
        assert [c.callback.__name__ for c in app.registered_commands] == ["exposure"]
    assert len(app.registered_commands) > 1  # restored on the way out


def test_output_of_a_command_is_the_whole_trees() -> None:
    args = ["registry", "list", "--format", "csv"]
    whole = _invoke(args, None)
    assert whole[0] == 0 and whole[1].count("\n") > 5
    assert _invoke(args, "registry") == whole
