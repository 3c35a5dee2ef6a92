"""Load `mlform.yaml` for one environment into a `Stack`: the desired resources, checked.

Checks, each reported with file:line:column and config path, all at once: YAML syntax, the
top-level schema, variables, every resource's arguments against its type's schema, references
(`${...}`) to unknown variables, resources or attributes, and dependency cycles.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mlform.config.models import (
    META_ARGUMENTS,
    Config,
    EnvironmentConfig,
    LifecycleConfig,
    OutputConfig,
)
from mlform.config.refs import Ref, RefSyntaxError, lookup, parse_template, substitute
from mlform.config.validation import dotted, suggest, validation_problems
from mlform.config.yamlpos import Positions, load_yaml
from mlform.errors import ConfigError, MlformError, SourcePos
from mlform.providers.base import ResourceType, StackContext
from mlform.providers.registry import Registry, default_registry
from mlform.values import UNKNOWN

DEFAULT_CONFIG = "mlform.yaml"
ADDRESS = re.compile(r"^([a-z][a-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_-]*)$")
ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


@dataclass
class ResourceConfig:
    """One desired resource: its arguments with variables filled in, references still open."""

    address: str
    type: str
    name: str
    template: dict[str, Any]
    depends_on: tuple[str, ...]
    lifecycle: LifecycleConfig
    pos: SourcePos | None = None


@dataclass
class OutputSpec:
    name: str
    template: Any
    sensitive: bool = False
    description: str | None = None
    depends_on: tuple[str, ...] = ()


@dataclass
class Stack:
    """The configuration of one environment, ready to plan."""

    config_path: Path
    context: StackContext
    env: EnvironmentConfig
    resources: dict[str, ResourceConfig]
    outputs: dict[str, OutputSpec]
    variables: dict[str, Any]
    positions: Positions
    environments: tuple[str, ...] = ()

    @property
    def state_dir(self) -> Path:
        """Where this environment's state lives: `<path>/state/<environment>/`."""
        base = Path(self.env.state.path)
        if not base.is_absolute():
            base = self.config_path.parent / base
        return base / "state" / self.context.environment


@dataclass
class _Builder:
    path: Path
    data: dict[str, Any]
    positions: Positions
    registry: Registry
    problems: list[MlformError] = field(default_factory=list)

    def error(self, message: str, at: tuple[str | int, ...], *, key: bool = False) -> None:
        pos = self.positions.key(at) if key else self.positions.of(at)
        self.problems.append(MlformError(message, pos=pos))


def load_stack(
    path: str | os.PathLike[str] = DEFAULT_CONFIG,
    environment: str | None = None,
    variables: Mapping[str, Any] | None = None,
    *,
    registry: Registry | None = None,
    home: str | None = None,
) -> Stack:
    """Read and check the config at `path` for `environment`; raise ConfigError listing problems.

    `environment` defaults to $MLFORM_ENV, else the only environment, else the first one listed.
    `variables` override variable values (from `--var name=value`).
    """
    config_path = Path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError.single(
            f"config file not found: {config_path} (run mlform in the folder that holds "
            f"{DEFAULT_CONFIG}, or pass --config PATH)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError.single(f"cannot read config file {config_path}: {exc}") from None
    raw, positions = load_yaml(text, str(config_path))
    if not isinstance(raw, dict):
        raise ConfigError.single(
            "the config must be a mapping with at least `project:`",
            SourcePos(str(config_path), 1, 1),
        )
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, Config, positions)) from None
    b = _Builder(config_path, raw, positions, registry or default_registry())
    env_name = _pick_environment(b, config, environment)
    env = config.environments[env_name]
    ctx = StackContext(
        project=config.project, environment=env_name, target=env.target, region=env.region,
        profile=env.profile, home=home,
    )
    values = _variables(b, config, env_name, dict(variables or {}))
    static = {"project": ctx.project, "environment": ctx.environment, "region": ctx.region}
    resources = _resources(b, config, ctx, values, static)
    outputs = _outputs(b, config.outputs, values, static, resources)
    from mlform.engine.graph import check_acyclic

    check_acyclic(resources, b.problems)
    if b.problems:
        raise ConfigError(b.problems)
    return Stack(
        config_path=config_path, context=ctx, env=env, resources=resources, outputs=outputs,
        variables=values, positions=positions,
        environments=tuple(config.environments),
    )


def _pick_environment(b: _Builder, config: Config, wanted: str | None) -> str:
    names = list(config.environments)
    for name in names:
        if not ENV_NAME.match(name):
            b.error(
                f"environments.{name}: environment names are lower-case letters, digits and "
                "dashes, starting with a letter", ("environments", name), key=True,
            )
    wanted = wanted or os.environ.get("MLFORM_ENV") or None
    if wanted is None:
        return names[0]
    if wanted not in config.environments:
        raise ConfigError.single(
            f"unknown environment '{wanted}'{suggest(wanted, names, 'environments')}",
            b.positions.key(("environments",)),
        )
    return wanted


