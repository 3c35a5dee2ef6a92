"""A plan as text, in the layout Terraform users read every day."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlform.cli.render_diff import Lines, documents, fmt, lines_sym
from mlform.cli.style import SENSITIVE, Style
from mlform.engine.plan import Action, OutputChange, Plan, ResourceChange
from mlform.providers.registry import Registry
from mlform.providers.schema import sensitive_fields
from mlform.values import UNKNOWN

LEGEND = {
    Action.CREATE: ("+", "create"),
    Action.UPDATE: ("~", "update in-place"),
    Action.DELETE: ("-", "destroy"),
    Action.FORGET: (".", "forget (no longer managed, not destroyed)"),
}


def _mask(change_type: str, attrs: dict[str, Any] | None, registry: Registry) -> dict[str, Any]:
    """Attributes as shown: sensitive values masked, JSON documents decoded."""
    if not attrs:
        return {}
    if not registry.knows(change_type):
        return dict(attrs)
    args = registry.get(change_type).Args
    hidden = sensitive_fields(args)
    return documents(args, {k: (SENSITIVE if k in hidden and v is not None else v)
                            for k, v in attrs.items()})


def render_resource(type_name: str, name: str, attrs: dict[str, Any], registry: Registry,
                    style: Style) -> list[str]:
    """A recorded resource's attributes, as `terraform show` prints them."""
    lines = Lines(style)
    shown = {k: v for k, v in _mask(type_name, attrs, registry).items() if v is not None}
    width = max((len(k) for k in shown), default=0)
    for k in sorted(shown):
        lines.value(2, " ", k, width, shown[k])
    return [f'resource "{type_name}" "{name}" {{', *lines.out, "}"]


def _header(c: ResourceChange, prefix: str = "") -> str:
    name = prefix + (f"{c.address} (deposed object {c.deposed})" if c.deposed else c.address)
    if c.action is Action.CREATE:
        return f"# {name} will be created"
    if c.action is Action.UPDATE:
        return f"# {name} will be updated in-place"
    if c.action is Action.REPLACE:
        if c.reason and not c.replace_because:
            return f"# {name} is tainted, so must be replaced"
        if c.triggered_by and not c.replace_because:
            return f"# {name} will be replaced due to changes in replace_triggered_by"
        return f"# {name} must be replaced"
    if c.action is Action.FORGET:
        return f"# {name} will no longer be managed by mlform, but will not be destroyed"
    return f"# {name} will be destroyed"


def _adopted(c: ResourceChange) -> str | None:
    """What an import or a move adds to a change's header."""
    if c.importing is not None:
        return f"(imported from {fmt(c.importing)})"
    if c.previous_address is not None:
        return f"(moved from {c.previous_address})"
    return None


def render_change(c: ResourceChange, registry: Registry, style: Style,
                  prefix: str = "") -> list[str]:
    """The text block for one resource change (empty for no-op, unless imported or moved).
    `prefix` goes before the address in the header (`[ap-south-1] `)."""
    adopted = _adopted(c)
    if c.action is Action.NOOP:
        if adopted is None:
            return []
        header = (f"# {prefix}{c.address} will be imported" if c.importing is not None
                  else f"# {prefix}{c.previous_address} has moved to {c.address}")
        lines = Lines(style)
        _render_diff(c, c.before or {}, c.before or {}, lines)
        return [f"  {style.bold(header)}", f'    resource "{c.type}" "{c.name}" {{',
                *lines.out, "    }"]
    before = _mask(c.type, c.before, registry)
    after = _mask(c.type, c.after, registry)
    lines = Lines(style)
    head = [f"  {style.bold(_header(c, prefix))}"]
    if adopted is not None:
        head.append(f"  {style.dim(f'# {adopted}')}")
    if c.action in (Action.DELETE, Action.FORGET) and c.reason and not c.deposed:
        head.append(f"  {style.dim(f'# (because {c.reason})')}")
    for text in c.triggered_by if c.action is Action.REPLACE else ():
        head.append(f"  {style.dim(f'# (because {text} changes)')}")
    if c.action is Action.REPLACE and c.replace_because and c.reason:
        head.append(f"  {style.dim(f'# ({c.reason})')}")
    if c.action is Action.REPLACE:
        symbol = "+/-" if c.create_before_destroy else "-/+"
    else:
        symbol = LEGEND[c.action][0]
    head.append(" " * (3 - len(symbol)) + f'{lines.sym(symbol)} resource "{c.type}" "{c.name}" {{')
    if c.action is Action.CREATE:
        shown = {k: v for k, v in after.items() if v is not None}
        width = max((len(k) for k in shown), default=0)
        for k in sorted(shown):
            lines.value(6, "+", k, width, shown[k])
    elif c.action is Action.DELETE:
        shown = {k: v for k, v in before.items() if v is not None}
        width = max((len(k) for k in shown), default=0)
        for k in sorted(shown):
            lines.value(6, "-", k, width, shown[k])
    elif c.action is Action.FORGET:
        _render_diff(c, before, before, lines)
    else:
        _render_diff(c, before, after, lines)
    return head + lines.out + ["    }"]


