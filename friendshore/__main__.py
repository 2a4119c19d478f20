"""``python -m friendshore`` runs the CLI."""

from friendshore.cli import main

main()
