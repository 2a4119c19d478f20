"""The progress-callback protocol library code uses instead of printing.

A loader or engine calls ``progress(description, completed, total)``; the CLI
turns the calls into a rich progress bar. ``total`` is None when unknown.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[str, float, float | None], None]


def no_progress(description: str, completed: float, total: float | None) -> None:
    """The default callback: ignore progress."""