def _variables(
    b: _Builder, config: Config, env_name: str, overrides: dict[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, var in config.variables.items():
        for env_key in var.per_environment:
            if env_key in config.environments:
                continue
            if env_key == "sensitive":
                b.error(f"variables.{name}.sensitive: sensitive variables are not supported "
                        "yet; keep secret values out of mlform.yaml",
                        ("variables", name, env_key), key=True)
                continue
            b.error(
                f"variables.{name}.{env_key}: unknown key '{env_key}'; a variable takes "
                "`default`, `description` and one value per environment "
                f"({', '.join(config.environments)})",
                ("variables", name, env_key), key=True,
            )
        if name in overrides:
            values[name] = overrides.pop(name)
        elif env_name in var.per_environment:
            values[name] = var.per_environment[env_name]
        else:
            values[name] = var.default
    for name in overrides:
        b.problems.append(
            MlformError(f"--var {name}: no variable '{name}' is declared"
                        f"{suggest(name, config.variables, 'declared')}")
        )
    return values


def label(path: tuple[str | int, ...]) -> str:
    """How messages name a config path: resources by address (`aws_s3_bucket.x.bucket`)."""
    return dotted(path[1:]) if path and path[0] == "resources" else dotted(path)


RefAt = tuple[tuple[str | int, ...], Ref]


def _static(b: _Builder, value: Any, at: tuple[str | int, ...], values: dict[str, Any],
            static: dict[str, str]) -> tuple[Any, list[RefAt] | None]:
    """Fill in variables and stack facts; also return the references to resources left (None
    if a reference has bad syntax, reported). An unknown variable is reported and becomes
    UNKNOWN, so the resource's other checks still run."""
    before = len(b.problems)
    refs = _checked_refs(b, value, at)
    if len(b.problems) > before:
        return value, None
    if all(not ref.is_static for _, ref in refs):
        return value, refs
    missing: set[str] = set()
    for path, ref in refs:
        if not ref.is_static:
            continue
        table: Mapping[str, Any] = values if ref.parts[0] == "var" else static
        key = str(ref.parts[1])
        if key not in table:
            kind = "variable" if ref.parts[0] == "var" else "stack fact"
            b.error(f"{label(path)}: unknown {kind} '{key}' in {ref}"
                    f"{suggest(key, table, 'declared' if kind == 'variable' else 'known')}", path)
            missing.add(ref.text)
            continue
        try:
            lookup(table[key], ref.parts[2:])
        except (KeyError, IndexError, TypeError) as exc:
            b.error(f"{label(path)}: {ref} does not exist ({exc})", path)
            missing.add(ref.text)

    def resolve(ref: Ref) -> Any:
        if ref.text in missing:
            return UNKNOWN  # reported above; keeps its value out of the schema check
        return lookup((values if ref.parts[0] == "var" else static)[str(ref.parts[1])],
                      ref.parts[2:])

    return (substitute(value, resolve, only_static=True),
            [(path, ref) for path, ref in refs if not ref.is_static])


def _checked_refs(b: _Builder, value: Any, at: tuple[str | int, ...]) -> list[RefAt]:
    refs: list[RefAt] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [(at, value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, str):
            if "${" in v:
                try:
                    refs.extend((path, p) for p in parse_template(v) if isinstance(p, Ref))
                except RefSyntaxError as exc:
                    b.error(f"{label(path)}: {exc}", path)
        elif isinstance(v, dict):
            stack.extend(((*path, k), x) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend(((*path, i), x) for i, x in enumerate(v))
    return refs


def _resources(
    b: _Builder, config: Config, ctx: StackContext, values: dict[str, Any], static: dict[str, str]
) -> dict[str, ResourceConfig]:
    out: dict[str, ResourceConfig] = {}
    types: dict[str, type[ResourceType[Any]]] = {}
    refs_of: dict[str, list[RefAt]] = {}
    for address, body in config.resources.items():
        at = ("resources", address)
        m = ADDRESS.match(address)
        if not m:
            b.error(f"{address}: a resource key is TYPE.NAME, such as "
                    "aws_s3_bucket.datasets", at, key=True)
            continue
        type_name, name = m.groups()
        if not b.registry.knows(type_name):
            b.error(f"{address}: unknown resource type '{type_name}'"
                    f"{suggest(type_name, b.registry.all_types(), 'known types')}",
                    at, key=True)
            continue
        rtype = types[address] = b.registry.get(type_name)
        args = {k: v for k, v in body.items() if k not in META_ARGUMENTS}
        lifecycle = _lifecycle(b, body.get("lifecycle"), at)
        depends = body.get("depends_on", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            b.error(f"{address}.depends_on: expected a list of resource addresses",
                    (*at, "depends_on"))
            depends = []
        template, refs = _static(b, args, at, values, static)
        if refs is not None:
            refs_of[address] = refs
        merged = {**rtype.default_args(ctx, name), **template}
        out[address] = ResourceConfig(
            address=address, type=type_name, name=name, template=merged,
            depends_on=tuple(depends), lifecycle=lifecycle, pos=b.positions.key(at),
        )
    for address, res in out.items():
        if address in refs_of:  # not when its references are broken: they were reported
            _check_resource(b, res, types[address], out, types, refs_of[address])
    return out


def _leaves(value: Any, at: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*at, i))
    else:
        yield at, value


def _lifecycle(b: _Builder, raw: Any, at: tuple[str | int, ...]) -> LifecycleConfig:
    if raw is None:
        return LifecycleConfig()
    try:
        return LifecycleConfig.model_validate(raw)
    except ValidationError as exc:
        b.problems.extend(validation_problems(exc, LifecycleConfig, b.positions, (*at, "lifecycle"),
                                              label=f"{at[1]}.lifecycle"))
        return LifecycleConfig()


def _check_resource(
    b: _Builder,
    res: ResourceConfig,
    rtype: type[ResourceType[Any]],
    resources: dict[str, ResourceConfig],
    types: dict[str, type[ResourceType[Any]]],
    refs: list[RefAt],
) -> None:
    at = ("resources", res.address)
    deps: list[str] = []
    for path, ref in refs:
        if _check_ref(b, ref, path, resources, types, res.address):
            deps.append(ref.address)
    for i, dep in enumerate(res.depends_on):
        if dep not in resources:
            b.error(f"{res.address}.depends_on[{i}]: no resource '{dep}'"
                    f"{suggest(dep, resources, 'resources')}",
                    (*at, "depends_on", i))
        else:
            deps.append(dep)
    res.depends_on = tuple(dict.fromkeys(deps))
    try:
        rtype.Args.model_validate(res.template)
    except ValidationError as exc:
        # Values that hold a resource reference are known only after apply: check them then.
        open_paths = {p[2:] for p, _ in refs}
        open_paths |= {p[2:] for p, v in _leaves(res.template, at) if v is UNKNOWN}
        b.problems.extend(validation_problems(
            exc, rtype.Args, b.positions, at, label=res.address,
            ignore=lambda loc: any(loc[: len(p)] == p for p in open_paths),
        ))


def _check_ref(
    b: _Builder,
    ref: Ref,
    path: tuple[str | int, ...],
    resources: dict[str, ResourceConfig],
    types: dict[str, type[ResourceType[Any]]],
    owner: str | None,
) -> bool:
    """Report a reference to a missing resource or attribute; True if it is a valid resource ref."""
    if ref.is_static:
        return False
    target = ref.address
    if target not in resources:
        hint = suggest(target, resources, "resources")
        b.error(f"{label(path)}: {ref} refers to no resource '{target}'{hint}", path)
        return False
    if target == owner:
        b.error(f"{label(path)}: {ref} refers to the resource itself", path)
        return False
    ttype = types[target]
    attr = ref.attr_path[0]
    valid = set(ttype.Args.model_fields) | set(ttype.Attrs.model_fields)
    if attr not in valid:
        hint = suggest(str(attr), valid, "attributes")
        b.error(f"{label(path)}: {ref}: {ttype.type_name} has no attribute '{attr}'{hint}", path)
        return False
    return True


def _outputs(
    b: _Builder,
    outputs: dict[str, OutputConfig],
    values: dict[str, Any],
    static: dict[str, str],
    resources: dict[str, ResourceConfig],
) -> dict[str, OutputSpec]:
    types = {a: b.registry.get(r.type) for a, r in resources.items()}
    out: dict[str, OutputSpec] = {}
    for name, spec in outputs.items():
        at: tuple[str | int, ...] = ("outputs", name)
        raw = b.data.get("outputs", {}).get(name)
        value_at = (*at, "value") if isinstance(raw, dict) and "value" in raw else at
        template, refs = _static(b, spec.value, value_at, values, static)
        if refs is None:
            continue
        deps = [ref.address for path, ref in refs
                if _check_ref(b, ref, path, resources, types, None)]
        out[name] = OutputSpec(name, template, spec.sensitive, spec.description,
                               tuple(dict.fromkeys(deps)))
    return out
