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
"""

from __future__ import annotations

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
    setattr(FakeBucket, "_mlform_patched", True)  # noqa: B010


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
