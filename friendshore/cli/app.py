"""The Typer application, its global options and the one error boundary.

Exit codes: 0 success; 1 a failure (store busy, unexpected error); 2 bad usage or
bad input (``InputError``: files, names, parameters).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

import typer
import typer.core

from friendshore.errors import FriendshoreError, InputError, ParameterError

if TYPE_CHECKING:
    from friendshore.store import Store


@dataclass
class State:
    """Global options, shared by every command through the Typer context."""

    db: Path | None = None
    read_only: bool = False
    memory_limit: str | None = None
    debug: bool = False

    def open_store(self, *, read_only: bool | None = None) -> Store:
        """Open the store with the global options (``--read-only`` wins)."""
        from friendshore.store import Store  # DuckDB loads only when a store opens

        ro = self.read_only or bool(read_only)
        return Store(self.db, read_only=ro, memory_limit=self.memory_limit)

    @contextmanager
    def writing_store(self, command: str) -> Iterator[Store]:
        """The store opened for writing by ``command`` (``load``, ``demo``).

        ``--read-only`` is a usage error here, not DuckDB's refusal halfway. A
        command that fails on a path that held no store leaves no store behind: an
        empty file would make the next reader believe data had been loaded.
        """
        if self.read_only:
            raise ParameterError(
                f"`{command}` writes to the store; drop --read-only to {command}"
            )
        from friendshore.store import default_db_path

        path = self.db if self.db is not None else default_db_path()
        fresh = str(path) != ":memory:" and not Path(path).exists()
        try:
            with self.open_store() as store:
                yield store
        except BaseException:
            if fresh:
                for leftover in (Path(path), Path(f"{path}.wal")):
                    leftover.unlink(missing_ok=True)
            raise


def _flag_type(display: Any) -> Any:
    """Typer shows a flag's type as ``<bool>``, as if it took a value: show none."""

    def display_type_rich(self: typer.core.TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else display(self, ctx)

    return display_type_rich


typer.core.TyperOption.display_type_rich = _flag_type(  # type: ignore[method-assign]
    typer.core.TyperOption.display_type_rich
)


# -- option values without pydantic ----------------------------------------------------
# Typer (0.29) coerces every option value through a pydantic TypeAdapter built on first
# use: importing pydantic and building the adapters of the `exposure` command's 22
# options took ~0.1 s of a 0.5 s query (issue 17). Typer has no public hook; this is the
# one private one (`_TyperParameter.get_runtime_param`). The plain types the CLI uses
# (str, bool, int and float with min/max, Enum choices, Path, lists and pairs of those) are coerced
# here, and only values whose result is certain: a plain string of ASCII digits for an
# int, the value's own type, a choice Typer's own `coerce_cli_choice` accepts. Anything
# else (another type, clamp, a parser, a value these rules do not plainly accept, and
# so every error) goes to Typer's own coercion, so results and error messages are
# Typer's. tests/test_cli_coercion.py compares both paths on every option type the CLI
# uses; a Typer without this hook keeps its own coercion.
try:
    from typer._click.exceptions import BadParameter
    from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
    from typer._param_types import coerce_cli_choice, coerce_cli_path
except ImportError:  # pragma: no cover - another Typer: its own coercion throughout
    RuntimeParam = None  # type: ignore[assignment,misc]

_INT = re.compile(r"[+-]?[0-9]{1,18}")
_FLOAT = re.compile(
    r"[+-]?(?:[0-9]{1,18}\.?[0-9]{0,18}|\.[0-9]{1,18})(?:[eE][+-]?[0-9]{1,2})?"
)

Coerce = Callable[[Any, Any, Any], Any]  # (value, ctx, param) -> value


class _Unsure(Exception):
    """The plain rules do not settle this value: Typer's coercion decides."""


def _plain_leaf(annotation: Any, info: Any) -> Coerce | None:
    """How to coerce one value of ``annotation`` without pydantic, or None."""
    if info.parser is not None:
        return None
    if annotation in (str, bool):  # a flag's value: already a bool, or Typer's

        def same(value: Any, ctx: Any, param: Any) -> Any:
            if type(value) is annotation:
                return value
            raise _Unsure

        return same
    if annotation in (int, float) and not info.clamp:
        pattern = _INT if annotation is int else _FLOAT
        low, high = info.min, info.max

        def number(value: Any, ctx: Any, param: Any) -> Any:
            if type(value) is str and pattern.fullmatch(value):
                value = annotation(value)
            elif type(value) is not annotation:
                raise _Unsure
            if value != value or (low is not None and value < low):
                raise _Unsure
            if high is not None and value > high:
                raise _Unsure
            return value

        return number
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        choices = tuple(annotation)

        def choice(value: Any, ctx: Any, param: Any) -> Any:
            return coerce_cli_choice(
                value, choices=choices, case_sensitive=info.case_sensitive, ctx=ctx
            )

        return choice
    if annotation is Path and info.path_type is None:

        def path(value: Any, ctx: Any, param: Any) -> Any:
            if type(value) is str:
                value = Path(value)
            elif not isinstance(value, Path):
                raise _Unsure
            return coerce_cli_path(value, info, path_type=Path, param=param, ctx=ctx)

        return path
    return None


def _plain_coercion(descriptor: Any) -> Coerce | None:
    """The coercion of a plain option type (a leaf, a list of one or a fixed tuple
    of them), or None."""
    annotation, info = descriptor.annotation, descriptor.parameter_info
    if descriptor.file_annotation is not None:
        return None
    if get_origin(annotation) is tuple:
        leaves = [_plain_leaf(a, info) for a in get_args(annotation)]
        if not leaves or any(leaf is None for leaf in leaves):
            return None  # also tuple[X, ...]: Ellipsis is no leaf
        parts = [leaf for leaf in leaves if leaf is not None]

        def fixed(value: Any, ctx: Any, param: Any) -> Any:
            if not isinstance(value, (list, tuple)) or len(value) != len(parts):
                raise _Unsure
            return tuple(p(v, ctx, param) for p, v in zip(parts, value, strict=True))

        return fixed
    if get_origin(annotation) is list:
        args = get_args(annotation)
        leaf = _plain_leaf(args[0], info) if len(args) == 1 else None
        if leaf is None:
            return None
        one = leaf

        def many(value: Any, ctx: Any, param: Any) -> Any:
            items = value if isinstance(value, (list, tuple)) else [value]
            return [one(item, ctx, param) for item in items]

        return many
    return _plain_leaf(annotation, info)


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _PlainParam(RuntimeParam):
        """A plain option's coercion; Typer's own for whatever it is unsure of."""

        descriptor: TypeDescriptor
        plain: Coerce

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self.plain(value, ctx, param)
            except (_Unsure, ValueError, TypeError, BadParameter):
                typer_own = build_runtime_param(self.descriptor)
                return typer_own._coerce_value(value, param=param, ctx=ctx)

    def _runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            descriptor = self.type_descriptor
            plain = _plain_coercion(descriptor)
            self._runtime_param = (
                build_runtime_param(descriptor)
                if plain is None
                else _PlainParam(
                    parameter_info=descriptor.parameter_info,
                    annotation=descriptor.annotation,
                    descriptor=descriptor,
                    plain=plain,
                )
            )
        return self._runtime_param

    typer.core._TyperParameter.get_runtime_param = _runtime_param  # type: ignore[method-assign]


def _version(value: bool) -> None:
    if value:
        from friendshore import __version__

        typer.echo(f"friendshore {__version__}")
        raise typer.Exit()


class _Group(typer.core.TyperGroup):
    """Root group that turns friendshore errors into one line and an exit code."""

    def invoke(self, ctx: Any) -> Any:  # click.Context (typer vendors click)
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except InputError as exc:
            _fail(ctx, exc, 2)
        except FriendshoreError as exc:
            _fail(ctx, exc, 1)
        except BrokenPipeError:
            raise
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            state = ctx.obj if isinstance(ctx.obj, State) else State()
            if state.debug:
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if type(exc).__name__ == "OutOfMemoryException":  # DuckDB's, by name
                typer.echo(
                    f"Error: the store ran out of memory ({first}); "
                    "raise --memory-limit or free memory",
                    err=True,
                )
                raise typer.Exit(1) from None
            typer.echo(
                f"Error: unexpected {type(exc).__name__}: {first} "
                "(run with --debug for the traceback)",
                err=True,
            )
            raise typer.Exit(1) from None


def _fail(ctx: typer.Context, exc: Exception, code: int) -> None:
    state = ctx.obj if isinstance(ctx.obj, State) else State()
    if state.debug:
        raise exc
    message = " ".join(str(exc).split())  # one line, always
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
    help=(
        "friendshore — PRC exposure, concentration and friend-shoring scenarios for "
        "defense-critical supply chains.\n\n"
        "Example: friendshore --db trade.duckdb load baci BACI_HS17_V202501.zip"
    ),
)