def _render_diff(c: ResourceChange, before: dict[str, Any], after: dict[str, Any],
                 lines: Lines) -> None:
    keys = sorted(set(before) | set(after))
    # A sensitive value that changed reads the same masked: the plan's own list tells.
    planned = {f.split(".", 1)[0].split("[", 1)[0] for f in c.changed}
    changed = [k for k in keys if before.get(k) != after.get(k) or after.get(k) is UNKNOWN
               or (k in planned and after.get(k) is SENSITIVE)]
    show_id = "id" in before and "id" not in changed
    width = max([len(k) for k in changed] + ([2] if show_id else []), default=0)
    forced = {f.split(".", 1)[0] for f in c.replace_because}
    for k in changed:
        suffix = lines.style.red(" # forces replacement") if k in forced else ""
        lines.diff(6, k, width, before.get(k), after.get(k), suffix)
    if show_id:
        lines.out.append(f"        {'id'.ljust(width)} = {fmt(before['id'])}")
    hidden = len(keys) - len(changed) - (1 if show_id else 0)
    if hidden:
        lines.out.append("        " + lines.style.dim(
            f"# ({hidden} unchanged attribute{'s' if hidden != 1 else ''} hidden)"))


def summary(plan: Plan) -> str:
    add, change, destroy = plan.counts()
    imports = f"{plan.imports} to import, " if plan.imports else ""
    forgets = f", {plan.forgets} to forget" if plan.forgets else ""
    return f"Plan: {imports}{add} to add, {change} to change, {destroy} to destroy{forgets}."


def render_outputs(outputs: dict[str, OutputChange], style: Style) -> list[str]:
    changed = {n: o for n, o in outputs.items() if o.before != o.after or o.after is UNKNOWN}
    if not changed:
        return []
    lines = Lines(style)
    width = max(len(n) for n in changed)
    for name in sorted(changed):
        o = changed[name]
        before = SENSITIVE if o.sensitive and o.before is not None else o.before
        after = SENSITIVE if o.sensitive and o.after not in (None, UNKNOWN) else o.after
        if o.template is None:
            lines.value(2, "-", name, width, before)
        elif o.before is None:
            lines.value(2, "+", name, width, after)
        else:
            lines.diff(2, name, width, before, after)
    return ["", style.bold("Changes to Outputs:"), *lines.out]


def _grouped(changes: list[ResourceChange]) -> list[tuple[str | None, list[ResourceChange]]]:
    """Changes of the config's own resources first, then each component's, together."""
    groups: dict[str | None, list[ResourceChange]] = {None: []}
    for c in changes:
        groups.setdefault(c.component, []).append(c)
    return list(groups.items())


def iter_plan_text(plan: Plan, registry: Registry, style: Style,
                   prefix: str = "") -> Iterator[str]:
    """The full plan text, a line at a time; `prefix` labels each resource's header (the
    region, in an environment of several)."""
    if plan.choices:
        yield style.bold("Components chose:")
        for choice in plan.choices:
            yield f"  - {choice}"
        yield ""
    if plan.lock_notes:
        yield style.bold("Note: mlform.lock")
        for note in plan.lock_notes:
            yield f"  - {note}"
        yield ""
    if plan.notes:
        yield style.bold("Note: objects have changed outside of mlform")
        yield ""
        for note in plan.notes:
            yield f"  - {note}"
        yield ""
    if not plan.has_changes:
        yield style.green(style.bold("No changes.")) + (
            " Your infrastructure matches the configuration." if not plan.destroy
            else " No objects need to be destroyed.")
        return
    actions = {c.action for c in plan.changes}
    if any(c.action is not Action.NOOP or _adopted(c) for c in plan.changes):
        yield ("mlform will perform the following actions. Resource actions are indicated "
               "with the following symbols:" if actions - {Action.NOOP} else
               "mlform will perform the following actions:")
        for action in (Action.CREATE, Action.UPDATE, Action.DELETE, Action.FORGET):
            if action in actions:
                sym, text = LEGEND[action]
                yield f"  {lines_sym(style, sym)} {text}"
        if Action.REPLACE in actions:
            if any(c.action is Action.REPLACE and not c.create_before_destroy
                   for c in plan.changes):
                yield f"{lines_sym(style, '-/+')} destroy and then create replacement"
            if any(c.action is Action.REPLACE and c.create_before_destroy
                   for c in plan.changes):
                yield f"{lines_sym(style, '+/-')} create replacement and then destroy"
        yield ""
        for component, changes in _grouped(plan.changes):
            if component is not None and any(c.action is not Action.NOOP or _adopted(c)
                                             for c in changes):
                kind = plan.components.get(component, "component")
                yield style.bold(f"  ── {component} ({kind}) " + "─" * max(3, 60 - len(
                    component) - len(kind)))
                yield ""
            for c in changes:
                block = render_change(c, registry, style, prefix)
                if block:
                    yield from block
                    yield ""
        yield style.bold(summary(plan))
        yield from render_renames(plan, style)
    yield from render_outputs(plan.outputs, style)


def render_renames(plan: Plan, style: Style) -> list[str]:
    """The `moved:` entries that would keep what the plan destroys and creates again; a
    warning when that loses data (a bucket's objects)."""
    if not plan.renames:
        return []
    if any(r.loses for r in plan.renames):
        head = style.red(style.bold(
            "Warning: this plan destroys objects that hold data and creates them again, with the "
            "same settings, under new addresses:"))
    else:
        head = style.bold("Note: this plan destroys objects and creates them again, with the "
                          "same settings, under new addresses:")
    lines = ["", head]
    for r in plan.renames:
        loss = "; ".join(
            f"destroying {'it' if address == r.source else address} loses {what}"
            for address, what in r.loses)
        lines.append(f"  {r.source} -> {r.target}" + (f": {loss}" if loss else ""))
    lines += ["If they were renamed, keep them: add to mlform.yaml", "", "moved:"]
    lines += [f"  - {r.entry}" for r in plan.renames]
    return lines
