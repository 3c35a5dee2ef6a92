"""Local state backend: JSON files in the config's `.mlform/state/<environment>/` folder.

    state.json             the current state (lineage, serial, resources, outputs)
    journal.jsonl          changes of the apply in progress, or of one that was interrupted
    history/<serial>.json  every previous version of state.json, never deleted by mlform
    lock                   flock'd while a command reads or changes the state; says who holds it

state.json is only ever replaced atomically (write a temporary file, fsync, rename), so a reader
sees the old or the new version, never a truncated one.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlform.errors import StateError
from mlform.state.journal import Journal, fsync_dir, read_journal, replay
from mlform.state.lock import state_lock
from mlform.state.models import State


class LocalBackend:
    """State files for one environment under `directory`."""

    def __init__(self, directory: Path, project: str, environment: str,
                 region: str | None = None) -> None:
        self.dir = directory
        self.project = project
        self.environment = environment
        self.region = region  # one region of an environment of several
        self.state_file = directory / "state.json"
        self.journal_file = directory / "journal.jsonl"
        self.history_dir = directory / "history"

    @contextmanager
    def lock(self, operation: str) -> Iterator[None]:
        where = f"environment '{self.environment}'" + (f" in {self.region}" if self.region
                                                       else "")
        with state_lock(self.dir / "lock", operation, where):
            yield

    def read(self) -> State:
        """The last committed state (no journal), or a new empty one."""
        try:
            raw = self.state_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return State(project=self.project, environment=self.environment)
        except OSError as exc:
            raise StateError(f"cannot read {self.state_file}: {exc}") from None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise StateError(f"{self.state_file} is not valid JSON ({exc}); previous versions "
                             f"are in {self.history_dir}") from None
        state = State.from_json(data, str(self.state_file))
        if (state.project, state.environment) != (self.project, self.environment):
            raise StateError(
                f"{self.state_file} belongs to project '{state.project}', environment "
                f"'{state.environment}', not '{self.project}', '{self.environment}'"
            )
        return state

    def snapshot(self) -> State:
        """The state as `load` would give it, without the lock and without writing anything."""
        state = self.read()
        if self.journal_file.exists():
            try:
                replay(state, read_journal(self.journal_file))
            except FileNotFoundError:  # compacted between the check and the read
                return self.read()
        return state

    def load(self) -> State:
        """The current state, including changes in a journal left by an interrupted apply.

        Call with the lock held. If a journal is found it is compacted into state.json.
        """
        state = self.read()
        if self.journal_file.exists():
            if replay(state, read_journal(self.journal_file)):
                self.commit(state)
            else:  # already compacted before the process died
                self.journal_file.unlink()
        return state

    def begin(self, state: State, operation: str) -> Journal:
        """Start the journal for a change to `state` (which must be what `load` returned)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.state_file.exists():  # a journal must always have a state to replay onto
            self._write(state)
        return Journal(self.journal_file, state, operation)

    def commit(self, state: State, journal: Journal | None = None) -> None:
        """Write `state` as the next serial, keep the previous version, drop the journal."""
        if journal is not None:
            journal.close()
        state.serial += 1
        self._write(state)
        if self.journal_file.exists():
            self.journal_file.unlink()

    def history(self) -> list[Path]:
        """Previous state versions, oldest first."""
        if not self.history_dir.exists():
            return []
        return sorted(self.history_dir.glob("*.json"))

    def _write(self, state: State) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.state_file.exists():
            self.history_dir.mkdir(exist_ok=True)
            kept = self.history_dir / f"{state.serial - 1:08d}.json"
            if not kept.exists():
                try:
                    os.link(self.state_file, kept)  # O(1): the old inode stays as history
                except OSError:
                    shutil.copy2(self.state_file, kept)
        tmp = self.dir / f".state.json.{os.getpid()}.tmp"
        data = json.dumps(state.to_json(), indent=1, sort_keys=False, default=str)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.state_file)
        fsync_dir(self.dir)
