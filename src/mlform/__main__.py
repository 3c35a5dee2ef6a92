"""`python -m mlform` runs the CLI."""

from mlform.cli.main import main

main()
