"""`python -m mlform` runs the CLI."""

from mlform.cli.entry import main

main()
