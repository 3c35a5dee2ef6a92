"""Planning: desired (config) vs recorded (state, refreshed from live) -> a list of changes.

For every resource the planner resolves its arguments in dependency order, with values from the
resources it refers to (or UNKNOWN where those are only known after apply), and compares them
field by field with what is recorded. Replacement is planned when a field marked `ForceNew`
differs; the plan says which field forced it.
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from mlform.config.adopt import Removal
from mlform.config.refs import Ref, lookup, split_address, substitute, trigger_ref
from mlform.config.resources import ResourceConfig
from mlform.config.stack import Stack
from mlform.config.validation import validation_problems
from mlform.engine.drift import keep_ignored
from mlform.engine.renames import Rename, suggest_moves
from mlform.errors import ConfigError, MlformError, SourcePos
from mlform.providers.base import ResourceType, StackContext
from mlform.providers.registry import Registry
from mlform.providers.schema import (
    computed_fields,
    fill_defaults,
    forced_paths,
    keep_computed,
    sensitive_fields,
)
from mlform.sensitive import SecretValue
from mlform.state.models import ResourceState, State
from mlform.values import UNKNOWN, contains_unknown


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    FORGET = "forget"  # a `removed:` entry with `destroy: false`: leaves the state, not the cloud
    NOOP = "no-op"


@dataclass
class ResourceChange:
    """What the plan does to one resource (or one deposed object of it)."""

    address: str
    type: str
    action: Action
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    # Arguments with references to other resources still open, resolved again at apply time.
    template: dict[str, Any] | None = None
    changed: list[str] = field(default_factory=list)
    replace_because: list[str] = field(default_factory=list)
    triggered_by: list[str] = field(default_factory=list)  # lifecycle.replace_triggered_by
    dependencies: list[str] = field(default_factory=list)
    prior_dependencies: list[str] = field(default_factory=list)
    create_before_destroy: bool = False
    deposed: str | None = None  # the id of a deposed object this change deletes
    reason: str | None = None
    pos: SourcePos | None = None
    previous_address: str | None = None  # recorded at this address before a `moved:` entry
    importing: str | None = None  # the id of the existing object this change adopts
    prevent_destroy: bool = False  # the config's lifecycle.prevent_destroy, recorded by apply
    ignore_changes: list[str] = field(default_factory=list)  # kept live by apply too

    @property
    def name(self) -> str:
        return split_address(self.address)[2]

    @property
    def component(self) -> str | None:
        """The component that made this resource (`module.<component>.<type>.<name>`)."""
        return split_address(self.address)[0]

    @property
    def key(self) -> str:
        return f"{self.address} (deposed {self.deposed})" if self.deposed else self.address


@dataclass
class OutputChange:
    name: str
    template: Any
    before: Any
    after: Any
    sensitive: bool = False


@dataclass
class Plan:
    """Everything apply needs, so a saved plan is applied exactly as it was shown."""

    context: StackContext
    lineage: str
    serial: int
    changes: list[ResourceChange]
    outputs: dict[str, OutputChange]
    config_path: str = ""
    destroy: bool = False
    # Refresh results to record before applying: address -> live state, or None if gone.
    refreshed: dict[str, ResourceState | None] = field(default_factory=dict)
    abandoned: list[str] = field(default_factory=list)  # pending creates that made nothing
    notes: list[str] = field(default_factory=list)
    state_dir: str = ""
    state_config: dict[str, Any] = field(default_factory=dict)  # the environment's `state:`
    components: dict[str, str] = field(default_factory=dict)  # name -> component type
    choices: list[str] = field(default_factory=list)  # what components chose (a GPU type)
    lock_notes: list[str] = field(default_factory=list)  # what mlform.lock lacked
    budget_usd: float | None = None  # the environment's monthly budget (see mlform.cost)
    moved: list[tuple[str, str]] = field(default_factory=list)  # (from, to), to record first
    # `moved:` entries that would keep what this plan destroys and creates again (see renames)
    renames: list[Rename] = field(default_factory=list)
    # The (refreshed) state the plan was made against; not saved in plan files.
    prior: State | None = field(default=None, repr=False, compare=False)
    # The config as written (config/written.py), for plan JSON's `configuration`/`variables`.
    written: dict[str, Any] = field(default_factory=dict)
    # What the state recorded, before the refresh, of each object the refresh found changed
    # (address -> attributes): plan JSON's `resource_drift` is this against `refreshed`.
    drifted_from: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Policy results (mlform.policy.report.PolicyReport.to_json()); empty before evaluation.
    policy: dict[str, Any] = field(default_factory=dict)
    # What the plan is bound to, so apply refuses it once any has changed: hashes of the config,
    # mlform.lock and the policy bundle ({"config": ..., "lock": ..., "policy": ...}).
    binding: dict[str, str] = field(default_factory=dict)

    def counts(self) -> tuple[int, int, int]:
        """(to add, to change, to destroy), counted as Terraform counts them."""
        add = change = destroy = 0
        for c in self.changes:
            if c.action is Action.CREATE:
                add += 1
            elif c.action is Action.UPDATE:
                change += 1
            elif c.action is Action.DELETE:
                destroy += 1
            elif c.action is Action.REPLACE:
                add += 1
                destroy += 1
        return add, change, destroy

    @property
    def imports(self) -> int:
        return sum(c.importing is not None for c in self.changes)

    @property
    def forgets(self) -> int:
        return sum(c.action is Action.FORGET for c in self.changes)

    @property
    def has_changes(self) -> bool:
        """Resources or outputs would change, or objects be imported or moved (what
        `--detailed-exitcode` reports as 2)."""
        return (any(c.action is not Action.NOOP or c.importing for c in self.changes)
                or any(o.before != o.after for o in self.outputs.values())
                or bool(self.moved))

    @property
    def needs_apply(self) -> bool:
        """There is something to record, even if only what refresh found."""
        return self.has_changes or bool(self.refreshed) or bool(self.abandoned)


def resolver(values: Mapping[str, Mapping[str, Any]], where: str, pos: SourcePos | None) -> Any:
    """Resolve `${type.name.attr...}` against per-address attribute maps."""

    def resolve(ref: Ref) -> Any:
        attrs = values.get(ref.address)
        if attrs is None:
            return UNKNOWN
        try:
            return lookup(attrs, ref.attr_path)
        except KeyError:
            return UNKNOWN  # a computed attribute not reported yet
        except (IndexError, TypeError) as exc:
            raise ConfigError([MlformError(f"{where}: {ref} cannot be read ({exc})",
                                           pos=pos)]) from None

    return resolve


def resolve_args(
    rtype: type[ResourceType[Any]], template: dict[str, Any], values: Mapping[str, Any],
    where: str, pos: SourcePos | None,
) -> dict[str, Any]:
    """The resource's arguments with references filled in and defaults applied; UNKNOWN where a
    referenced value is only known after apply. Raises ConfigError if known values are invalid."""
    args = rtype.complete_args(substitute(template, resolver(values, where, pos)))
    if contains_unknown(args):
        return fill_defaults(rtype.Args, args)
    try:
        normalised: dict[str, Any] = rtype.Args.model_validate(args).model_dump(mode="json")
    except ValidationError as exc:
        problems = validation_problems(exc, rtype.Args, _NoPositions(pos), label=where)
        raise ConfigError(problems) from None
    for name in sensitive_fields(rtype.Args):  # its value stays with it, for apply's call
        if isinstance(args.get(name), SecretValue):
            normalised[name] = args[name]
    return normalised


class _NoPositions:
    """Positions stand-in for values that came from references: point at the resource."""

    def __init__(self, pos: SourcePos | None) -> None:
        self.pos = pos

    def of(self, path: Any) -> SourcePos | None:
        return self.pos

    def key(self, path: Any) -> SourcePos | None:
        return self.pos


def _topo(resources: Mapping[str, ResourceConfig]) -> list[str]:
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(
        {a: r.depends_on for a, r in resources.items()}
    )
    return list(sorter.static_order())


def make_plan(
    stack: Stack,
    state: State,
    registry: Registry,
    *,
    destroy: bool = False,
    refreshed: Mapping[str, ResourceState | None] | None = None,
    abandoned: list[str] | None = None,
    notes: list[str] | None = None,
    moved: list[tuple[str, str]] | None = None,
    imported: Mapping[str, str] | None = None,
) -> Plan:
    """Compare `stack` with `state` (already updated by `refreshed`, `moved` and the objects
    `imported`: address -> id) and list the changes."""
    refreshed = dict(refreshed or {})
    prior = state.resources
    desired = {} if destroy else stack.resources
    values: dict[str, dict[str, Any]] = {}
    changes: dict[str, ResourceChange] = {}
    problems: list[MlformError] = []
    for address in _topo(desired):
        rc = desired[address]
        rtype = registry.get(rc.type)
        try:
            change = _plan_resource(rc, rtype, prior.get(address), values,
                                    _triggered(rc, changes))
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        changes[address] = change
        values[address] = change.after or {}
    for address in changes:
        rc = desired[address]
        problems.extend(MlformError(f"{address}: {why}", pos=rc.pos) for why in
                        registry.get(rc.type).check_related(values[address], values))
    if problems:
        raise ConfigError(problems)
    for address, res in prior.items():
        if address in desired:
            continue
        removal = next((r for r in stack.removed if r.matches(address)), None)
        change = changes[address] = ResourceChange(
            address=address, type=res.type, action=Action.DELETE,
            before=res.attributes, prior_dependencies=res.dependencies,
            reason="destroy requested" if destroy else "no longer in the configuration",
            create_before_destroy=res.create_before_destroy,
        )
        if removal is not None:
            change.pos = removal.pos
            change.reason = ("a `removed:` entry says to destroy it" if removal.destroy else
                             "a `removed:` entry says `destroy: false`")
            if not removal.destroy:
                change.action = Action.FORGET
    deposed = [
        ResourceChange(address=a, type=r.type, action=Action.DELETE, before=r.attributes,
                       prior_dependencies=r.dependencies, deposed=r.id,
                       reason="left over from an interrupted create-before-destroy replacement")
        for a, rs in state.deposed.items() for r in rs
    ]
    for source, target in moved or []:
        if target in changes:
            changes[target].previous_address = source
    for address, id in (imported or {}).items():
        if address in changes:
            changes[address].importing = id
    _propagate_create_before_destroy(changes)
    _check_destroys(changes, stack.resources, state, stack.removed)
    outputs = _plan_outputs(stack, state, values, destroy)
    ordered = [changes[a] for a in desired if a in changes]
    ordered += [c for a, c in changes.items() if a not in desired]
    if destroy:
        ordered.reverse()
    renames = [] if destroy else suggest_moves(ordered, stack.context, registry)
    return Plan(
        context=stack.context, lineage=state.lineage, serial=state.serial,
        changes=ordered + deposed, outputs=outputs, config_path=str(stack.config_path),
        destroy=destroy, refreshed=refreshed, abandoned=list(abandoned or []),
        notes=list(notes or []), state_dir=str(stack.state_dir), prior=state,
        state_config=stack.env.state.model_dump(exclude_none=True),
        components=dict(stack.components), choices=list(stack.notes),
        lock_notes=list(stack.lock_notes), written=stack.written,
        budget_usd=stack.budget_usd, moved=list(moved or []), renames=renames,
    )


def _plan_resource(
    rc: ResourceConfig,
    rtype: type[ResourceType[Any]],
    prior: ResourceState | None,
    values: Mapping[str, Mapping[str, Any]],
    triggered: Sequence[str] = (),
) -> ResourceChange:
    args = resolve_args(rtype, rc.template, values, rc.address, rc.pos)
    if prior is not None:
        args = keep_ignored_args(rtype, args, prior.attributes, rc.lifecycle.ignore_changes)
    left_to_cloud = [f for f in computed_fields(rtype.Args) if args.get(f) is None]
    args = keep_computed(rtype.Args, args, prior.attributes if prior is not None else None)
    cbd = rc.lifecycle.create_before_destroy
    change = ResourceChange(
        address=rc.address, type=rc.type, action=Action.CREATE, template=rc.template,
        dependencies=list(rc.depends_on), pos=rc.pos,
        create_before_destroy=rtype.create_before_destroy if cbd is None else cbd,
        prevent_destroy=rc.lifecycle.prevent_destroy,
        ignore_changes=list(rc.lifecycle.ignore_changes),
    )
    if prior is None:
        change.after = {**args, **rtype.plan_attributes(args, None)}
        return change
    change.before = prior.attributes
    change.prior_dependencies = prior.dependencies
    changed = [f for f in rtype.Args.model_fields
               if not _same(args.get(f), prior.attributes.get(f))]
    change.changed = changed
    if prior.status == "tainted":
        change.action = Action.REPLACE
        change.reason = "tainted: its last create did not finish"
    elif not changed and not triggered:
        change.action = Action.NOOP
        change.after = prior.attributes
        return change
    else:
        forced = forced_paths(rtype.Args, prior.attributes, args)
        change.replace_because = [".".join(str(p) for p in path) for path in forced]
        change.triggered_by = list(triggered)
        replace = change.replace_because or change.triggered_by
        change.action = Action.REPLACE if replace else Action.UPDATE
        if change.replace_because and rtype.replace_note:
            change.reason = rtype.replace_note
        if change.action is Action.UPDATE:
            refused = rtype.check_change(prior.attributes, args)
            if refused:
                raise ConfigError([MlformError(f"{rc.address}: {why}", pos=rc.pos)
                                   for why in refused])
    if change.action is Action.REPLACE:  # a new object: the cloud picks these again
        args = {**args, **dict.fromkeys(left_to_cloud, UNKNOWN)}
    keep = prior.attributes if change.action is Action.UPDATE else None
    change.after = {**args, **rtype.plan_attributes(args, keep)}
    return change


def _triggered(rc: ResourceConfig, changes: Mapping[str, ResourceChange]) -> list[str]:
    """The entries of `rc`'s `lifecycle.replace_triggered_by` that this plan sets off (they
    are dependencies, so planned already): a resource updated or replaced, or an attribute
    whose value changes."""
    fired = []
    for text in rc.lifecycle.replace_triggered_by:
        ref = trigger_ref(text)
        other = changes.get(ref.address)
        if other is None or other.action not in (Action.UPDATE, Action.REPLACE):
            continue
        path = ref.attr_path
        if not path or not _same(_at(other.before, path), _at(other.after, path)):
            fired.append(text)
    return fired


def _at(attrs: Mapping[str, Any] | None, path: tuple[str | int, ...]) -> Any:
    try:
        return lookup(attrs or {}, path)
    except (KeyError, IndexError, TypeError):
        return None


def keep_ignored_args(rtype: type[ResourceType[Any]], args: dict[str, Any],
                      live: Mapping[str, Any], ignore: Sequence[str]) -> dict[str, Any]:
    """`args` with the `lifecycle.ignore_changes` arguments set to their `live` values (what
    an autoscaler set stays), unless the config now rules the live value out (a desired count
    below a new minimum). The plan does it against the refreshed object, and apply does it
    again against the plan, so both send what the user approved."""
    if not ignore:
        return args
    kept = keep_ignored(args, live, ignore, list(rtype.Args.model_fields))
    return kept if kept != args and _valid(rtype, kept) else args


def _valid(rtype: type[ResourceType[Any]], args: dict[str, Any]) -> bool:
    if contains_unknown(args):
        return True  # cannot tell before apply; keep what is live
    try:
        rtype.Args.model_validate(args)
    except ValidationError:
        return False
    return True


def _same(a: Any, b: Any) -> bool:
    if a is UNKNOWN or b is UNKNOWN:
        return False
    return bool(a == b)


def _propagate_create_before_destroy(changes: dict[str, ResourceChange]) -> None:
    """A create-before-destroy replacement forces its replaced dependencies to do the same,
    or the old dependency would have to die before its dependant's new object exists."""
    stack = [c for c in changes.values()
             if c.action is Action.REPLACE and c.create_before_destroy]
    while stack:
        c = stack.pop()
        for dep in c.dependencies:
            d = changes.get(dep)
            if d is not None and d.action is Action.REPLACE and not d.create_before_destroy:
                d.create_before_destroy = True
                stack.append(d)


