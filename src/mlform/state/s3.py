"""State in S3: one object per stack in a versioned bucket, as Terraform's S3 backend keeps it
(with `use_lockfile`: no DynamoDB table).

    <key>                  the current state; each version S3 keeps is a version of the state,
                           its x-amz-meta-serial/-who/-at/-operation saying which, so history is
                           the bucket's own versioning (a bucket without it is refused)
    <key>.journal/<seq>    one object per record of the apply in progress, or of a killed one
    <key>.lock             who holds the lock (`LockInfo`), renewed by the holder's heartbeat

Every change is a conditional write, which S3 makes atomic: the state with If-Match on the ETag
read (If-None-Match: * for the first), so no update is lost even under a broken lock; the lock
is taken with If-None-Match: *, renewed and removed with If-Match on the holder's own ETag (a
lock taken over or forced is never renewed or deleted by its old holder), and taken over with
If-Match on the silent holder's ETag, so of two takers one wins; each taker's fencing token is
one higher. A conditional request retried after a lost answer fails its own condition, so a
refusal is checked against what is there (our bytes, our lock id) before it counts as lost.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any
from urllib.parse import quote, unquote

from mlform.errors import StateError
from mlform.providers.aws.errors import MAX_MESSAGE, error_code, error_message
from mlform.state.store import LockInfo, Stored, VersionMeta, WriteConflict, precise_now

REFUSALS = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
MISSING = frozenset({"NoSuchKey", "NotFound", "404"})
DENIED = frozenset({"AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId",
                    "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"})
WRONG_REGION = frozenset({"PermanentRedirect", "AuthorizationHeaderMalformed",
                          "IllegalLocationConstraintException", "301"})
BATCH = 1000  # DeleteObjects' limit


class _Refused(StateError):
    """S3 refused a condition (412/409) or found no such key: callers decide what that means;
    one that escapes still reads as an error."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def missing(self) -> bool:
        return self.code in MISSING