@app.callback()
def _global(
    ctx: typer.Context,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db",
            envvar="FRIENDSHORE_DB",
            help="Store file (default ./friendshore.duckdb; env FRIENDSHORE_DB).",
            show_default=False,
        ),
    ] = None,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Open the store read-only.")
    ] = False,
    memory_limit: Annotated[
        str | None,
        typer.Option("--memory-limit", help="DuckDB memory limit, e.g. 500MB."),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks on errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print friendshore's version and exit.",
            callback=_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Global options go before the command."""
    ctx.obj = State(db=db, read_only=read_only, memory_limit=memory_limit, debug=debug)


def state(ctx: typer.Context) -> State:
    """The global options of this invocation."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


# -- building only the command a process runs ---------------------------------------
# Typer builds the Click object of every command on each run (~25 ms for the 16
# commands and groups here, 5 % of a one-importer query's 0.5 s; issue 17). A command
# line that names a command builds that one alone: its options, help, output and errors
# are the same (tests/test_cli_lazy.py compares them for every command). No command,
# root --help, --version or a misspelt name build the whole tree as before.
GLOBAL_VALUE_OPTIONS = frozenset({"--db", "--memory-limit"})  # the global options
# that take a value (a test checks this against the callback below)


def invoked_command(argv: list[str]) -> str | None:
    """The command a command line names: its first word after the global options
    (None when there is none)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
        i += 2 if arg in GLOBAL_VALUE_OPTIONS else 1
    return None


@contextmanager
def only_command(name: str | None) -> Iterator[None]:
    """:data:`app` with the command or group ``name`` alone while inside (all of
    them when it has none of that name)."""
    from typer.main import get_command_name

    commands, groups = list(app.registered_commands), list(app.registered_groups)
    keep_c = [
        c
        for c in commands
        if (c.name or get_command_name(c.callback.__name__ if c.callback else ""))
        == name
    ]
    keep_g = [g for g in groups if g.name == name]
    if keep_c or keep_g:
        app.registered_commands[:] = keep_c
        app.registered_groups[:] = keep_g
    try:
        yield
    finally:
        app.registered_commands[:] = commands
        app.registered_groups[:] = groups


def main() -> None:
    """Console-script entry point."""
    try:
        with only_command(invoked_command(sys.argv[1:])):
            app(prog_name="friendshore")
    except BrokenPipeError:
        # `friendshore … | head`: the reader left; stop quietly like other CLI tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(0)
