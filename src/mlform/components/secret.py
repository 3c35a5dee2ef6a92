"""`secret`: a Secrets Manager secret that other components and resources refer to by ARN,
and, with `value_from`, its value.

The value is read where `value_from` points (`mlform.config.secret_refs`) when a plan or apply
needs it, and put as a new version (`aws_secretsmanager_secret_version`) only when its keyed
hash (`mlform.sensitive`) differs from the one recorded: plans, the journal and the state never
hold the value. Other resources get the secret's ARN, never its value.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from mlform.components.base import ComponentModel, ExpandContext, Expansion
from mlform.components.kms import customer_key, one_key
from mlform.config.secret_refs import source_problem
from mlform.sensitive import SecretRef

SECRET = "aws_secretsmanager_secret.this"
VERSION = "aws_secretsmanager_secret_version.this"


class Secret(ComponentModel):
    type: Literal["secret"]
    name: str | None = Field(
        None, description="Secret name (default: <project>-<environment>-<component>).")
    description: str = ""
    kms_key_id: str | None = Field(None, description="KMS key for the secret's values.")
    kms: bool = Field(
        False, description="Encrypt the values with a customer-managed KMS key made for this "
                           "secret (`aws_kms_key` and `aws_kms_alias`). Not with `kms_key_id`.")
    recovery_window_in_days: int = Field(
        7, description="Days a deleted secret stays recoverable (0: deleted at once).")
    value_from: str | None = Field(
        None, description="Where the secret's value is read when a plan or apply needs it: "
        "env:NAME (an environment variable), file:PATH (relative to mlform.yaml), "
        "aws-secretsmanager:NAME_OR_ARN[#json-key] (another secret, a key of its JSON "
        "value with #key) or ssm:/parameter/name. The value goes to Secrets Manager as a "
        "new version when it changes; plans and the state hold only a keyed hash of it. "
        "Unset: the secret is created empty, for a value put in by other means.")

    outputs: ClassVar[dict[str, str]] = {"arn": "The secret's ARN", "name": "The secret's name"}

    @field_validator("value_from")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        problem = value is not None and source_problem(value)
        if problem:
            raise ValueError(problem.removeprefix("value_from: "))
        return value

    anchor: ClassVar[str | None] = "aws_secretsmanager_secret"

    @model_validator(mode="after")
    def _one_key(self) -> Secret:
        one_key(self.kms, self.kms_key_id, "kms_key_id")
        return self

    @classmethod
    def recognize(cls, found: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        secret = found.get("aws_secretsmanager_secret")
        if secret is None or len(found) != 1:
            return None
        settings = {"name": secret["name"], "description": secret.get("description") or "",
                    "recovery_window_in_days": secret.get("recovery_window_in_days", 7)}
        if secret.get("kms_key_id"):
            settings["kms_key_id"] = secret["kms_key_id"]
        if secret.get("tags"):
            settings["tags"] = secret["tags"]
        return settings

    def expand(self, ctx: ExpandContext) -> Expansion:
        out = Expansion()
        args: dict[str, Any] = {"description": self.description, "tags": self.tags,
                                "recovery_window_in_days": self.recovery_window_in_days}
        if self.name:
            args["name"] = self.name
        key = customer_key(out, ctx, "the values", self.tags) if self.kms else self.kms_key_id
        if key:
            args["kms_key_id"] = key
        out.add(SECRET, **args)
        if self.value_from is not None:
            # Positioned at this component's value_from by the loader (`place_refs`).
            ref = SecretRef(self.value_from, ctx.name,
                            base_dir=str(ctx.base_dir) if ctx.base_dir else ".")
            out.add(VERSION, secret_id=ctx.ref(SECRET, "arn"), secret_string=ref)
        out.outputs = {"arn": ctx.ref(SECRET, "arn"), "name": ctx.ref(SECRET, "name")}
        return out
