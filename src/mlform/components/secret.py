"""`secret`: a Secrets Manager secret that other components and resources refer to by ARN.

Only the secret itself is managed here; putting a value in it comes with mlform's secrets
support (values must never reach state, plans or logs in plain text).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from mlform.components.base import ComponentModel, ExpandContext, Expansion

SECRET = "aws_secretsmanager_secret.this"


class Secret(ComponentModel):
    type: Literal["secret"]
    name: str | None = Field(
        None, description="Secret name (default: <project>-<environment>-<component>).")
    description: str = ""
    kms_key_id: str | None = Field(None, description="KMS key for the secret's values.")
    recovery_window_in_days: int = Field(
        7, description="Days a deleted secret stays recoverable (0: deleted at once).")
    value_from: str | None = Field(
        None, description="Not supported yet: secret values come with mlform's secrets "
                          "support.")

    outputs: ClassVar[dict[str, str]] = {"arn": "The secret's ARN", "name": "The secret's name"}

    @field_validator("value_from")
    @classmethod
    def _no_values_yet(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError("secret values are not supported yet: create the secret here and "
                             "put its value in with the AWS console or CLI for now")
        return value

    anchor: ClassVar[str | None] = "aws_secretsmanager_secret"

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
        if self.kms_key_id:
            args["kms_key_id"] = self.kms_key_id
        out.add(SECRET, **args)
        out.outputs = {"arn": ctx.ref(SECRET, "arn"), "name": ctx.ref(SECRET, "name")}
        return out
