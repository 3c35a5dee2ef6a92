"""One-off repairs of a state (`mlform state rm`, `mlform state mv`), journaled like an apply.

Each edit holds the lock, writes its records to the journal, and commits: the previous
state.json is kept in history/, so an edit can always be looked at and undone by hand. Neither
touches the cloud: `rm` forgets objects (they keep existing), `mv` re-keys them.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlform.config.adopt import COMPONENT_ADDRESS, RESOURCE_ADDRESS
from mlform.config.validation import suggest
from mlform.errors import StateError
from mlform.state.backend import StateBackend
from mlform.state.models import ResourceState, State


def _under(address: str, prefix: str) -> bool:
    """`address` is `prefix`, or a resource of the component `prefix` (`module.x`)."""
    return address == prefix or (COMPONENT_ADDRESS.match(prefix) is not None
                                 and address.startswith(prefix + "."))


def _matching(state: State, pattern: str) -> list[str]:
    found = [a for a in state.resources if _under(a, pattern)]
    if not found:
        raise StateError(f"no resource '{pattern}' in the state"
                         f"{suggest(pattern, state.resources, 'resources')}")
    return found


def remove(backend: StateBackend, addresses: Sequence[str]) -> dict[str, ResourceState]:
    """Forget the resources at `addresses` (or under `module.<component>`); what was forgotten.
    Nothing in the cloud changes."""
    with backend.lock("state rm"):
        state = backend.load()
        gone: dict[str, ResourceState] = {}
        for pattern in addresses:
            for address in _matching(state, pattern):
                gone[address] = state.resources[address]
        journal = backend.begin(state, "state rm")
        try:
            for address in gone:
                journal.record({"t": "del", "a": address})
        finally:
            backend.commit(state, journal)
        return gone


def move(backend: StateBackend, source: str, target: str) -> list[tuple[str, str]]:
    """Record what is at `source` at `target` instead (a resource to a resource of the same
    type, or `module.a` to `module.b`); the (from, to) pairs moved. Nothing in the cloud
    changes; the objects keep their ids."""
    whole = COMPONENT_ADDRESS.match(source) is not None
    kinds = (COMPONENT_ADDRESS if whole else RESOURCE_ADDRESS).match
    if not (kinds(source) and kinds(target)):
        raise StateError(f"move a resource to a resource (`aws_iam_role.a` to `aws_iam_role.b`) "
                         f"or a component to a component (`module.a` to `module.b`), not "
                         f"'{source}' to '{target}'")
    with backend.lock("state mv"):
        state = backend.load()
        pairs = [(a, target + a[len(source):]) for a in _matching(state, source)]
        for old, new in pairs:
            typed = RESOURCE_ADDRESS.match(new)
            if not whole and typed and state.resources[old].type != typed.group(1):
                raise StateError(f"'{old}' is a {state.resources[old].type}; it cannot move to "
                                 f"'{new}', which names another type")
            if new in state.resources:
                raise StateError(f"'{new}' is already in the state (id "
                                 f"{state.resources[new].id}); nothing was moved")
        journal = backend.begin(state, "state mv")
        try:
            for old, new in pairs:
                journal.record({"t": "move", "a": old, "to": new})
        finally:
            backend.commit(state, journal)
        return pairs
