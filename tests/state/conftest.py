"""The real CLI in a subprocess, for state tests that watch a whole command."""

from tests.cli.conftest import cli  # noqa: F401  (a fixture)
