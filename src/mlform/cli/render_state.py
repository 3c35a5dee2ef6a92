"""The state as text (`mlform show`) and as Terraform-shaped JSON (`mlform show --json`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlform.cli.render_diff import fmt
from mlform.cli.render_plan import render_resource
from mlform.cli.style import SENSITIVE, Style
from mlform.config.refs import split_address
from mlform.engine.planjson import TERRAFORM_VERSION, terraform_values
from mlform.providers.registry import Registry
from mlform.state.models import State


def render_state(state: State, registry: Registry, style: Style) -> Iterator[str]:
    if not state.resources and not state.pending and not state.deposed:
        yield "The state is empty: nothing has been applied in this environment yet."
        return
    for address, res in state.resources.items():
        yield style.bold(f"# {address}:" + ("  (tainted)" if res.status != "ok" else ""))
        yield from render_resource(res.type, split_address(address)[2], res.attributes,
                                   registry, style)
        yield ""
    for address, pending in state.pending.items():
        yield style.yellow(f"# {address}: create interrupted at {pending.started_at}; "
                           "the next plan or apply looks for what it made")
    for address, objs in state.deposed.items():
        for obj in objs:
            yield style.yellow(f"# {address} (deposed object {obj.id}): waiting to be destroyed")
    if state.outputs:
        yield "Outputs:"
        yield ""
        for name in sorted(state.outputs):
            o = state.outputs[name]
            yield f"{name} = {SENSITIVE if o.get('sensitive') else fmt(o.get('value'))}"


def state_json(state: State, registry: Registry) -> dict[str, Any]:
    """The state in the shape of `terraform show -json` (format 1.0), sensitive values hidden."""
    return {
        "format_version": "1.0",
        "terraform_version": TERRAFORM_VERSION,
        "values": terraform_values(state, registry),
        "lineage": state.lineage,
        "serial": state.serial,
    }


def rollback_lines(preview: Any, style: Style) -> Iterator[str]:
    """What a rollback means for live objects (`mlform.history.RollbackPreview`)."""
    yield (f"Rolling back to version {preview.serial} replaces version {preview.current} as "
           "the current state. Nothing in the cloud is changed.")
    if preview.harmless:
        yield "Both versions record the same objects."
        return
    for address, id_ in preview.forgotten:
        yield style.yellow(f"  - {address} [id={id_}]: no longer managed; the object stays "
                           "in the cloud")
    for address, id_, live in preview.restored:
        status = "exists" if live else style.red("is gone: the next plan creates it again")
        yield style.green(f"  + {address} [id={id_}]: recorded again; the object ") + status
    for address, new, old, live in preview.changed:
        status = "exists" if live else style.red("is gone")
        yield (style.yellow(f"  ~ {address}: id {new} -> {old}") + "; the object recorded "
               f"again {status}, and {new} is no longer managed")
    for address in preview.dropped_pending:
        yield style.red(f"  ! {address}: a create in flight would be forgotten; if it made "
                        "an object, that object would no longer be managed")
    if preview.still_configured:
        yield style.red(
            f"  The config still declares {', '.join(preview.still_configured)}: the next plan "
            "would create a second object for each unless it is imported again "
            "(`mlform import`).")
    yield f"  {preview.unchanged} object(s) are recorded the same in both versions."
