"""The state as text (`mlform show`) and as Terraform-shaped JSON (`mlform show --json`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlform.cli.render_diff import fmt
from mlform.cli.render_plan import render_resource
from mlform.cli.style import SENSITIVE, Style
from mlform.config.refs import split_address
from mlform.engine.planjson import COMPATIBLE_TERRAFORM, terraform_values
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
        "terraform_version": COMPATIBLE_TERRAFORM,
        "values": terraform_values(state, registry),
        "lineage": state.lineage,
        "serial": state.serial,
    }
