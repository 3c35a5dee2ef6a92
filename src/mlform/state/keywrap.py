"""What wraps a stack's data key: a raw key, a passphrase (scrypt) or KMS; see
`mlform.state.crypto` for why state has data keys at all.

Each wrapper names its key by an id the user cannot rename: the ARN KMS returns (never the
alias a config may use), or a fingerprint of a raw or derived key (an HMAC of a constant under
the key, which tells keys apart and reveals nothing of them). `unwrap` raises `CannotOpen`,
naming the wrapper's own key id, when its key is not the one that wrapped an envelope.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from mlform.errors import StateError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # ~32 MiB and ~0.1 s per derivation


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def unb64(text: Any) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise StateError("an encrypted state envelope is damaged: a field is not base64") \
            from None


def fingerprint(key: bytes) -> str:
    """An id for a key that reveals nothing of it."""
    return hmac.new(key, b"mlform-key-id", hashlib.sha256).hexdigest()[:16]


class CannotOpen(Exception):
    """This wrapper cannot unwrap that data key; `configured` names the wrapper's key."""

    def __init__(self, configured: str, why: str = "") -> None:
        super().__init__(configured)
        self.configured = configured
        self.why = why


@dataclass
class Wrapped:
    """A data key and its wrapped form, as envelopes carry it."""

    data_key: bytes
    fields: dict[str, str] = field(default_factory=dict)  # wrap, key_id, wrapped_key, salt


class Wrapper(Protocol):
    def wrap(self, data_key: bytes | None) -> Wrapped:
        """Wrap `data_key` (None: make a new one)."""

    def unwrap(self, envelope: dict[str, Any]) -> bytes:
        """The data key of `envelope`; CannotOpen if this wrapper's key is not the one."""


class KeyWrapper:
    """A 256-bit key wraps the data key with AES-GCM, bound to the stack."""

    kind = "key"

    def __init__(self, key: bytes, stack: str, salt: bytes | None = None) -> None:
        self._aead = AESGCM(key)
        self._aad = f"mlform-data-key:{stack}".encode()
        self.salt = salt
        self.key_id = f"{self.kind}:{fingerprint(key)}"

    def wrap(self, data_key: bytes | None) -> Wrapped:
        data_key = data_key or AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        fields = {"wrap": self.kind, "key_id": self.key_id,
                  "wrapped_key": b64(nonce + self._aead.encrypt(nonce, data_key, self._aad))}
        if self.salt is not None:
            fields["salt"] = b64(self.salt)
        return Wrapped(data_key, fields)

    def unwrap(self, envelope: dict[str, Any]) -> bytes:
        if envelope.get("key_id") != self.key_id:
            raise CannotOpen(self.key_id)
        blob = unb64(envelope.get("wrapped_key"))
        try:
            return self._aead.decrypt(blob[:12], blob[12:], self._aad)
        except InvalidTag:
            raise CannotOpen(self.key_id, "its wrapped data key fails authentication") \
                from None


class PassphraseWrapper:
    """A passphrase, stretched by scrypt with the stack's salt into a `KeyWrapper`'s key."""

    def __init__(self, passphrase: str, stack: str) -> None:
        self._passphrase = passphrase.encode()
        self._stack = stack
        self._derived: dict[bytes, KeyWrapper] = {}
        self._salt: bytes | None = None  # the stack's, once an envelope has shown it

    def _at(self, salt: bytes) -> KeyWrapper:
        if salt not in self._derived:
            key = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(
                self._passphrase)
            wrapper = KeyWrapper(key, self._stack, salt)
            wrapper.kind = "passphrase"
            wrapper.key_id = f"passphrase:{fingerprint(key)}"
            self._derived[salt] = wrapper
        return self._derived[salt]

    def wrap(self, data_key: bytes | None) -> Wrapped:
        if self._salt is None:
            self._salt = os.urandom(16)
        return self._at(self._salt).wrap(data_key)

    def unwrap(self, envelope: dict[str, Any]) -> bytes:
        if "salt" not in envelope:  # wrapped by a key or KMS: name what we would have used
            raise CannotOpen("a passphrase")
        salt = unb64(envelope["salt"])
        data_key = self._at(salt).unwrap(envelope)
        self._salt = salt
        return data_key


