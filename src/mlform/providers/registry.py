"""Provider registration through the `mlform.providers` entry point group.

Built-in providers register exactly like third-party ones: `pyproject.toml` names an object of
type `ProviderSpec` under `[project.entry-points."mlform.providers"]`, keyed by the provider's
name. As in Terraform, a resource type's name starts with its provider's (`aws_s3_bucket` is
the `aws` provider's), so a provider is imported only when a config uses one of its types, and
two providers can never claim the same type. A provider that fails to import, or that declares a
type outside its prefix, is a loud error, never skipped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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


def provider_name_of(type_name: str) -> str:
    """`aws_s3_bucket` -> `aws`: the provider a resource type belongs to."""
    return type_name.split("_", 1)[0]


class Registry:
    """Resource types by name, loading each provider the first time one of its types is used."""

    def __init__(self, loaders: dict[str, Callable[[], ProviderSpec]] | None = None) -> None:
        self._loaders = dict(loaders or {})
        self.providers: dict[str, ProviderSpec] = {}
        self._types: dict[str, type[ResourceType[Any]]] = {}
        # Regions load their stacks in parallel: one thread imports a provider while another
        # asks for one of its types, which must wait for it rather than find it missing.
        self._loading = threading.RLock()

    def add(self, spec: ProviderSpec, origin: str = "") -> None:
        if spec.name in self.providers:
            raise RegistryError(f"provider '{spec.name}' is registered twice{origin}")
        for rtype in spec.resource_types:
            name = rtype.type_name
            if provider_name_of(name) != spec.name:
                raise RegistryError(
                    f"provider '{spec.name}' declares resource type '{name}', which does not "
                    f"start with '{spec.name}_'{origin}"
                )
            if name in self._types:
                raise RegistryError(f"resource type '{name}' is declared twice{origin}")
            self._types[name] = rtype
        self.providers[spec.name] = spec

    def _load(self, provider: str) -> None:
        if provider in self.providers:
            return
        with self._loading:
            if provider not in self.providers and provider in self._loaders:
                self.add(self._loaders[provider]())
                del self._loaders[provider]

    def knows(self, type_name: str) -> bool:
        self._load(provider_name_of(type_name))
        return type_name in self._types

    def get(self, type_name: str) -> type[ResourceType[Any]]:
        if not self.knows(type_name):
            raise RegistryError(f"unknown resource type '{type_name}'")
        return self._types[type_name]

    def provider_for(self, type_name: str) -> ProviderSpec:
        self.get(type_name)
        return self.providers[provider_name_of(type_name)]

    def all_types(self) -> dict[str, type[ResourceType[Any]]]:
        """Every type of every installed provider (imports them all: for suggestions, docs)."""
        for provider in list(self._loaders):
            self._load(provider)
        return dict(self._types)


def build_registry(specs: Iterable[ProviderSpec]) -> Registry:
    """A registry of exactly these providers (tests, embedding)."""
    reg = Registry()
    for spec in specs:
        reg.add(spec)
    return reg


def _loader(ep: EntryPoint) -> Callable[[], ProviderSpec]:
    origin = f" (entry point '{ep.name} = {ep.value}'"
    origin += f" from package '{ep.dist.name}')" if ep.dist else ")"

    def load() -> ProviderSpec:
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

    return load


@cache
def default_registry() -> Registry:
    """All installed providers. Cached: entry points do not change while the process runs."""
    loaders: dict[str, Callable[[], ProviderSpec]] = {}
    values: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in values and values[ep.name] != ep.value:
            raise RegistryError(
                f"provider '{ep.name}' is registered twice: by '{values[ep.name]}' and by "
                f"'{ep.value}'"
            )
        values[ep.name] = ep.value  # the same distribution found twice on sys.path is fine
        loaders[ep.name] = _loader(ep)
    if not loaders:
        raise RegistryError(
            "no mlform providers are registered: mlform's package metadata is missing. "
            "Reinstall it with `pip install -e .` (or `pip install mlform`)."
        )
    return Registry(loaders)
