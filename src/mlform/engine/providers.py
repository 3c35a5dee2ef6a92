"""Provider sessions for one stack: opened lazily, shared by all threads of a run."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

from mlform.providers.base import ResourceMeta, ResourceType, StackContext
from mlform.providers.registry import Registry


class ProviderPool:
    """Opens each provider's session once, on first use, and hands out resource instances."""

    def __init__(self, registry: Registry, context: StackContext) -> None:
        self.registry = registry
        self.context = context
        self._lock = threading.Lock()
        self._sessions: dict[str, Any] = {}
        self._resources: dict[str, ResourceType[Any]] = {}

    def resource(self, type_name: str) -> ResourceType[Any]:
        found = self._resources.get(type_name)
        if found is not None:
            return found
        with self._lock:
            if type_name not in self._resources:
                spec = self.registry.provider_for(type_name)
                if spec.name not in self._sessions:
                    self._sessions[spec.name] = spec.open_session(self.context)
                rtype = self.registry.get(type_name)
                self._resources[type_name] = rtype(self._sessions[spec.name])
            return self._resources[type_name]

    def open_early(self, type_names: Iterable[str]) -> None:
        """When the environment names the AWS account it expects (`account_id`), open the
        sessions `type_names` need now: the AWS session checks the account as it opens, so
        credentials of another account stop the run here, before its first call, rather than
        in a worker thread in the middle of an apply."""
        if self.context.account_id is None:
            return
        for type_name in sorted(set(type_names)):
            self.resource(type_name)

    def api_calls(self) -> Counter[str]:
        """Cloud API operations called so far through this pool's sessions, per service."""
        total: Counter[str] = Counter()
        for session in list(self._sessions.values()):
            total.update(getattr(session, "api_calls", None) or {})
        return total

    def meta(self, address: str) -> ResourceMeta:
        return ResourceMeta(address=address, context=self.context)