class KmsWrapper:
    """KMS wraps the data key; the encryption context names the stack."""

    def __init__(self, session: Any, key: str, stack: str, *, any_key: bool = False) -> None:
        self._session = session
        self._key = key
        self._context = {"mlform:stack": stack}
        self._any_key = any_key  # rekey: open what any key of the account wrapped
        self._arn: str | None = None
        self._client: Any = None

    def _kms(self) -> Any:
        if self._client is None:
            if self._session is None:
                raise StateError("state encrypted with KMS needs an AWS session")
            self._client = self._session().client("kms")
        return self._client

    def _call(self, what: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._kms(), what)(**kwargs)  # type: ignore[no-any-return]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise StateError(f"KMS refused {what} with key {self._key}: "
                             f"{error.get('Code')}: {error.get('Message')}") from None
        except BotoCoreError as exc:
            raise StateError(f"KMS could not be reached ({what}): {exc}") from None

    @property
    def arn(self) -> str:
        """The configured key's ARN, whatever name (alias, id) the config gives it."""
        if self._arn is None:
            self._arn = str(self._call("describe_key", KeyId=self._key)["KeyMetadata"]["Arn"])
        return self._arn

    def wrap(self, data_key: bytes | None) -> Wrapped:
        if data_key is None:
            got = self._call("generate_data_key", KeyId=self._key, KeySpec="AES_256",
                             EncryptionContext=self._context)
            data_key = got["Plaintext"]
        else:
            got = self._call("encrypt", KeyId=self._key, Plaintext=data_key,
                             EncryptionContext=self._context)
        self._arn = got["KeyId"]
        return Wrapped(bytes(data_key), {"wrap": "kms", "key_id": got["KeyId"],
                                         "wrapped_key": b64(got["CiphertextBlob"])})

    def unwrap(self, envelope: dict[str, Any]) -> bytes:
        from botocore.exceptions import ClientError

        wrapped_by = str(envelope.get("key_id"))
        if envelope.get("wrap") != "kms" or (not self._any_key and wrapped_by != self.arn):
            raise CannotOpen(self._key if self._any_key else self.arn)
        try:
            got = self._kms().decrypt(CiphertextBlob=unb64(envelope.get("wrapped_key")),
                                      EncryptionContext=self._context, KeyId=wrapped_by)
        except ClientError as exc:
            raise CannotOpen(wrapped_by, str(exc.response.get("Error", {}).get("Code"))) \
                from None
        return bytes(got["Plaintext"])


def wrapper_for(config: dict[str, Any], session: Any, stack: str) -> Wrapper:
    """The wrapper `state.encryption` (or a rekey's `--from-*`) names."""
    from mlform.state.backends import resolve_env

    if config.get("kms_key_id"):
        return KmsWrapper(session, str(config["kms_key_id"]), stack)
    if config.get("passphrase"):
        return PassphraseWrapper(resolve_env(config["passphrase"], "the state passphrase"),
                                 stack)
    if config.get("key"):
        return KeyWrapper(parse_key(resolve_env(config["key"], "the state encryption key"),
                                    config["key"]), stack)
    raise StateError("`state.encryption` needs one of `key`, `passphrase` or `kms_key_id`")


def parse_key(text: str, source: str) -> bytes:
    """32 bytes from 64 hex digits or base64; the error names the source, never the value."""
    text = text.strip()
    raw: bytes | None = None
    if len(text) == 64:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = None
    if raw is None:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            try:
                raw = base64.urlsafe_b64decode(text)
            except (binascii.Error, ValueError):
                raw = b""
    if len(raw) != 32:
        raise StateError(f"the state encryption key in {source} is not a 256-bit key: give "
                         "32 random bytes as base64 or 64 hex digits (`openssl rand -base64 "
                         "32`)")
    return raw
