"""mlform: infrastructure as code for machine learning platforms.

    import mlform
    ws = mlform.Workspace("mlform.yaml", environment="dev")

`Workspace` is imported on first use, so `import mlform` (and the CLI's start-up) stays cheap.
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing costs 12 ms of every start-up, during which a
# Ctrl-C could only end in a traceback. Type checkers take MYPY as true.
MYPY = False
if MYPY:
    from mlform.api import Workspace

__version__ = "0.1.0"
__all__ = ["Workspace", "__version__"]


def __getattr__(name: str) -> object:
    if name == "Workspace":
        from mlform.api import Workspace

        return Workspace
    raise AttributeError(f"module 'mlform' has no attribute {name!r}")
