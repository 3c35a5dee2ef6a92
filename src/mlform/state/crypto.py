"""Encryption of state at rest: a data key per stack, wrapped by the key the config names.

Every version, history entry and journal record of a stack is sealed with AES-256-GCM under one
256-bit *data key* (a fresh 96-bit nonce per seal). The data key is made on the stack's first
write and kept, *wrapped*, in every envelope; it is never stored in the clear. What wraps it is
the environment's `state.encryption`:

- `key: env:NAME`: a 256-bit key (base64 or hex) in that variable wraps it with AES-GCM;
- `passphrase: env:NAME`: the wrapping key is derived with scrypt and a random per-stack salt,
  which the envelope carries;
- `kms_key_id`: KMS wraps it (GenerateDataKey, then Decrypt), with an encryption context naming
  the stack, so a wrapped key cannot be moved to another stack's state.

Why a data key rather than sealing with the wrapping key itself: changing the wrapping key
(`mlform state rekey`, after a rotation or a move to KMS) rewraps 32 bytes and writes one
version instead of re-encrypting every version, and KMS is called once per command, not once
per journal record.

An envelope names its wrapping key by `key_id`, an identity the user cannot rename: the key ARN
KMS returns (never the alias the config may use), or a fingerprint of a raw or derived key (an
HMAC of a constant under the key: it tells keys apart and reveals nothing of them). A key that
cannot open a state is then named in the error, along with the one that would
(opentofu/opentofu#1605). No key material or passphrase ever reaches a message or a file.

The associated data of each seal (see `mlform.state.codec`) binds a version to its project,
environment, lineage and serial; `StateBackend.read` also refuses a current state older than a
version in the history, so an old version copied over the current one is not taken for it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mlform.errors import StateError
from mlform.state.keywrap import (
    CannotOpen,
    KmsWrapper,
    Wrapped,
    Wrapper,
    b64,
    unb64,
    wrapper_for,
)

if TYPE_CHECKING:
    from mlform.state.backend import StateBackend

ALG = "AES-256-GCM"

class StateCipher:
    """The `Cipher` of one stack (see `mlform.state.codec`): seals with the stack's data key,
    remembered from the first envelope it opens, or made on its first seal."""

    def __init__(self, wrapper: Wrapper, stack: str, session: Any = None) -> None:
        self.wrapper = wrapper
        self.stack = stack
        self._session = session
        self._keys: dict[str, bytes] = {}  # wrapped form -> data key, for every one opened
        self._current: Wrapped | None = None  # what the next seal uses
        self._lock = threading.Lock()  # journal records are sealed from apply's threads
        self._rekey: Wrapper | None = None
        self._rekeying = False

    @property
    def key_id(self) -> str | None:
        """The wrapping key of what this cipher seals, once known."""
        return self._current.fields["key_id"] if self._current else None

    def seal(self, plaintext: bytes, aad: bytes) -> dict[str, Any]:
        with self._lock:
            if self._current is None:
                self._current = self.wrapper.wrap(None)
                self._keys[self._current.fields["wrapped_key"]] = self._current.data_key
            current = self._current
        nonce = os.urandom(12)
        sealed = AESGCM(current.data_key).encrypt(nonce, plaintext, aad)
        return {"alg": ALG, **current.fields, "nonce": b64(nonce), "ciphertext": b64(sealed)}

    def open(self, envelope: dict[str, Any], aad: bytes) -> bytes:
        if not isinstance(envelope, dict) or envelope.get("alg") != ALG:
            raise StateError(f"the state of {self.stack} is encrypted in a way this mlform "
                             "does not know")
        with self._lock:
            data_key = self._data_key(envelope)
        try:
            return AESGCM(data_key).decrypt(unb64(envelope.get("nonce")),
                                            unb64(envelope.get("ciphertext")), aad)
        except (InvalidTag, ValueError):
            raise StateError(
                f"the state of {self.stack} was altered: its encrypted content does not match "
                "its header (project, environment, lineage, serial) or was changed") from None

    def _data_key(self, envelope: dict[str, Any]) -> bytes:
        wrapped = str(envelope.get("wrapped_key"))
        if wrapped in self._keys:
            return self._keys[wrapped]
        try:
            data_key = self.wrapper.unwrap(envelope)
        except CannotOpen as exc:
            if not self._rekeying:
                raise self._refusal(envelope, exc) from None
            data_key = self._unwrap_old(envelope, exc)
        self._keys[wrapped] = data_key
        if self._rekeying and self._current is None:
            # The first envelope a rekey opens is the current state: its data key is kept,
            # wrapped afresh by the configured key.
            self._current = self.wrapper.wrap(data_key)
            self._keys[self._current.fields["wrapped_key"]] = data_key
        elif self._current is None:
            kept = ("wrap", "key_id", "wrapped_key", "salt")
            fields: dict[str, str] = {k: str(envelope[k]) for k in kept if k in envelope}
            self._current = Wrapped(data_key, fields)
        return data_key

    def _unwrap_old(self, envelope: dict[str, Any], first: CannotOpen) -> bytes:
        opener = self._rekey
        if opener is None and envelope.get("wrap") == "kms":
            opener = KmsWrapper(self._session, str(envelope.get("key_id")), self.stack,
                                any_key=True)
        if opener is None:
            raise StateError(
                f"the state of {self.stack} is encrypted with key {envelope.get('key_id')}, "
                f"which the configured key ({first.configured}) cannot open: give the old key "
                "with --from-key, --from-passphrase or --from-kms-key") from None
        try:
            return opener.unwrap(envelope)
        except CannotOpen as exc:
            raise self._refusal(envelope, exc, "the key given to rekey from") from None

    def _refusal(self, envelope: dict[str, Any], exc: CannotOpen,
                 what: str = "the configured key") -> StateError:
        why = f" ({exc.why})" if exc.why else ""
        return StateError(f"the state of {self.stack} is encrypted with key "
                          f"{envelope.get('key_id')}, and {what} ({exc.configured}) cannot "
                          f"open it{why}")

    def begin_rekey(self, old: dict[str, Any] | None) -> None:
        """Until `end_rekey`: the next state opened keeps its data key, rewrapped by the
        configured key; what the configured key cannot open is opened by `old` (a
        `state.encryption`-like dict), or for KMS by the key that wrapped it."""
        self._rekey = wrapper_for(old, self._session, self.stack) if old else None
        self._current = None
        self._keys.clear()
        self._rekeying = True

    def end_rekey(self) -> None:
        self._rekey = None
        self._rekeying = False


def cipher_for(config: dict[str, Any], session: Any, stack_id: str) -> StateCipher:
    """The cipher of one stack, from its environment's `state.encryption`. `session`: a
    zero-argument callable returning the environment's AwsSession (called only for KMS)."""
    return StateCipher(wrapper_for(config, session, stack_id), stack_id, session)