class S3Store:
    """One stack's state at s3://`bucket`/`key`; `session()` gives the environment's
    `AwsSession`, made on first use (the heartbeat thread may be first)."""

    needs_heartbeat = True

    def __init__(self, session: Callable[[], Any], bucket: str, key: str,
                 region: str | None) -> None:
        self._session = session
        self.bucket, self.key, self.region = bucket, key, region
        self.location = f"s3://{bucket}/{key}"
        self.lock_key = f"{key}.lock"
        self.journal_prefix = f"{key}.journal/"
        self._guard = threading.Lock()
        self._s3: Any = None
        self._etags: dict[str, str] = {}  # lock id -> ETag of that holder's lock, last seen
        self._seq: int | None = None  # the next journal record's number
        self._meta: dict[str, VersionMeta] = {}  # S3 version id -> meta (versions never change)

    # --- calls -----------------------------------------------------------------------------

    def _client(self) -> Any:
        with self._guard:
            if self._s3 is None:
                session = self._session()
                self.region = self.region or session.region
                client = session.client("s3", self.region)
                self._check_versioning(client)
                self._s3 = client
            return self._s3

    def _check_versioning(self, client: Any) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            status = client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        except (ClientError, BotoCoreError) as exc:
            raise self._error("get_bucket_versioning", exc) from None
        if status != "Enabled":
            raise StateError(
                f"{self.location}: versioning is {(status or 'off').lower()} on bucket "
                f"{self.bucket}, and state history depends on it; enable it (`aws s3api "
                f"put-bucket-versioning --bucket {self.bucket} --versioning-configuration "
                "Status=Enabled`) and run this again")

    def _call(self, method: str, **kw: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client()
        try:
            return getattr(client, method)(Bucket=self.bucket, **kw)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = error_code(exc) or str(status or "")
            if code in REFUSALS or code in MISSING:
                raise _Refused(f"{_op(method)} on {self.location}: {code}", code) from None
            raise self._error(method, exc) from None
        except BotoCoreError as exc:
            raise self._error(method, exc) from None

    def _error(self, method: str, exc: Exception) -> StateError:
        code, message = error_code(exc), error_message(exc)[:MAX_MESSAGE]
        where = f"{self.location} (region {self.region})"
        if code == "NoSuchBucket":
            return StateError(f"the state bucket {self.bucket} does not exist in region "
                              f"{self.region}: create it (with versioning) or fix "
                              "`state.bucket`/`state.region` in mlform.yaml")
        if code in WRONG_REGION:
            return StateError(f"the state bucket {self.bucket} is not in region "
                              f"{self.region}: set `state.region` to its region in mlform.yaml")
        if code in DENIED:
            return StateError(f"{_op(method)} on {where} was denied ({code}: {message}); "
                              "check the environment's credentials and their S3 permissions")
        return StateError(f"{_op(method)} on {where} failed: "
                          + (f"{code}: {message}" if code else message))

    def _pages(self, method: str, cursor: dict[str, str], **kw: Any) -> Iterator[Any]:
        """Every page of a listing; `cursor`: the answer's next-marker field -> parameter."""
        while True:
            page = self._call(method, **kw)
            yield page
            if not page.get("IsTruncated"):
                return
            kw.update({param: page[name] for name, param in cursor.items() if page.get(name)})

    def _get(self, key: str, **kw: Any) -> tuple[bytes, str] | None:
        try:
            got = self._call("get_object", Key=key, **kw)
        except _Refused as exc:
            if exc.missing:
                return None
            raise
        return got["Body"].read(), got["ETag"]

    # --- state -----------------------------------------------------------------------------

    def read(self) -> Stored | None:
        got = self._get(self.key)
        return None if got is None else Stored(*got)

    def write(self, data: bytes, *, expect: str | None, meta: VersionMeta) -> str:
        condition = {"IfMatch": expect} if expect is not None else {"IfNoneMatch": "*"}
        metadata = {"serial": str(meta.serial), "at": meta.written_at,
                    "who": quote(meta.who, safe=""), "operation": quote(meta.operation, safe="")}
        try:
            out = self._call("put_object", Key=self.key, Body=data, Metadata=metadata,
                             ContentType="application/json", **condition)
        except _Refused as exc:
            current = self.read()
            if current is not None and current.data == data:
                return current.version  # our own write, its answer lost and the call retried
            raise WriteConflict(f"{self.location} is no longer the version that was read "
                                f"(S3: {exc.code})") from None
        if out.get("VersionId"):
            self._meta[out["VersionId"]] = VersionMeta(
                meta.serial, meta.written_at, meta.who, meta.operation, ref=out["VersionId"])
        return str(out["ETag"])

    def versions(self) -> list[VersionMeta]:
        ids: list[str] = []
        cursor = {"NextKeyMarker": "KeyMarker", "NextVersionIdMarker": "VersionIdMarker"}
        for page in self._pages("list_object_versions", cursor, Prefix=self.key):
            entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
            ids += [v["VersionId"] for v in page.get("Versions", []) if v["Key"] == self.key]
            if any(e["Key"] != self.key for e in entries):
                break  # keys sort after their prefix: the rest are the lock's and journal's
        out = []
        for vid in reversed(ids):  # S3 lists a key's versions newest first
            meta = self._meta.get(vid) or self._version_meta(vid)
            if meta is not None:
                self._meta[vid] = meta
                out.append(meta)
        return out

    def _version_meta(self, vid: str) -> VersionMeta | None:
        try:
            head = self._call("head_object", Key=self.key, VersionId=vid)
        except _Refused:
            return None
        m = head.get("Metadata", {})
        if str(m.get("serial", "")).isdigit():
            return VersionMeta(int(m["serial"]), m.get("at", ""), unquote(m.get("who", "")),
                               unquote(m.get("operation", "")), ref=vid)
        got = self._get(self.key, VersionId=vid)  # uploaded without mlform's metadata
        try:
            doc = json.loads(got[0]) if got else {}
        except ValueError:
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("serial"), int):
            return None
        written = doc["written"] if isinstance(doc.get("written"), dict) else {}
        return VersionMeta(doc["serial"], written.get("at", ""), written.get("by", ""),
                           written.get("operation", ""), ref=vid)

    def read_version(self, serial: int) -> bytes:
        for meta in reversed(self.versions()):
            if meta.serial == serial:
                got = self._get(self.key, VersionId=meta.ref)
                if got is not None:
                    return got[0]
        raise KeyError(serial)

    # --- journal ---------------------------------------------------------------------------

    def _journal_keys(self) -> list[str]:
        keys: list[str] = []
        cursor = {"NextContinuationToken": "ContinuationToken"}
        for page in self._pages("list_objects_v2", cursor, Prefix=self.journal_prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return sorted(keys)

    def journal_append(self, line: bytes, *, durable: bool) -> None:
        if self._seq is None:  # continue a journal left behind, never overwrite it
            keys = self._journal_keys()
            tail = keys[-1].rpartition("/")[2] if keys else ""
            self._seq = int(tail) + 1 if tail.isdigit() else 0
        self._call("put_object", Key=f"{self.journal_prefix}{self._seq:08d}", Body=line)
        self._seq += 1  # every PUT is durable: `durable` asks nothing more

    def journal_read(self) -> list[bytes] | None:
        keys = self._journal_keys()
        if not keys:
            return None
        found = [self._get(key) for key in keys]
        return [got[0] for got in found if got is not None]

    def journal_drop(self) -> None:
        keys = self._journal_keys()
        for start in range(0, len(keys), BATCH):
            out = self._call("delete_objects", Delete={
                "Objects": [{"Key": k} for k in keys[start:start + BATCH]], "Quiet": True})
            if out.get("Errors"):
                first = out["Errors"][0]
                raise StateError(f"cannot delete the journal of {self.location}: {first['Key']}:"
                                 f" {first.get('Code')}: {first.get('Message')}")
        self._seq = 0

    def journal_close(self) -> None:
        pass  # nothing is buffered

    # --- lock ------------------------------------------------------------------------------

    def _read_lock(self) -> tuple[LockInfo, str] | None:
        got = self._get(self.lock_key)
        if got is None:
            return None
        raw, etag = got
        info = LockInfo.from_bytes(raw) or LockInfo("unknown (unreadable lock)",
                                                    id=etag.strip('"'), who="?", host="?", pid=0)
        self._etags[info.id] = etag
        return info, etag

    def _put_lock(self, info: LockInfo, **condition: str) -> bool:
        """Write `info` as the lock under `condition`; False if S3 refused it (unless what is
        there is `info` itself: a retried call whose first try succeeded)."""
        try:
            out = self._call("put_object", Key=self.lock_key, Body=info.to_bytes(),
                             ContentType="application/json", **condition)
        except _Refused:
            found = self._read_lock()
            return found is not None and found[0].id == info.id
        self._etags[info.id] = out["ETag"]
        return True

    def try_lock(self, info: LockInfo) -> LockInfo | None:
        for _ in range(5):
            info.since = info.heartbeat = precise_now()  # a long wait must not look silent
            if self._put_lock(info, IfNoneMatch="*"):
                return None
            found = self._read_lock()
            if found is not None:
                return found[0]
        return LockInfo("unknown (taken and released repeatedly)", id="?", who="?",
                        host="?", pid=0)

    def take_over(self, stale: LockInfo, info: LockInfo) -> bool:
        etag = self._etags.get(stale.id)
        if etag is None:
            return False
        info.token = stale.token + 1
        info.since = info.heartbeat = precise_now()
        return self._put_lock(info, IfMatch=etag)

    def heartbeat(self, info: LockInfo) -> bool:
        etag = self._etags.get(info.id)
        if etag is None:
            return False
        info.heartbeat = precise_now()
        return self._put_lock(info, IfMatch=etag)

    def unlock(self, info: LockInfo) -> None:
        etag = self._etags.pop(info.id, None)
        if etag is None:
            return
        try:
            self._call("delete_object", Key=self.lock_key, IfMatch=etag)
        except _Refused as exc:
            found = None if exc.missing else self._read_lock()
            # Taken over or forced: never delete another holder's lock. Still ours: renewed by
            # a beat whose answer was lost, and now its ETag is known.
            if found is not None and found[0].id == info.id:
                with suppress(_Refused):
                    self._call("delete_object", Key=self.lock_key, IfMatch=found[1])
        finally:
            self._etags.pop(info.id, None)

    def holder(self) -> LockInfo | None:
        found = self._read_lock()
        return found[0] if found else None

    def force_unlock(self, lock_id: str) -> LockInfo:
        found = self._read_lock()
        if found is None:
            raise StateError(f"{self.location} is not locked (no {self.lock_key}): there is "
                             "nothing to force")
        holder, etag = found
        if holder.id != lock_id:
            raise StateError(f"{self.location} is locked by {holder.describe()}, not by lock "
                             f"id {lock_id}; nothing was removed")
        try:
            self._call("delete_object", Key=self.lock_key, IfMatch=etag)
        except _Refused as exc:
            if not exc.missing:
                now = self.holder()
                raise StateError(f"the lock of {self.location} changed while it was being "
                                 "removed" + (f"; it is held by {now.describe()}" if now else "")
                                 + "; nothing was removed") from None
        return holder


def _op(method: str) -> str:
    """`put_object` -> `PutObject`, as AWS names its operations."""
    return "".join(part.title() for part in method.split("_"))
