"""``python -m rcmflow`` runs the command line."""

from rcmflow.entrypoints.cli import main

main()
