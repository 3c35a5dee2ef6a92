"""`mlform import --discover --generate-config FILE`: codify what exists, proven by a plan.

Discover the objects no mlform state records, read each one, write config for them (components
where a group matches a component's shape, raw resources otherwise) and plan that config (with
the config's own entries, and its `include:`s) against the state with the objects imported. A
component whose plan shows any change is written as raw resources instead; a raw resource that
still plans a change (a setting mlform does not model) is reported. Only then are the files
written and the objects recorded.

FILE is the config itself (the entries are added to it) or a new file beside it: that file gets
the generated entries alone, and the config an `include:` of it, so the next plan reads both.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mlform.config.stack import Stack
from mlform.config.write import add_entries, add_include
from mlform.engine.codify import Codified, Live, codify
from mlform.engine.discover import Found
from mlform.engine.plan import Action, make_plan
from mlform.engine.providers import ProviderPool
from mlform.errors import MlformError
from mlform.providers.registry import Registry
from mlform.state.models import ResourceState, State, now_iso


@dataclass
class Generated:
    files: dict[Path, str]  # what to write, in order: the generated entries, then the config
    codified: Codified      # that includes them (when FILE is a new file)
    recorded: dict[str, ResourceState]  # what to record in the state, by address
    differs: dict[str, list[str]] = field(default_factory=dict)  # address -> changed fields


def read_live(pool: ProviderPool, found: Sequence[Found], parallelism: int) -> list[Live]:
    """Read every discovered object (those deleted since they were listed drop out)."""
    def read(f: Found) -> Live | None:
        attrs = pool.resource(f.type).read(f.import_id or f.id, {})
        return None if attrs is None else Live(f.type, str(attrs.get("id", f.id)), attrs,
                                               f.import_id or f.id)

    with ThreadPoolExecutor(max_workers=max(1, parallelism),
                            thread_name_prefix="mlform-import") as ex:
        return [x for x in ex.map(read, found) if x is not None]


def generate(
    live: Sequence[Live], stack: Stack, state: State, registry: Registry,
    load: Callable[[Path], Stack], target: Path,
) -> Generated:
    """Config for `live` and the state records of its imports.

    `target` is the config itself (the entries are added to it) or a new file beside it (it
    gets the entries alone, and the config an `include:` of it). `load` reads a config file as
    a Stack of the same environment."""
    from mlform.components import component_types

    config = stack.config_path
    into_config = target.resolve() == config.resolve()
    text = config.read_text(encoding="utf-8")
    taken = set(stack.resources) | set(stack.components)
    comment = (f"Imported by `mlform import --discover` on {now_iso()[:10]} from "
               f"{stack.context.target} {stack.context.region}: made outside mlform.")
    ungrouped: set[tuple[str, str]] = set()
    # The proof plans scratch copies beside the config (same state, same relative paths;
    # dot-names, so no `include:` pattern picks them up).
    scratch = config.parent / f".{config.name}.mlform-generate"
    scratch_entries = target.parent / f".{target.name}.mlform-generate"
    try:
        while True:
            codified = codify(live, registry, stack.context, component_types(), taken,
                              ungrouped)
            if into_config:
                files = {config: _with_entries(text, codified, comment)}
                scratch.write_text(files[config], encoding="utf-8")
            else:
                entries = _with_entries("", codified, comment).lstrip("\n")
                files = {target: entries, config: add_include(text, target.name)}
                scratch_entries.write_text(entries, encoding="utf-8")
                scratch.write_text(add_include(text, scratch_entries.name), encoding="utf-8")
            trial_stack = load(scratch)
            recorded = {
                a: ResourceState(type=o.type, id=o.id, attributes=o.attributes,
                                 dependencies=list(trial_stack.resources[a].depends_on),
                                 imported=True)
                for a, o in codified.imports.items()}
            trial = State(project=state.project, environment=state.environment,
                          resources={**state.resources, **recorded})
            plan = make_plan(trial_stack, trial, registry)
            changed = {c.address: c.changed or [c.action.value] for c in plan.changes
                       if c.address in recorded and c.action is not Action.NOOP}
            bad = {a.split(".")[1] for a in changed if a.startswith("module.")}
            if not bad:
                return Generated({p: t for p, t in files.items() if p != config or t != text},
                                 codified, recorded, changed)
            ungrouped |= {codified.anchors[c] for c in bad if c in codified.anchors}
            if not bad <= set(codified.anchors):  # not ours: cannot happen, but never loop
                raise MlformError(f"generated components {sorted(bad)} do not plan cleanly")
    finally:
        scratch.unlink(missing_ok=True)
        scratch_entries.unlink(missing_ok=True)


def _with_entries(text: str, codified: Codified, comment: str) -> str:
    """`text` with the generated components, resources and `import:` entries added."""
    new = add_entries(text, "components", codified.components, comment)
    new = add_entries(new, "resources", codified.resources, comment)
    # The state records the imports at once; these entries only matter if it could not (a
    # process killed in between): the next plan then imports instead of creating. Done
    # imports are skipped, so they can stay or go.
    return add_entries(new, "import", [
        {"to": a, "id": o.import_id or o.id} for a, o in codified.imports.items()], comment)


def write_config(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
