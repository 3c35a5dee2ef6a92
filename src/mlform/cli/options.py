"""Options shared by commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import click

from mlform.errors import MlformError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class StackOptions:
    """What `--var-file`, `--var` and `--region` gave a command: the files in order, then the
    pairs, and the regions asked for (none: every region of the environment)."""

    files: tuple[str, ...] = ()
    pairs: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    def workspace_args(self) -> dict[str, Any]:
        """Keyword arguments of `Workspace` and `Regions` for the variables."""
        return {"variables": parse_vars(self.pairs), "var_files": self.files}

    def workspace(self, config: str, environment: str | None, *, offline: bool = False,
                  ) -> Any:
        """The one region a command that acts on a single state works on: `--region`, or
        the environment's only one."""
        from mlform.api import Workspace

        if len(self.regions) > 1:
            raise MlformError("this command works on one region's state: give one --region")
        ws = Workspace(config, environment, offline=offline,
                       region=self.regions[0] if self.regions else None,
                       **self.workspace_args())
        names = ws.stack.env.region_names
        if not self.regions and len(names) > 1:
            raise MlformError(f"environment '{ws.context.environment}' is in {len(names)} "
                              f"regions ({', '.join(names)}); this command works on one "
                              "region's state: say which with --region")
        return ws

    def all_regions(self, config: str, environment: str | None, *, offline: bool = False,
                    frozen: bool = False) -> Any:
        """The environment in each region `--region` names, or in all of them."""
        from mlform.regions import Regions

        return Regions(config, environment, self.regions, offline=offline, frozen=frozen,
                       **self.workspace_args())


def stack_options(fn: F) -> F:
    """Options every command that reads the config takes. `--var-file`, `--var` and `--region`
    reach the command together, as one `StackOptions` named `opts`."""

    body = fn

    @functools.wraps(body)
    def command(*args: Any, var_files: tuple[str, ...], variables: tuple[str, ...],
                regions: tuple[str, ...], **kwargs: Any) -> Any:
        return body(*args, opts=StackOptions(var_files, variables, regions), **kwargs)

    fn = cast(F, command)
    fn = click.option("--region", "regions", multiple=True, metavar="REGION",
                      help="Work on this region of the environment only (repeatable; default: "
                      "every region it lists).")(fn)
    fn = _variable_options(lock_timeout_option(fn))
    fn = click.option("-e", "--env", "environment", metavar="ENV", envvar="MLFORM_ENV",
                      help="Environment to act on (default: the first in the config).")(fn)
    return common_options(_config_option(fn))


def config_options(fn: F) -> F:
    """`stack_options` for a command over several environments and all their regions: no
    `-e` and no `--region`; `--var-file` and `--var` reach it as `opts`."""

    body = fn

    @functools.wraps(body)
    def command(*args: Any, var_files: tuple[str, ...], variables: tuple[str, ...],
                **kwargs: Any) -> Any:
        return body(*args, opts=StackOptions(var_files, variables), **kwargs)

    return common_options(_config_option(_variable_options(cast(F, command))))


def _variable_options(fn: F) -> F:
    fn = click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
                      help="Set a variable (repeatable; over --var-file values).")(fn)
    return click.option("--var-file", "var_files", multiple=True, metavar="FILE",
                        type=click.Path(dir_okay=False),
                        help="Set variables from a YAML mapping of name -> value (repeatable; "
                        "a later file wins).")(fn)


def _config_option(fn: F) -> F:
    return click.option("-c", "--config", "config", default="mlform.yaml", show_default=True,
                        envvar="MLFORM_CONFIG", type=click.Path(dir_okay=False),
                        help="Config file.")(fn)


def _set_lock_timeout(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        from mlform.state.backend import LockWait, parse_duration

        LockWait.seconds = parse_duration(value)


def lock_timeout_option(fn: F) -> F:
    return click.option("--lock-timeout", metavar="DURATION", envvar="MLFORM_LOCK_TIMEOUT",
                        expose_value=False, callback=_set_lock_timeout,
                        help="When another command holds the state lock, wait this long for "
                        "it (30s, 5m) instead of failing at once.")(fn)


def common_options(fn: F) -> F:
    fn = click.option("--no-color", is_flag=True, help="Plain output without colours.")(fn)
    fn = click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")(fn)
    return fn


def parse_vars(items: tuple[str, ...]) -> dict[str, Any]:
    """`--var name=value` pairs; values are read as YAML scalars (3 -> int, true -> bool)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise MlformError(f"--var {item}: expected NAME=VALUE")
        try:
            out[name] = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            out[name] = raw
    return out
