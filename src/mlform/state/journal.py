"""The append-only journal an apply writes before and after every mutating cloud call.

One JSON object per line. Record kinds (`t`):
  begin        first line: the lineage and serial of the state this journal applies on top of
  intent       about to call create/update/delete for address `a` (create carries its args)
  put          the result: the resource's new recorded state `r`
  del          the object at `a` is gone
  depose       create-before-destroy: the current object at `a` is set aside for deletion
  undepose     (older journals) the set-aside object `id` is current again
  del_deposed  a set-aside object (by `id`) is gone
  abandon      a pending create turned out to have made nothing (if it was a create-before-
               destroy replacement, the object set aside for it is current again)
  move         a `moved:` entry: what is recorded at `a` is now at `to` (ids unchanged)
  outputs      new output values

Each line is written with a single write() and flushed, so a killed process leaves at worst a
partial last line, which the reader ignores. The state file is rewritten only when the journal is
compacted (end of apply, or the next command after a crash): never once per resource.

Durability (`MLFORM_DURABILITY`):
  power    (default) an intent is fsynced before its cloud call is made (for types with a
           cloud object), and the journal's directory entry when the file is created. A power
           cut or kernel crash can lose only results, never the knowledge that a call was
           started: a lost create result leaves a pending create that the next refresh settles
           by `find`, and a lost update or delete result is read back by the refresh. Costs one
           fsync per mutating cloud call.
  process  every record is flushed to the operating system, nothing is fsynced until the end
           of the run. Survives the process being killed (SIGKILL, OOM, Ctrl-C twice) but not a
           power cut or kernel crash in the middle of an apply.
`bench/journal_durability.py` measures the difference.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from mlform.errors import StateError
from mlform.state.codec import Codec
from mlform.state.models import State, apply_record, now_iso
from mlform.state.store import Store

DURABILITY_MODES = ("power", "process")


def durability() -> str:
    """The journal's durability mode, from `MLFORM_DURABILITY` (see the module docstring)."""
    mode = os.environ.get("MLFORM_DURABILITY", "").strip().lower() or "power"
    if mode not in DURABILITY_MODES:
        raise StateError(f"MLFORM_DURABILITY={mode!r}: expected one of "
                         f"{', '.join(DURABILITY_MODES)}")
    return mode


class Journal:
    """Writes records to the store's journal and applies them to the in-memory state,
    atomically with respect to other threads."""

    def __init__(self, store: Store, codec: Codec, state: State, operation: str,
                 mode: str | None = None) -> None:
        self.store = store
        self.codec = codec
        self.state = state
        self.operation = operation
        self.mode = mode or durability()
        self._lineage, self._serial = state.lineage, state.serial
        self._lock = threading.Lock()
        self._open = True
        self._write({"t": "begin", "lineage": state.lineage, "serial": state.serial,
                     "op": operation, "at": now_iso()}, durable=True)

    def _write(self, record: dict[str, Any], durable: bool = False) -> None:
        if not self._open:
            raise StateError("the journal is closed")
        self.store.journal_append(self.codec.dump_record(record, self._lineage, self._serial),
                                  durable=durable and self.mode == "power")

    def record(self, record: dict[str, Any], *, durable: bool = False) -> None:
        """Persist `record`, then apply it to the in-memory state. `durable`: the record must
        survive a power cut before the caller goes on (an intent, before its cloud call)."""
        with self._lock:
            self._write(record, durable)
            apply_record(self.state, record)

    def close(self) -> None:
        with self._lock:
            if self._open:
                self._open = False
                self.store.journal_close()



def read_journal(path: Path) -> list[dict[str, Any]]:
    """The complete records of an unencrypted journal file; a torn last line is dropped."""
    return Codec().load_records(path.read_bytes().split(b"\n"), str(path))


def replay(state: State, records: list[dict[str, Any]]) -> bool:
    """Apply a journal's records to `state` if the journal was written on top of it.

    Returns False (and changes nothing) for a journal that belongs to another lineage or an
    older serial: it was already compacted before the process died.
    """
    if not records or records[0].get("t") != "begin":
        return False
    head = records[0]
    if head.get("lineage") != state.lineage or head.get("serial") != state.serial:
        return False
    for record in records[1:]:
        apply_record(state, record)
    return True
