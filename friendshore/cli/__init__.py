"""The command-line interface: a thin Typer layer over the library.

Each command module registers its commands on :data:`app` when imported.
"""

from .app import app, main

# Command modules (import order = order in --help).
from . import load  # noqa: F401  isort: skip

# helpers: add one import line per command module below this line
from . import report  # noqa: F401  isort: skip
from . import registry  # noqa: F401  isort: skip
from . import simulate  # noqa: F401  isort: skip
from . import exposure  # noqa: F401  isort: skip
from . import parquet  # noqa: F401  isort: skip
from . import coalitions  # noqa: F401  isort: skip


__all__ = ["app", "main"]
