"""Moves and imports, as a plan sees them: applied to the (in-memory) state before comparing.

A `moved:` entry re-keys what the state records; an `import:` entry (or `mlform import`) reads an
existing object by its id and records it as it is, so the plan compares it with the config like
any managed object: an import whose config matches the object plans no change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

from mlform.config.adopt import Import, Move
from mlform.config.resources import ResourceConfig
from mlform.engine.calls import provider_error
from mlform.engine.providers import ProviderPool
from mlform.errors import ConfigError, MlformError, ProviderError
from mlform.providers.base import TAG_STACK
from mlform.state.models import ResourceState, State, move_address


def apply_moves(state: State, moves: Iterable[Move]) -> list[tuple[str, str]]:
    """Move recorded resources as `moves` say (in memory); the (from, to) pairs moved."""
    done: list[tuple[str, str]] = []
    for move in moves:
        for address in list(state.resources):
            target = move.moves(address)
            if target is not None and target not in state.resources:
                move_address(state, address, target)
                done.append((address, target))
    return done


def read_imports(
    state: State, imports: Mapping[str, Import], resources: Mapping[str, ResourceConfig],
    pool: ProviderPool, parallelism: int = 10,
) -> dict[str, ResourceState]:
    """Read the object of every import not done yet; raise MlformError naming each import that
    cannot be done (no such object, or one this state already manages at another address)."""
    todo = [i for a, i in imports.items() if a not in state.resources]
    managed = {(r.type, r.id): a for a, r in state.resources.items()}
    found: dict[str, ResourceState] = {}
    errors: list[MlformError] = []

    def read(item: Import) -> None:
        rc = resources[item.address]
        try:
            found[item.address] = adopt(pool, rc, item.id, managed)
        except MlformError as exc:
            errors.append(MlformError(f"import {item.address}: {exc.message}", pos=item.pos))
        except Exception as exc:
            err = provider_error(exc, item.address)
            errors.append(MlformError(f"import {item.address}: {err.message}", pos=item.pos))

    with ThreadPoolExecutor(max_workers=max(1, parallelism),
                            thread_name_prefix="mlform-import") as ex:
        list(ex.map(read, todo))
    if errors:
        raise ConfigError(errors)
    return {a: found[a] for a in imports if a in found}


def adopt(pool: ProviderPool, rc: ResourceConfig, id: str,
          managed: Mapping[tuple[str, str], str]) -> ResourceState:
    """The recorded state of the existing object `id`, to be managed as `rc`."""
    other = managed.get((rc.type, id))
    if other is not None:
        raise ProviderError(f"{rc.type} '{id}' is already managed as {other}")
    live = pool.resource(rc.type).read(id, {})
    if live is None:
        raise ProviderError(f"there is no {rc.type} with id '{id}' in {pool.context.region} "
                            f"({pool.context.target})")
    stack = (live.get("tags_all") or {}).get(TAG_STACK)
    if stack and stack != pool.context.stack:
        raise ProviderError(f"{rc.type} '{id}' belongs to mlform stack '{stack}' (its "
                            f"{TAG_STACK} tag); import it there, or remove the tag first")
    return ResourceState(type=rc.type, id=str(live.get("id", id)), attributes=live,
                         dependencies=list(rc.depends_on), imported=True)
