"""The bytes of a state version and of a journal record: checksummed, optionally encrypted.

A state version is one JSON document: the state (`State.to_json`), `written` (when, by whom,
by which operation) and `checksum`, the SHA-256 of the canonical JSON of everything else. A
truncated or altered document is told from a valid one before any of it is trusted.

With encryption, the state's content is replaced by `encrypted` (see `mlform.state.crypto`),
sealed with the lineage and serial as associated data; the identity fields (project,
environment, lineage, serial, written) stay readable, so history can be listed without the key.

A journal record is one line of JSON; encrypted, one line `{"e": envelope}` whose associated
data binds it to the lineage and serial of the state the journal was written on top of.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

from mlform.errors import StateError
from mlform.state.models import State

IDENTITY = ("version", "mlform_version", "lineage", "serial", "project", "environment")


class Cipher(Protocol):
    """Seals and opens bytes with a data key; see `mlform.state.crypto`."""

    def seal(self, plaintext: bytes, aad: bytes) -> dict[str, Any]: ...

    def open(self, envelope: dict[str, Any], aad: bytes) -> bytes: ...


class DamagedState(StateError):
    """A state version failed its checksum or cannot be parsed."""


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()


def _checksum(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(canonical(body)).hexdigest()


def state_aad(doc: dict[str, Any]) -> bytes:
    """What an encrypted state is bound to: an old version cannot pass for a newer serial, nor
    one stack's state for another's."""
    return canonical({k: doc.get(k) for k in ("project", "environment", "lineage", "serial")})


def journal_aad(lineage: str, serial: int) -> bytes:
    return f"mlform-journal:{lineage}:{serial}".encode()


def _record_sum(body: str) -> str:
    """A journal record's checksum: bit rot inside a line that still parses is caught (a torn
    last line, which does not parse, is a kill mid-write and is dropped)."""
    return hashlib.sha256(body.encode()).hexdigest()[:12]


class Codec:
    def __init__(self, cipher: Cipher | None = None) -> None:
        self.cipher = cipher
        self.plain_ok = False  # `state rekey` reads an unencrypted state to encrypt it

    def dump_state(self, state: State, written: dict[str, Any]) -> bytes:
        doc = state.to_json()
        doc["written"] = written
        if self.cipher is not None:
            content = {k: doc.pop(k) for k in list(doc) if k not in (*IDENTITY, "written")}
            doc["encrypted"] = self.cipher.seal(canonical(content), state_aad(doc))
        doc["checksum"] = _checksum(doc)
        return json.dumps(doc, indent=1, default=str).encode()

    def load_state(self, raw: bytes, source: str) -> tuple[State, dict[str, Any]]:
        doc = self.parse(raw, source)
        if "encrypted" in doc:
            if self.cipher is None:
                raise StateError(f"{source} is encrypted, and this environment sets no "
                                 "`state.encryption` to open it with")
            content = json.loads(self.cipher.open(doc["encrypted"], state_aad(doc)))
            doc = {**{k: v for k, v in doc.items() if k != "encrypted"}, **content}
        elif self.cipher is not None and doc.get("serial") and not self.plain_ok:
            raise StateError(f"{source} is not encrypted although `state.encryption` is set: "
                             "run `mlform state rekey` to encrypt it, or remove the setting")
        return State.from_json(doc, source), doc.get("written") or {}

    @staticmethod
    def parse(raw: bytes, source: str) -> dict[str, Any]:
        """The document, checksum verified (older states, written without one, pass)."""
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DamagedState(f"{source} is damaged: not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise DamagedState(f"{source} is damaged: not a state document")
        if "checksum" in doc and doc["checksum"] != _checksum(doc):
            raise DamagedState(f"{source} is damaged: its checksum does not match its content")
        return doc

    def dump_record(self, record: dict[str, Any], lineage: str, serial: int) -> bytes:
        body = json.dumps(record, separators=(",", ":"), default=str)
        line = (body[:-1] + f',"c":"{_record_sum(body)}"}}').encode()
        if self.cipher is not None and record.get("t") != "begin":
            line = json.dumps({"e": self.cipher.seal(line, journal_aad(lineage, serial))},
                              separators=(",", ":")).encode()
        return line

    def load_records(self, lines: list[bytes], source: str) -> list[dict[str, Any]]:
        """The journal's complete records; a torn last line (a kill mid-write) is dropped."""
        records: list[dict[str, Any]] = []
        head: dict[str, Any] = {}
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                if i == len(lines) - 1:
                    break
                raise StateError(f"{source}: journal line {i + 1} is damaged") from None
            if "e" in record and len(record) == 1:
                if self.cipher is None:
                    raise StateError(f"{source} is encrypted, and this environment sets no "
                                     "`state.encryption` to open it with")
                record = json.loads(self.cipher.open(
                    record["e"], journal_aad(head.get("lineage", ""), head.get("serial", -1))))
            if "c" in record:
                given = record.pop("c")
                if given != _record_sum(json.dumps(record, separators=(",", ":"))):
                    raise StateError(
                        f"{source}: journal line {i + 1} is damaged (its checksum does not "
                        "match); the records before it are intact. Move the journal aside to "
                        "continue from the last committed state, then run `mlform plan`: the "
                        "refresh finds what the cloud holds")
            if record.get("t") == "begin" and not head:
                head = record
            records.append(record)
        return records
