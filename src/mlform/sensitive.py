"""Sensitive values: where they come from, and what stands for them everywhere they are written.

A sensitive value (a `secret` component's `value_from`, a variable with `sensitive: true`)
exists in plain text only in memory, and only from the moment a plan or apply needs it:

- `SecretRef` is what a loaded config holds: where the value comes from (`env:NAME`,
  `file:PATH`, `aws-secretsmanager:ID[#key]`, `ssm:/name`, or `var:NAME` for a value given
  with `--var`/a var file) and where the reference is written, for error messages. It is never
  the value, except for `var:` values, which it holds in a field that no repr or dump shows.
- `SecretValue` is what a plan holds once the value is read: a `str` whose text is the
  value's *token* (`hmac-sha256:<hex>`), so every path that writes a plan, the journal, the
  state or a message writes the token and nothing else. The plain text is only returned by
  `reveal()`, which a provider calls at the moment it hands the value to the cloud.

The token is HMAC-SHA256 keyed per stack: key = HMAC(machine key, "mlform stack key" + stack
name). The machine key is 32 random bytes kept outside the project, in
`$MLFORM_HOME/secret.key` (mode 0600, made on first use), or given by `MLFORM_SECRET_KEY`
(hex) where several machines must agree on tokens (CI and laptops sharing one state). A token
tells whether a value changed without storing anything from which the value can be guessed:
a plain SHA-256 of a short password is found by trying candidates, an HMAC is not without the
key, which is never next to the state. A machine without the key the state's tokens were made
with sees every sensitive value as changed once and writes it again (a new secret version:
harmless, and the plan says so).

`redact` takes every value revealed in this process out of a text: the last line of defence
for a cloud error or a traceback that echoes one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlform.errors import MlformError, SourcePos

MASK = "(sensitive value)"
TOKEN_PREFIX = "hmac-sha256:"
KEY_ENV = "MLFORM_SECRET_KEY"

_revealed: set[str] = set()  # every plain text revealed in this process, for `redact`
_revealed_lock = threading.Lock()
_quiet = threading.local()


@dataclass(frozen=True)
class SecretRef:
    """Where a sensitive value comes from; never the value (see the module docstring)."""

    source: str  # env:NAME | file:PATH | aws-secretsmanager:ID[#key] | ssm:/name | var:NAME
    label: str  # what it belongs to in messages: "db-password" or "variables.db_password"
    pos: SourcePos | None = None
    base_dir: str = "."  # `file:` paths are relative to the config file's folder
    given: str | None = field(default=None, repr=False, compare=False)  # a --var value

    def __str__(self) -> str:
        return MASK

    def fail(self, why: str) -> MlformError:
        """A one-line error naming the reference and where it is written (never the value)."""
        return MlformError(f"{self.label}: {self.source}: {why}", pos=self.pos)


class SecretValue(str):
    """A sensitive value in a plan: its text is the token, `reveal()` the value."""

    ref: SecretRef | None
    _plain: str | None

    def __new__(cls, token: str, ref: SecretRef | None = None,
                plain: str | None = None) -> SecretValue:
        made = super().__new__(cls, token)
        made.ref = ref
        made._plain = plain
        if plain:
            remember(plain)
        return made

    @property
    def has_value(self) -> bool:
        """False for a value loaded from a saved plan, before it is read again."""
        return self._plain is not None

    def reveal(self) -> str:
        """The value itself: only for the call that hands it to the cloud."""
        if self._plain is None:
            where = f" ({self.ref.label})" if self.ref else ""
            raise MlformError(f"a sensitive value{where} was not read before use; plan again")
        return self._plain

    def __reduce__(self) -> Any:  # pickling keeps the token only
        return (str, (str(self),))

    def __deepcopy__(self, memo: dict[int, Any]) -> SecretValue:
        return self


def machine_key(home: str | None = None) -> bytes:
    """This machine's key: `MLFORM_SECRET_KEY` (hex), else `$MLFORM_HOME/secret.key`, made
    (32 random bytes, mode 0600) the first time it is needed."""
    given = os.environ.get(KEY_ENV, "").strip()
    if given:
        try:
            return bytes.fromhex(given)
        except ValueError:
            raise MlformError(f"{KEY_ENV} must be hex (e.g. the output of "
                              "`python -c 'import secrets; print(secrets.token_hex(32))'`)"
                              ) from None
    root = Path(home or os.environ.get("MLFORM_HOME") or Path.home() / ".mlform")
    path = root / "secret.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    root.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return bytes.fromhex(key)


def stack_key(stack: str, home: str | None = None) -> bytes:
    """The key tokens of `stack` (`project/environment[/region]`) are made with."""
    return hmac.new(machine_key(home), b"mlform stack key\0" + stack.encode(),
                    hashlib.sha256).digest()


def token(key: bytes, plain: str) -> str:
    """The token that stands for `plain` in plans, the journal and the state."""
    return TOKEN_PREFIX + hmac.new(key, plain.encode(), hashlib.sha256).hexdigest()


def remember(plain: str) -> None:
    """Add a value to what `redact` removes (values shorter than 4 characters would redact
    ordinary text and are too short to be worth hiding there)."""
    if len(plain) >= 4:
        with _revealed_lock:
            _revealed.add(plain)


def redact(text: str) -> str:
    """`text` with every sensitive value revealed in this process replaced by the mask."""
    with _revealed_lock:
        known = sorted(_revealed, key=len, reverse=True)
    for plain in known:
        if plain in text:
            text = text.replace(plain, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A log handler's filter: every revealed value masked in every record, and the AWS
    libraries' records (which hold request and response bodies) dropped while a value is
    being read (`unlogged`), before it is known and could be masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_quiet, "on", False) and record.name.startswith(("botocore", "urllib3")):
            return False
        text = record.getMessage()
        masked = redact(text)
        if masked != text:
            record.msg, record.args = masked, None
        return True


@contextmanager
def unlogged() -> Iterator[None]:
    """While inside, this thread's AWS library log records are dropped (see RedactingFilter)."""
    _quiet.on = True
    try:
        yield
    finally:
        _quiet.on = False


def find_refs(value: Any) -> list[SecretRef]:
    """Every SecretRef inside `value` (nested dicts and lists)."""
    if isinstance(value, SecretRef):
        return [value]
    if isinstance(value, dict):
        return [r for v in value.values() for r in find_refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in find_refs(v)]
    return []


def holds_sensitive(value: Any) -> bool:
    """True if `value` is, or holds, a SecretRef or SecretValue."""
    if isinstance(value, (SecretRef, SecretValue)):
        return True
    if isinstance(value, dict):
        return any(holds_sensitive(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_sensitive(v) for v in value)
    return False
