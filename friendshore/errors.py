"""The friendshore exception hierarchy.

Library code raises these; only the CLI maps them to exit codes
(``InputError`` → 2, any other ``FriendshoreError`` → 1).
"""

from __future__ import annotations


class FriendshoreError(Exception):
    """Root of every error friendshore raises on purpose."""


class InputError(FriendshoreError, ValueError):
    """Bad input: a file, an argument or a name the user gave (exit code 2)."""


class SourceFormatError(InputError):
    """A source file is not what its loader reads; says file, row and column."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.detail = message
        where = file
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


class SchemaError(InputError):
    """Missing, extra or mistyped columns; lists all of them at once."""


class UnknownNameError(InputError):
    """An unknown group, query, industry, country or other name."""

    def __init__(self, kind: str, name: str, choices: list[str] | None = None) -> None:
        import difflib

        self.kind = kind
        self.name = name
        msg = f"Unknown {kind} {name!r}."
        if choices:
            close = difflib.get_close_matches(name, choices, n=1)
            if close:
                msg += f" Did you mean {close[0]!r}?"
            else:
                shown = ", ".join(sorted(choices)[:12])
                more = " …" if len(choices) > 12 else ""
                msg += f" Expected one of: {shown}{more}"
        super().__init__(msg)


class ParameterError(InputError):
    """A bad or missing parameter of a query, metric or scenario."""


class StoreBusyError(FriendshoreError):
    """The store file is locked by another process."""


class StoreError(FriendshoreError):
    """The store cannot be opened or is not a friendshore store."""


class StoreMissingError(InputError):
    """No store at the given path (a read-only command needs one)."""


class QueryDefinitionError(FriendshoreError):
    """A malformed ``queries/*.sql`` file (header, parameters)."""


class ReferenceDataError(FriendshoreError):
    """Bundled reference data is missing or corrupt."""


class ExportError(FriendshoreError):
    """A report or export cannot be written."""


class FriendshoreWarning(UserWarning):
    """A non-fatal data-quality issue worth the user's attention."""
