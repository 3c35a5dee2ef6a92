"""What the sandbox adds to moto for this service (see the package docstring).

- S3 PutBucketLifecycleConfiguration: moto accepts any transition. AWS refuses a move to
  STANDARD_IA or ONEZONE_IA before day 30, transitions out of order or less than 30 days after
  one to an infrequent-access class, and an expiration on or before the last transition
  (InvalidArgument); so does the sandbox, with the rules mlform checks configs with
  (`mlform.providers.aws.s3_rules`).
- S3 object writes (PutObject, CopyObject, DeleteObject, DeleteObjects): moto checks If-Match
  and If-None-Match, then writes, while other requests run; two conditional PUTs can both pass
  their check. AWS makes the check and the write one step (the other gets 412 or 409), which
  S3 state locking and compare-and-swap depend on; the sandbox runs object writes one at a time.
- S3 bucket policies on object requests: moto evaluates them but ignores every condition
  operator except StringEquals, so `Deny ... if aws:SecureTransport is false` (a dataset store's
  default) denied every object request. The sandbox stands in for AWS's HTTPS endpoint, so it
  leaves out the statements whose conditions it cannot evaluate (that is, it does not check
  `aws:SecureTransport` or upload headers) and evaluates the rest as moto does.
"""

from __future__ import annotations

import json
import threading
from typing import Any

_OBJECT_WRITES = threading.RLock()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def patch_s3() -> None:
    from moto.s3.exceptions import InvalidArgumentError
    from moto.s3.models import FakeBucket

    from mlform.providers.aws.s3_rules import lifecycle_problems

    if getattr(FakeBucket, "_mlform_patched", False):
        return
    original = FakeBucket.set_lifecycle

    def set_lifecycle(self: Any, rules: list[dict[str, Any]]) -> None:
        for rule in rules:
            transitions = [(int(t["Days"]), str(t.get("StorageClass")))
                           for t in _as_list(rule.get("Transition")) if t.get("Days") is not None]
            expiration = (rule.get("Expiration") or {}).get("Days")
            problems = lifecycle_problems(
                transitions, None if expiration is None else int(expiration))
            if problems:
                raise InvalidArgumentError(problems[0], "Days", str(transitions))
        original(self, rules)

    setattr(FakeBucket, "set_lifecycle", set_lifecycle)  # noqa: B010
    setattr(FakeBucket, "get_permission", _get_permission)  # noqa: B010
    setattr(FakeBucket, "_mlform_patched", True)  # noqa: B010


def _evaluable(statement: Any) -> bool:
    conditions = statement.get("Condition") if isinstance(statement, dict) else None
    return not conditions or set(conditions) <= {"StringEquals"}


def _get_permission(self: Any, action: str, resource: str) -> Any:
    """FakeBucket.get_permission without the statements moto would misread (docstring)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    document = json.loads(self.policy.decode())
    document["Statement"] = [s for s in _as_list(document.get("Statement")) if _evaluable(s)]
    return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)


def patch_s3_conditional_writes() -> None:
    from moto.s3.responses import S3Response

    if getattr(S3Response, "_mlform_atomic_writes", False):
        return
    for name in ("put_object", "copy_object", "delete_object", "_bucket_response_delete_keys"):
        setattr(S3Response, name, _one_at_a_time(getattr(S3Response, name)))
    setattr(S3Response, "_mlform_atomic_writes", True)  # noqa: B010


def _one_at_a_time(method: Any) -> Any:
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _OBJECT_WRITES:
            return method(self, *args, **kwargs)

    locked.__name__ = method.__name__
    return locked
