"""Load `mlform.yaml` for one environment into a `Stack`: the desired resources, checked.

Checks, each reported with file:line:column and config path, all at once: YAML syntax, the
top-level schema, variables, components, every resource's arguments against its type's schema,
references (`${...}`) to unknown variables, components, resources or attributes, and
dependency cycles. Components are expanded into the resources they are made of here, so
everything after this module sees resources only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mlform.config.adopt import (
    Import,
    Move,
    Removal,
    check_imports,
    check_moves,
    check_removals,
    name_seeds,
    parse_moves,
    parse_removals,
)
from mlform.config.checks import (
    Builder,
    RefAt,
    check_ref,
    check_resource,
    fill_static,
    find_refs,
    label,
    parse_lifecycle,
)
from mlform.config.credentials import find_credentials
from mlform.config.include import merge_includes
from mlform.config.lockfile import ImageUse, Lock, LockUse, pin_images
from mlform.config.models import (
    META_ARGUMENTS,
    Config,
    EnvironmentConfig,
    LifecycleConfig,
    OutputConfig,
    ParityConfig,
)
from mlform.config.resources import OutputSpec, ResourceConfig, check_acyclic
from mlform.config.secret_refs import place_refs, sensitive_output, sensitive_variable
from mlform.config.validation import suggest, validation_problems
from mlform.config.varfile import merge_var_files, read_var_file
from mlform.config.written import written_config
from mlform.config.yamlpos import Positions, decode, load_yaml
from mlform.errors import ConfigError, MlformError, SourcePos
from mlform.providers.base import StackContext
from mlform.providers.registry import Registry, default_registry
from mlform.sensitive import holds_sensitive
from mlform.values import contains_unknown

DEFAULT_CONFIG = "mlform.yaml"
ADDRESS = re.compile(r"^([a-z][a-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_-]*)$")
ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


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
    components: dict[str, str] = field(default_factory=dict)  # name -> component type
    notes: list[str] = field(default_factory=list)  # choices components made (a GPU type)
    budget_usd: float | None = None  # this environment's monthly budget, if any
    moves: list[Move] = field(default_factory=list)  # `moved:` entries
    imports: dict[str, Import] = field(default_factory=dict)  # `import:` entries by address
    removed: list[Removal] = field(default_factory=list)  # `removed:` entries
    includes: list[Path] = field(default_factory=list)  # the files `include:` read
    # each component's settings as this environment and region resolved them
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    parity: ParityConfig = field(default_factory=ParityConfig)  # `mlform parity`'s allowances
    # what mlform.lock pins, as this load used it: each component's images (setting path ->
    # image and the lock's pin) and other pins (`Expansion.pins`); and what the lock lacked
    images: dict[str, dict[str, ImageUse]] = field(default_factory=dict)
    pins: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock_notes: list[str] = field(default_factory=list)
    # the config as written, for plan JSON's `configuration` and `variables` (config/written)
    written: dict[str, Any] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        """Where this environment's state lives: `<path>/state/<environment>/`, and
        `.../<environment>/<region>/` for each region of an environment of several."""
        return state_dir(self.config_path, self.env, self.context.environment,
                         self.context.region)


def state_dir(config_path: Path, env: EnvironmentConfig, environment: str,
              region: str) -> Path:
    """The state folder of one environment (and region, when it has `regions:`)."""
    base = Path(env.state.path)
    if not base.is_absolute():
        base = config_path.parent / base
    folder = base / "state" / environment
    return folder / region if env.regions is not None else folder


def load_stack(
    path: str | os.PathLike[str] = DEFAULT_CONFIG,
    environment: str | None = None,
    variables: Mapping[str, Any] | None = None,
    *,
    var_files: Sequence[str | os.PathLike[str]] = (),
    registry: Registry | None = None,
    home: str | None = None,
    offline: bool = False,
    region: str | None = None,
    lock: Lock | None = None,
    frozen: bool = False,
) -> Stack:
    """Read and check the config at `path` for `environment`; raise ConfigError listing problems.

    `environment` defaults to $MLFORM_ENV, else the only environment, else the first one listed.
    `region`: which of the environment's `regions:` (default: the first); an environment of
    one `region:` takes only that one.
    `var_files` (YAML mappings, from `--var-file`) set variable values over the config's, a
    later file over an earlier one, and `variables` (from `--var name=value`) over them all
    (Terraform's order). Components that look things
    up in the cloud (a GPU cluster's instance type) do so unless `offline`, or `lock`
    (mlform.lock, see `mlform.config.lockfile`) pins their choice. With `frozen`, what the
    config needs and the lock lacks is an error; without, it is resolved live and noted.
    """
    config_path = Path(path)
    raw, positions, includes = _read_config(config_path)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, Config, positions)) from None
    b = Builder(config_path, raw, positions, registry or default_registry())
    env_name = _pick_environment(b, config, environment)
    env = config.environments[env_name]
    ctx = StackContext(
        project=config.project, environment=env_name, target=env.target,
        region=_pick_region(b, env, env_name, region), profile=env.profile, home=home,
        account=env.account, account_id=env.account_id, regional=env.regions is not None,
    )
    from_files, problems = merge_var_files(_read_var_files(var_files), config.variables,
                                           config_path)
    b.problems.extend(problems)
    values = _variables(b, config, env_name, {**from_files, **(variables or {})})
    static = {"project": ctx.project, "environment": ctx.environment, "region": ctx.region}
    moves = parse_moves(b, config)
    removals = parse_removals(b, config, moves)
    resource_seeds, component_seeds = name_seeds(moves)
    resources, refs_of, where = _resources(b, config, ctx, values, static, resource_seeds)
    use = LockUse(lock, config_path, env_name, ctx.region, frozen=frozen)
    repositories = {a: r.template["name"] for a, r in resources.items()
                    if r.type == "aws_ecr_repository" and isinstance(r.template.get("name"), str)}
    expanded = _components(b, config, ctx, values, static, offline, component_seeds, use,
                           repositories)
    use.report(b)
    find = _output_finder(expanded, set(config.components))
    for address in list(resources):
        if address in refs_of and any(r.kind == "output" for _, r in refs_of[address]):
            refs_of[address] = _inline(b, resources[address], refs_of[address], find)
    for component in expanded:
        _add_component(b, component, ctx, resources, refs_of, where)
    types = {a: b.registry.get(r.type) for a, r in resources.items()}
    for address, res in resources.items():
        place_refs(b, res, types[address], where[address])
        if address in refs_of:  # not when its references are broken: they were reported
            check_resource(b, res, types[address], resources, types, refs_of[address],
                           where[address])
    outputs = _outputs(b, config.outputs, values, static, resources, find)
    check_acyclic(resources, b.problems)
    budget = _budget(b, config, env_name)
    check_moves(b, moves, resources, config.components)
    check_removals(b, removals, resources, config.components)
    imports = check_imports(b, config, resources)
    if b.problems:
        raise ConfigError(b.problems)
    return Stack(
        config_path=config_path, context=ctx, env=env, resources=resources, outputs=outputs,
        variables=values, positions=positions, environments=tuple(config.environments),
        components={c.name: c.type for c in expanded},
        notes=[n for c in expanded for n in c.notes], budget_usd=budget, moves=moves,
        imports=imports, removed=removals, includes=includes,
        settings={c.name: c.settings for c in expanded}, parity=config.parity,
        images={c.name: c.images for c in expanded if c.images},
        pins={c.name: c.pins for c in expanded if c.pins}, lock_notes=use.notes,
        written=written_config(config, values, b.written_settings),
    )


def _read_config(config_path: Path) -> tuple[dict[str, Any], Positions, list[Path]]:
    """The config file and the files it includes, read; credentials written in them are
    refused here, before anything reads them or echoes them in a later message."""
    try:
        text = decode(config_path.read_bytes(), str(config_path))
    except FileNotFoundError:
        raise ConfigError.single(
            f"config file not found: {config_path} (run mlform in the folder that holds "
            f"{DEFAULT_CONFIG}, or pass --config PATH)"
        ) from None
    except OSError as exc:
        raise ConfigError.single(f"cannot read config file {config_path}: {exc}") from None
    raw, positions = load_yaml(text, str(config_path))
    if not isinstance(raw, dict):
        raise ConfigError.single(
            "the config must be a mapping with at least `project:`",
            SourcePos(str(config_path), 1, 1),
        )
    includes = merge_includes(raw, positions, config_path)
    found = find_credentials(raw, positions)
    if found:
        raise ConfigError(found)
    return raw, positions, includes


def _read_var_files(var_files: Sequence[str | os.PathLike[str]]) -> list[Any]:
    """The var files, read; credentials written in them are refused."""
    files = [read_var_file(f) for f in var_files]
    found = [p for vf in files
             for p in find_credentials(vf.values, vf.positions, f"the var file {vf.path}")]
    if found:
        raise ConfigError(found)
    return files


def _pick_region(b: Builder, env: EnvironmentConfig, env_name: str,
                 wanted: str | None) -> str:
    regions = env.region_names
    if wanted is None or wanted in regions:
        return wanted or regions[0]
    key = "regions" if env.regions is not None else "region"
    raise ConfigError.single(
        f"--region {wanted}: environment '{env_name}' is in {', '.join(regions)}"
        f"{suggest(wanted, regions, 'regions')}",
        b.positions.key(("environments", env_name, key)))


def _budget(b: Builder, config: Config, environment: str) -> float | None:
    if config.budget is None:
        return None
    value = config.budget.monthly_usd
    at = ("budget", "monthly_usd")
    figures = value if isinstance(value, dict) else {"": value}
    for key, figure in figures.items():
        if key and key not in config.environments and key != "default":
            b.error(f"budget.monthly_usd: '{key}' is not an environment"
                    f"{suggest(key, [*config.environments, 'default'], 'environments')}",
                    (*at, key), key=True)
        elif figure < 0:
            b.error("budget.monthly_usd: a budget cannot be negative",
                    (*at, key) if key else at)
    return config.budget.for_environment(environment)


def _pick_environment(b: Builder, config: Config, wanted: str | None) -> str:
    names = list(config.environments)
    if not names:
        raise ConfigError.single("environments: name at least one environment (or leave "
                                 "`environments:` out for one called `default` on the sandbox)",
                                 b.positions.of(("environments",)))
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
    b: Builder, config: Config, env_name: str, overrides: dict[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, var in config.variables.items():
        for env_key in var.per_environment:
            if env_key in config.environments:
                continue
            b.error(
                f"variables.{name}.{env_key}: unknown key '{env_key}'; a variable takes "
                "`default`, `description` and one value per environment "
                f"({', '.join(config.environments)})",
                ("variables", name, env_key), key=True,
            )
        if var.sensitive or var.value_from is not None:
            values[name] = sensitive_variable(b, name, var, overrides.pop(name, None))
        elif name in overrides:
            values[name] = overrides.pop(name)
        elif env_name in var.per_environment:
            values[name] = var.per_environment[env_name]
            b.var_at[name] = ("variables", name, env_name)
        else:
            values[name] = var.default
            b.var_at[name] = ("variables", name, "default")
    for name in overrides:
        b.problems.append(
            MlformError(f"--var {name}: no variable '{name}' is declared"
                        f"{suggest(name, config.variables, 'declared')}")
        )
    return values


def _resources(
    b: Builder, config: Config, ctx: StackContext, values: dict[str, Any],
    static: dict[str, str], seeds: Mapping[str, str],
) -> tuple[dict[str, ResourceConfig], dict[str, list[RefAt]], dict[str, tuple[str, ...]]]:
    """The `resources:` section: each resource, its references, and where it is written.
    `seeds`: the old names of renamed resources, which their default cloud names keep."""
    out: dict[str, ResourceConfig] = {}
    refs_of: dict[str, list[RefAt]] = {}
    where: dict[str, tuple[str, ...]] = {}
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
        rtype = b.registry.get(type_name)
        args = {k: v for k, v in body.items() if k not in META_ARGUMENTS}
        lifecycle = parse_lifecycle(b, body.get("lifecycle"), at)
        depends = body.get("depends_on", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            b.error(f"{address}.depends_on: expected a list of resource addresses",
                    (*at, "depends_on"))
            depends = []
        template, refs = fill_static(b, args, at, values, static)
        if refs is not None:
            refs_of[address] = refs
        where[address] = at
        merged = {**rtype.default_args(ctx, seeds.get(address, name)), **template}
        out[address] = ResourceConfig(
            address=address, type=type_name, name=name, template=merged,
            depends_on=tuple(depends), lifecycle=lifecycle, pos=b.positions.key(at),
        )
    return out, refs_of, where


def _components(b: Builder, config: Config, ctx: StackContext, values: dict[str, Any],
                static: dict[str, str], offline: bool, seeds: Mapping[str, str],
                use: LockUse, repositories: dict[str, str]) -> list[Any]:
    """Check and expand `components:`, in the order their references to each other need,
    with the lock's pins (`use`). `repositories`: the config's ECR repositories by address,
    which images name; each component's are added as it is expanded."""
    if not config.components:
        return []
    from mlform.components import component_types
    from mlform.components.base import Cloud
    from mlform.config import components as comp

    registry = b.registry
    cloud = None if offline else Cloud(
        lambda: registry.provider_for("aws_vpc").open_session(ctx), ctx.home)
    types = component_types()
    prepared: dict[str, tuple[Any, dict[str, Any], list[RefAt]]] = {}
    for name, body in config.components.items():
        at: tuple[str, ...] = ("components", name)
        why = comp.check_name(name)
        if why:
            b.error(f"components.{name}: {why}", at, key=True)
            continue
        kind = body.get("type")
        if not isinstance(kind, str) or kind not in types:
            hint = suggest(str(kind), types, "component types")
            b.error(f"{name}.type: " + (f"unknown component type '{kind}'{hint}" if kind
                                        else f"missing; it says what to build{hint}"),
                    (*at, "type") if kind else at, key=True)
            continue
        model = types[kind]
        data, missing = comp.pick_environment(model, body, ctx.environment,
                                              tuple(config.environments))
        for key in missing:
            b.error(f"{name}.{key}: no value for environment '{ctx.environment}' (add one, or "
                    "a `default`)", (*at, key))
        b.written_settings[name] = {k: v for k, v in data.items() if k != "type"}
        data, refs = fill_static(b, data, at, values, static)
        if holds_sensitive(data):
            b.error(f"{name}: components take no sensitive variables; a `secret` component "
                    "reads its value with value_from, and others get its ARN", at, key=True)
            continue
        # (UNKNOWN stands for an unknown variable, reported: there is nothing to expand)
        if refs is not None and not missing and not contains_unknown(data):
            prepared[name] = (model, data, refs)
    deps = {n: {r.component for _, r in refs if r.kind == "output"}
            for n, (_, _, refs) in prepared.items()}
    ordered, cycle = comp.order(deps)
    if cycle:
        b.error(f"components refer to each other in a cycle: {' -> '.join(cycle)}",
                ("components", cycle[0]), key=True)
        return []
    expanded: list[Any] = []
    outputs: dict[str, dict[str, Any]] = {}
    find = comp.output_finder(outputs, {n: prepared[n][0] for n in prepared},
                              broken=set(config.components) - set(prepared))
    for name in ordered:
        model, data, refs = prepared[name]
        at = ("components", name)
        if not _outputs_exist(b, refs, find):
            continue
        result = _expand_one(b, model, comp.inline_outputs(data, find), name, ctx, cloud,
                             seeds.get(name), use, repositories)
        if result is not None:
            outputs[name] = result.outputs
            expanded.append(result)
    return expanded


def _expand_one(b: Builder, model: Any, data: dict[str, Any], name: str, ctx: StackContext,
                cloud: Any, seed: str | None, use: LockUse,
                repositories: dict[str, str]) -> Any:
    """Validate and expand one component, its outputs inlined, with the lock's pins; None
    when it has problems (reported)."""
    from mlform.config import components as comp

    at = ("components", name)
    images = pin_images(data, model.image_fields, repositories, use.images(name))
    instance, problems = comp.validate(model, images.data, name, b.positions, at)
    b.problems.extend(problems)
    if instance is None:
        return None
    try:
        result = comp.expand(instance, name, ctx, b.path.parent, cloud, seed,
                             use.component(name))
    except MlformError as exc:
        b.error(f"{name}: {exc.message}", at, key=True)
        return None
    result.images = images.uses
    use.missing(name, images.unlocked + result.unlocked)
    use.notes.extend(f"{name}.{n}" for n in images.notes)
    repositories.update(_repositories(b, ctx, result))
    return result


def _cloud_base(component: Any, resource_name: str) -> str:
    """The name a component's resource derives its default cloud name from."""
    seed = component.seed
    return seed if resource_name == "this" else f"{seed}-{resource_name}"


def _repositories(b: Builder, ctx: StackContext, component: Any) -> dict[str, str]:
    """The ECR repositories `component` makes, address -> name (as `_add_component` will
    name them)."""
    found: dict[str, str] = {}
    for address, (type_name, args, _, _) in component.resources.items():
        if type_name == "aws_ecr_repository" and b.registry.knows(type_name):
            defaults = b.registry.get(type_name).default_args(
                ctx, _cloud_base(component, address.rsplit(".", 1)[1]))
            name = args.get("name", defaults.get("name"))
            if isinstance(name, str):
                found[address] = name
    return found


def _outputs_exist(b: Builder, refs: list[RefAt], find: Any) -> bool:
    ok = True
    for path, ref in refs:
        if ref.kind == "output":
            try:
                find(ref)
            except KeyError as exc:
                if exc.args[0] is not None:
                    b.error(f"{label(path)}: {exc.args[0]}", path)
                ok = False
    return ok


def _output_finder(expanded: list[Any], written: set[str]) -> Any:
    from mlform.components import component_types
    from mlform.config import components as comp

    types = component_types() if written else {}
    return comp.output_finder({c.name: c.outputs for c in expanded},
                              {c.name: types[c.type] for c in expanded},
                              broken=written - {c.name for c in expanded})


def _inline(b: Builder, res: ResourceConfig, refs: list[RefAt], find: Any) -> list[RefAt]:
    """Replace `${component.output}` in a resource's arguments; its references afterwards."""
    from mlform.config.components import inline_outputs

    at = ("resources", res.address)
    if not _outputs_exist(b, refs, find):
        return [(p, r) for p, r in refs if r.kind != "output"]
    res.template = inline_outputs(res.template, find)
    return find_refs(b, res.template, at)


def _add_component(b: Builder, component: Any, ctx: StackContext,
                   resources: dict[str, ResourceConfig], refs_of: dict[str, list[RefAt]],
                   where: dict[str, tuple[str, ...]]) -> None:
    at = ("components", component.name)
    for address, (type_name, args, lifecycle, deps) in component.resources.items():
        if not b.registry.knows(type_name):
            b.error(f"{component.name}: a {component.type} is made of {type_name} resources, "
                    "and no installed provider has that type", at, key=True)
            continue
        rtype = b.registry.get(type_name)
        name = address.rsplit(".", 1)[1]
        base = _cloud_base(component, name)
        res = ResourceConfig(
            address=address, type=type_name, name=name,
            template={**rtype.default_args(ctx, base), **args}, depends_on=tuple(deps),
            lifecycle=LifecycleConfig.model_validate(lifecycle), pos=b.positions.key(at),
            component=component.name,
        )
        resources[address] = res
        where[address] = at
        refs_of[address] = find_refs(b, res.template, at)


def _outputs(
    b: Builder,
    outputs: dict[str, OutputConfig],
    values: dict[str, Any],
    static: dict[str, str],
    resources: dict[str, ResourceConfig],
    find: Any,
) -> dict[str, OutputSpec]:
    from mlform.config.components import inline_outputs

    types = {a: b.registry.get(r.type) for a, r in resources.items()}
    out: dict[str, OutputSpec] = {}
    for name, spec in outputs.items():
        at: tuple[str | int, ...] = ("outputs", name)
        raw = b.data.get("outputs", {}).get(name)
        value_at = (*at, "value") if isinstance(raw, dict) and "value" in raw else at
        template, refs = fill_static(b, spec.value, value_at, values, static)
        if refs is None or not _outputs_exist(b, refs, find):
            continue
        if any(r.kind == "output" for _, r in refs):
            template = inline_outputs(template, find)
            refs = find_refs(b, template, value_at)
        deps = [ref.address for path, ref in refs
                if check_ref(b, ref, path, resources, types, None)]
        sensitive_output(b, name, template, refs, types, spec.sensitive, at)
        out[name] = OutputSpec(name, template, spec.sensitive, spec.description,
                               tuple(dict.fromkeys(deps)))
    return out