def _check_destroys(
    changes: Mapping[str, ResourceChange], config: Mapping[str, ResourceConfig], state: State,
    removals: Sequence[Removal],
) -> None:
    """Refuse a plan that deletes or replaces what must not go: a resource the config protects
    with `lifecycle.prevent_destroy` (also on `destroy`), one whose protection the state
    recorded and whose block has left the config, and an object an unconfirmed import recorded
    that the config does not have (the file meant to hold it may not have been read)."""
    problems: list[MlformError] = []
    for address, c in changes.items():
        if c.action not in (Action.DELETE, Action.REPLACE) or c.deposed:
            continue
        verb = "replace" if c.action is Action.REPLACE else "destroy"
        rc = config.get(address)
        recorded = state.resources.get(address)
        if rc is None and any(r.destroy and r.matches(address) for r in removals):
            continue  # the config says, in so many words, to destroy it
        if rc is not None and rc.lifecycle.prevent_destroy:
            because = f" (because {', '.join(c.replace_because or c.triggered_by)} changed)" \
                if c.replace_because or c.triggered_by else ""
            problems.append(MlformError(
                f"{address}: lifecycle.prevent_destroy is set, but this plan would {verb} it"
                f"{because}", pos=rc.pos))
        elif rc is None and recorded is not None and recorded.prevent_destroy:
            problems.append(MlformError(
                f"{address}: lifecycle.prevent_destroy was set when it was last applied, and "
                f"this plan would {verb} it because it is no longer in the configuration "
                f"(id {recorded.id}). To delete it, put it back with prevent_destroy: false "
                "and apply; to stop managing it without deleting it, add "
                f"`removed: [{{from: {address}, destroy: false}}]`"))
        elif rc is None and recorded is not None and recorded.imported:
            problems.append(MlformError(
                f"{address}: this plan would destroy an object that an import recorded (id "
                f"{recorded.id}) and no apply has confirmed, because it is not in the "
                "configuration. If the import wrote its config to another file, list that "
                "file under `include:`; to stop managing the object without deleting it, run "
                f"`mlform state rm {address}`"))
    if problems:
        raise ConfigError(problems)


def _plan_outputs(
    stack: Stack, state: State, values: Mapping[str, Mapping[str, Any]], destroy: bool
) -> dict[str, OutputChange]:
    """Outputs after the change; one that leaves the config (or every one, on destroy) goes to
    None with a None template."""
    out: dict[str, OutputChange] = {}
    specs = {} if destroy else stack.outputs
    for name, spec in specs.items():
        after = substitute(spec.template, resolver(values, f"outputs.{name}", None))
        before = state.outputs[name]["value"] if name in state.outputs else None
        out[name] = OutputChange(name, spec.template, before, after, spec.sensitive)
    for name, old in state.outputs.items():
        if name not in specs:
            out[name] = OutputChange(name, None, old.get("value"), None,
                                     bool(old.get("sensitive")))
    return out
