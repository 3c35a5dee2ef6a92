"""`kms: true` on a component: a customer-managed KMS key of its own, with an alias.

Giving a key's ARN says "use that key"; `kms: true` says "make me one". Asking for both is a
contradiction the config cannot resolve, so it is refused where `kms` is written. The key
rotates yearly and keeps KMS's default key policy (the account's principals decide through
IAM, which is how the components' roles are given it, `iam.kms_access`); its alias names it
after the component, so it is recognisable in the console.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlform.components.base import ExpandContext, Expansion

KEY = "aws_kms_key.this"
ALIAS = "aws_kms_alias.this"


def one_key(kms: bool, key: str | None, field: str) -> None:
    """Refuse `kms: true` beside a key of the user's (`field`, e.g. kms_key_arn)."""
    if kms and key:
        # (`kms: ...` places the message at that key)
        raise ValueError(f"kms: true makes a new key, but {field} gives one already: "
                         f"drop one of the two")


def customer_key(out: Expansion, ctx: ExpandContext, what: str,
                 tags: dict[str, Any]) -> str:
    """Add the component's key and alias; return a reference to the key's ARN."""
    out.add(KEY, description=f"Encrypts {what} of {ctx.name}", enable_key_rotation=True,
            deletion_window_in_days=30, tags=tags)
    out.add(ALIAS, target_key_id=ctx.ref(KEY, "key_id"))
    return ctx.ref(KEY, "arn")
