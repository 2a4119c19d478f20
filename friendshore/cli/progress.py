"""One live progress line on stderr behind the library's ``progress(desc, done, total)``.

Loaders report each file and each step under its own description; drawing one bar per
description left dozens of frozen bars on screen. Here every report rewrites the same
line (the latest step, its percentage, the time so far), shortened to the terminal's
width so it never wraps, and the line is erased when the step ends. Nothing is drawn
when stderr is not a terminal.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from friendshore.progress import ProgressFn

_CLEAR = "\r\x1b[2K"
_EVERY = 0.1  # seconds between redraws of the same step


class ProgressLine:
    """The live line: redrawn in place, throttled, erased by :meth:`clear`."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.steps = 0
        self._desc: str | None = None
        self._drawn = 0.0
        self._visible = False

    def update(self, description: str, completed: float, total: float | None) -> None:
        """Show ``description`` and how far it is; a new description is a new step."""
        now = time.monotonic()
        if description != self._desc:
            self.steps += 1
            self._desc = description
        elif now - self._drawn < _EVERY:
            return
        self._drawn = now
        done = f"{100 * completed / total:5.1f}%" if total else ""
        text = f"{description} {done} {now - self.started:4.0f}s".replace("\n", " ")
        width = shutil.get_terminal_size((80, 24)).columns - 1
        if len(text) > width:
            text = text[: max(width - 1, 0)] + "…"
        self.stream.write(_CLEAR + text)
        self.stream.flush()
        self._visible = True

    def clear(self) -> None:
        """Erase the line (the cursor goes back to column 0)."""
        if self._visible:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self._visible = False

    @property
    def seconds(self) -> float:
        """Time since the line was opened."""
        return time.monotonic() - self.started


def _ignore(description: str, completed: float, total: float | None) -> None:
    """Progress off a terminal: nothing to draw."""


@contextmanager
def progress_bar(stream: TextIO | None = None) -> Iterator[ProgressFn]:
    """Yield a progress callback drawing one live line on stderr (a terminal only)."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        yield _ignore
        return
    line = ProgressLine(out)
    try:
        yield line.update
    finally:
        line.clear()


def summary(text: str) -> None:
    """A one-line summary on stderr after a long job, for a person at a terminal."""
    if sys.stderr.isatty():
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
