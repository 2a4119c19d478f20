"""The Typer application, its global options and the one error boundary.

Exit codes: 0 success; 1 a failure (store busy, unexpected error); 2 bad usage or
bad input (``InputError``: files, names, parameters).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="friendshore")
    except BrokenPipeError:
        # `friendshore … | head`: the reader left; stop quietly like other CLI tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(0)
