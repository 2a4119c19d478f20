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


def _edits(a: str, b: str) -> int:
    """Edit distance counting a swap of two neighbours as one edit (FNI → FIN)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def closest(name: str, choices: list[str]) -> str | None:
    """The choice ``name`` most likely misspells, or None when none is close.

    Close means a few edits away (a swap of neighbours is one: FNI → FIN, not
    NIU), and never a different number: MCS2021 is another edition, not a typo of
    MCS2025, so it gets no suggestion.
    """
    import difflib

    folded = name.casefold()
    for choice in choices:
        if choice.casefold() == folded:
            return choice
    limit = 1 if len(name) <= 4 else 2 if len(name) <= 8 else 3
    scored = []
    for choice in choices:
        if _digits(choice) != _digits(name):
            continue
        edits = _edits(folded, choice.casefold())
        if edits <= limit:
            ratio = difflib.SequenceMatcher(None, folded, choice.casefold()).ratio()
            # Same letters in another order (a swap) beats a changed letter.
            anagram = sorted(choice.casefold()) == sorted(folded)
            scored.append((edits, not anagram, -ratio, choice))
    return min(scored)[-1] if scored else None


class UnknownNameError(InputError):
    """An unknown group, query, industry, country or other name."""

    def __init__(self, kind: str, name: str, choices: list[str] | None = None) -> None:
        self.kind = kind
        self.name = name
        msg = f"Unknown {kind} {name!r}."
        if choices:
            close = closest(name, choices)
            if close:
                msg += f" Did you mean {close!r}?"
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