@dataclass(frozen=True)
class Rekeyed:
    serial: int  # the version written
    before: str  # the key id the state was encrypted with, or "not encrypted"
    after: str


def rekey(backend: StateBackend, old: dict[str, Any] | None = None) -> Rekeyed:
    """Write the current state again as a new version, its data key wrapped by the configured
    key (`mlform state rekey`): after a key rotation, a move from a passphrase to KMS, or to
    encrypt a state written before `state.encryption` was set (opentofu/opentofu#3450).

    `old` (`{"key"|"passphrase"|"kms_key_id": ...}`) opens a state the configured key cannot;
    KMS opens what any key of the account wrapped without it. History keeps its versions as
    they were: reading them still needs the key they were written with."""
    from mlform.state.codec import Codec

    cipher = backend.codec.cipher
    if not isinstance(cipher, StateCipher):
        raise StateError(f"{backend.where} sets no `state.encryption`: `mlform state rekey` "
                         "encrypts the state with the key it names")
    with backend.lock("rekey"):
        stored = backend.store.read()
        if stored is None:
            raise StateError(f"the state of {backend.where} is empty: there is nothing to "
                             "rekey (its first version is encrypted when it is written)")
        envelope = Codec.parse(stored.data, backend.store.location).get("encrypted")
        before = str(envelope.get("key_id")) if isinstance(envelope, dict) else \
            "not encrypted"
        cipher.begin_rekey(old)
        backend.codec.plain_ok = True
        try:
            state = backend.load()
            backend.commit(state, operation="rekey")
        finally:
            cipher.end_rekey()
            backend.codec.plain_ok = False
    return Rekeyed(state.serial, before, cipher.key_id or "")
