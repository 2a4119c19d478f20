"""CLI-wide contracts: help with an example on every command, exit codes, --db."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from friendshore.cli import app

from .conftest import run_cli


def _commands() -> list[tuple[str, object]]:
    root = typer.main.get_command(app)
    out: list[tuple[str, object]] = []

    def walk(cmd: object, path: str) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{path} {name}".strip())
        else:
            out.append((path, cmd))

    walk(root, "")
    return out


def test_there_are_commands() -> None:
    names = {name for name, _ in _commands()}
    assert {"load", "info", "demo"} <= names


@pytest.mark.parametrize("name", [n for n, _ in _commands()])
def test_every_command_has_help_with_an_example(name: str) -> None:
    result = run_cli(*name.split(), "--help")
    assert result.exit_code == 0, result.stderr
    assert "Example" in result.stdout, f"`friendshore {name} --help` shows no example"


def test_missing_store_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("info", db=tmp_path / "absent.duckdb")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: No store at ")
    assert result.stderr.count("\n") == 1


def test_unknown_source_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("load", "bogus", "x.csv", db=tmp_path / "s.duckdb")
    assert result.exit_code == 2
    assert "bogus" in result.stderr


def test_option_for_another_source_is_rejected(tmp_path: Path) -> None:
    result = run_cli(
        "load", "usgs", "x.csv", "--prefer", "imports", db=tmp_path / "s.duckdb"
    )
    assert result.exit_code == 2
    assert result.stderr == "Error: --prefer does not apply to `load usgs`\n"


def test_info_on_an_empty_store_as_json(tmp_path: Path) -> None:
    import json

    db = tmp_path / "s.duckdb"
    from friendshore.store import Store

    Store(db).close()
    result = run_cli("info", "--format", "json", db=db)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["store"][0]["path"] == str(db)
    assert payload["trade_flows"] == [] and payload["loads"] == []


def test_env_var_selects_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "env.duckdb"
    from friendshore.store import Store

    Store(db).close()
    monkeypatch.setenv("FRIENDSHORE_DB", str(db))
    result = run_cli("info", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert str(db) in result.stdout


@pytest.mark.parametrize("name", [n for n, _ in _commands()])
def test_every_command_is_in_the_readme(name: str) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert f"`friendshore {name}`" in readme, f"README lacks `friendshore {name}`"


def _wide_table() -> object:
    import polars as pl

    from friendshore.cli.render import rich_table

    names = [f"column_number_{i}" for i in range(8)]
    return rich_table(pl.DataFrame({n: [1.5] for n in names}), "wide")


def test_a_wide_table_off_a_terminal_keeps_its_natural_width(capsys) -> None:  # type: ignore[no-untyped-def]
    import io

    from rich.console import Console

    from friendshore.cli.render import _print_table

    out = io.StringIO()
    _print_table(Console(file=out, width=60), _wide_table())  # type: ignore[arg-type]
    header = out.getvalue().splitlines()[1]
    # 8 columns of 15 characters, two spaces apart: 134 > 60, nothing cut.
    assert header == "  ".join(f"column_number_{i}" for i in range(8))
    assert capsys.readouterr().err == ""


def test_a_table_wider_than_the_terminal_is_never_cut(capsys) -> None:  # type: ignore[no-untyped-def]
    import io

    from rich.console import Console

    from friendshore.cli.render import _print_table

    out = io.StringIO()
    console = Console(file=out, width=60, force_terminal=True, color_system=None)
    _print_table(console, _wide_table())  # type: ignore[arg-type]
    assert "…" not in out.getvalue()
    assert out.getvalue().splitlines()[1].split() == [
        f"column_number_{i}" for i in range(8)
    ]
    assert capsys.readouterr().err == (
        "(the table needs 134 columns, the terminal has 60: pipe it to `less -S`, "
        "or use --format csv)\n"
    )
