"""Reading sensitive values for a run: each `SecretRef` of a stack becomes a `SecretValue`.

A plan reads every value it needs (to compare its token with the recorded one), and apply
uses the values the plan read. A saved plan holds tokens and references only, so applying it
reads each value again and refuses one that no longer matches the plan's token: the plan the
user approved is the plan that is applied, as for every other argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from mlform.config.secret_refs import read_value
from mlform.config.stack import Stack
from mlform.engine.plan import Plan
from mlform.engine.providers import ProviderPool
from mlform.errors import StalePlanError
from mlform.sensitive import SecretRef, SecretValue, stack_key, token

# Any AWS type: its session is the environment's, which reads aws-secretsmanager: and ssm:.
AWS_TYPE = "aws_secretsmanager_secret"


class Reader:
    """Reads each reference once per run, through the stack's AWS session when needed."""

    def __init__(self, pool: ProviderPool) -> None:
        self.pool = pool
        self.key = stack_key(pool.context.stack, pool.context.home)
        self._read: dict[tuple[str, str | None], SecretValue] = {}

    def _client(self, service: str) -> Any:
        return self.pool.resource(AWS_TYPE).session.client(service)

    def value(self, ref: SecretRef) -> SecretValue:
        cache_key = (ref.source, ref.given)
        found = self._read.get(cache_key)
        if found is None:
            plain = read_value(ref, self._client)
            found = self._read[cache_key] = SecretValue(token(self.key, plain), ref, plain)
        return found if found.ref == ref else SecretValue(str(found), ref, found.reveal())

    def reread(self, saved: SecretValue) -> SecretValue:
        """The value a saved plan's token stands for, read again; refused if it changed."""
        assert saved.ref is not None
        fresh = self.value(saved.ref)
        if str(fresh) != str(saved):
            raise StalePlanError(
                f"{saved.ref.label}: {saved.ref.source} has changed since the plan was made; "
                "run `mlform plan` again", pos=saved.ref.pos)
        return fresh


def _walk(value: Any, convert: Callable[[Any], Any]) -> Any:
    value = convert(value)
    if isinstance(value, dict):
        return {k: _walk(v, convert) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, convert) for v in value]
    return value


def seal_stack(stack: Stack, pool: ProviderPool) -> None:
    """Replace every SecretRef in the stack's resources and outputs by its SecretValue
    (reading each value: a missing one is a located one-line error)."""
    reader: Reader | None = None

    def convert(value: Any) -> Any:
        nonlocal reader
        if not isinstance(value, SecretRef):
            return value
        reader = reader or Reader(pool)
        return reader.value(value)

    for res in stack.resources.values():
        res.template = _walk(res.template, convert)
    for name, spec in stack.outputs.items():
        stack.outputs[name] = replace(spec, template=_walk(spec.template, convert))


def reread_plan(plan: Plan, pool: ProviderPool) -> None:
    """Give the SecretValues of a plan loaded from a file their values again."""
    reader: Reader | None = None

    def convert(value: Any) -> Any:
        nonlocal reader
        if not isinstance(value, SecretValue) or value.has_value or value.ref is None:
            return value
        reader = reader or Reader(pool)
        return reader.reread(value)

    for change in plan.changes:
        if change.template is not None:
            change.template = _walk(change.template, convert)
    for output in plan.outputs.values():
        output.template = _walk(output.template, convert)
