"""Provider registration through the `mlform.providers` entry point group.

Built-in providers register exactly like third-party ones: `pyproject.toml` names an object of
type `ProviderSpec` under `[project.entry-points."mlform.providers"]`. Two providers claiming the
same resource type, or a provider that fails to import, is a loud error, never skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from mlform.errors import RegistryError
from mlform.providers.base import ResourceType, StackContext

ENTRY_POINT_GROUP = "mlform.providers"

SessionFactory = Callable[[StackContext], Any]


@dataclass(frozen=True)
class ProviderSpec:
    """What a provider package exports: its name, resource types and how to open a session."""

    name: str
    resource_types: tuple[type[ResourceType[Any]], ...]
    open_session: SessionFactory
    # How Terraform's plan JSON names the provider, so policy tools recognise the resources.
    terraform_provider: str = ""


@dataclass
class Registry:
    """Resource types by type name, and the provider each belongs to."""

    types: dict[str, type[ResourceType[Any]]] = field(default_factory=dict)
    providers: dict[str, ProviderSpec] = field(default_factory=dict)
    provider_of: dict[str, str] = field(default_factory=dict)

    def add(self, spec: ProviderSpec, origin: str = "") -> None:
        if spec.name in self.providers:
            raise RegistryError(f"provider '{spec.name}' is registered twice{origin}")
        self.providers[spec.name] = spec
        for rtype in spec.resource_types:
            name = rtype.type_name
            if name in self.types:
                raise RegistryError(
                    f"resource type '{name}' is registered by both provider "
                    f"'{self.provider_of[name]}' and provider '{spec.name}'{origin}"
                )
            self.types[name] = rtype
            self.provider_of[name] = spec.name

    def get(self, type_name: str) -> type[ResourceType[Any]]:
        try:
            return self.types[type_name]
        except KeyError:
            raise RegistryError(f"unknown resource type '{type_name}'") from None

    def provider_for(self, type_name: str) -> ProviderSpec:
        return self.providers[self.provider_of[type_name]]


def build_registry(specs: Iterable[ProviderSpec]) -> Registry:
    reg = Registry()
    for spec in specs:
        reg.add(spec)
    return reg


def _load(ep: EntryPoint) -> ProviderSpec:
    origin = f" (entry point '{ep.name} = {ep.value}'"
    origin += f" from package '{ep.dist.name}')" if ep.dist else ")"
    try:
        spec = ep.load()
    except (ImportError, AttributeError) as exc:
        raise RegistryError(
            f"provider '{ep.name}' cannot be imported{origin}: {exc}. "
            f"Install the package or extra that provides it."
        ) from exc
    if not isinstance(spec, ProviderSpec):
        raise RegistryError(f"provider '{ep.name}' is not a ProviderSpec{origin}")
    if spec.name != ep.name:
        raise RegistryError(
            f"provider entry point '{ep.name}' exports a provider named '{spec.name}'{origin}"
        )
    return spec


@cache
def default_registry() -> Registry:
    """All installed providers. Cached: entry points do not change while the process runs."""
    eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    if not eps:
        raise RegistryError(
            "no mlform providers are registered: mlform's package metadata is missing. "
            "Reinstall it with `pip install -e .` (or `pip install mlform`)."
        )
    reg = Registry()
    seen: set[tuple[str, str]] = set()
    for ep in eps:
        if (ep.name, ep.value) in seen:  # one distribution found twice on sys.path
            continue
        seen.add((ep.name, ep.value))
        spec = _load(ep)
        origin = f" (entry point '{ep.name} = {ep.value}')"
        reg.add(spec, origin)
    return reg
