"""One crash trial: set a stack up, interrupt an mlform command at a chosen moment, finish the
job with the next command, and count what was orphaned, duplicated, lost or left unloadable.

Used by `bench/crash_campaign.py` (many seeded trials) and `tests/cli/test_crash_campaign.py`
(a few). Everything runs the real CLI in subprocesses against a running sandbox; each trial has
its own project and its own sandbox account, so trials never see each other's objects.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crash_stack import ENVIRONMENT, SECOND, Cloud, HandMade, config, duplicates

if TYPE_CHECKING:
    from mlform.state.models import State

SCENARIOS = ("apply", "destroy", "replace", "import")
SIGNALS = ("KILL", "INT", "INT2")  # SIGKILL of the process group; one Ctrl-C; two
COMMAND_TIMEOUT = 90.0
INTENT_GRACE = 0.02
_START = re.compile(r"^(\S+): (Creating|Modifying|Destroying)\.\.\.$")
_DONE = re.compile(r"^(\S+): (Creation complete|Modifications complete|Destruction complete|"
                   r"(?:create|update|delete) failed)")
_VERB = {"Creating": "create", "Modifying": "update", "Destroying": "delete",
         "Creation complete": "create", "Modifications complete": "update",
         "Destruction complete": "delete"}


@dataclass(frozen=True)
class Moment:
    """When to send the signal.

    delay: after `fraction` of the command's unkilled duration;
    line:  right after progress line number 1 + fraction * (lines - 1), then `lag` seconds;
    start: right after `address`'s first progress line ("Creating..."), then `lag` seconds;
    intent: `lag` seconds after the journal records the intent to create `address`: its create
            call is under way and its result not yet recorded (should the journal never say,
            INTENT_GRACE after its "Creating..." line, which the intent follows at once);
    none:  never (a calibration run).
    """

    kind: str
    fraction: float = 0.0
    address: str = ""
    lag: float = 0.0

    def describe(self) -> str:
        if self.kind == "delay":
            return f"at {self.fraction:.0%} of the run"
        if self.kind == "line":
            return f"{self.lag * 1000:.0f} ms after progress line at {self.fraction:.0%}"
        if self.kind == "start":
            return f"{self.lag * 1000:.0f} ms after `{self.address}` started"
        if self.kind == "intent":
            return (f"{self.lag * 1000:.0f} ms after the intent to create `{self.address}` "
                    "was journaled")
        return "not interrupted"


@dataclass(frozen=True)
class TrialSpec:
    number: int
    scenario: str
    signal: str
    moment: Moment
    # import trials: the interrupted command is `apply` (import: entries) or `import ADDR ID`
    via: str = "apply"
    second_int_after: float = 0.0  # INT2: seconds between the two Ctrl-Cs

    @property
    def key(self) -> str:
        return f"{self.scenario}/{self.via}" if self.scenario == "import" else self.scenario

    def describe(self) -> str:
        what = f"{self.scenario}" + (" via `mlform import`" if self.via == "import" else "")
        sig = {"KILL": "SIGKILL", "INT": "SIGINT once",
               "INT2": f"SIGINT twice ({self.second_int_after * 1000:.0f} ms apart)"}[self.signal]
        return f"#{self.number} {what}, {sig} {self.moment.describe()}"


@dataclass(frozen=True)
class Calibration:
    """The interrupted command's unkilled duration and how many progress lines it prints."""

    duration: float
    lines: int


@dataclass
class Killed:
    """What the interrupted command did."""

    landed: bool = False  # the process was still running when the signal was sent
    mid_change: bool = False  # ... after its first change started and before it finished
    in_flight: list[str] = field(default_factory=list)  # started, not finished, at the signal
    code: int | None = None
    duration: float = 0.0
    lines: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclass
class TrialResult:
    spec: TrialSpec
    killed: Killed = field(default_factory=Killed)
    pending_left: list[str] = field(default_factory=list)  # creates the kill left unsettled
    # Objects the interruption left made but not recorded: what the next command must adopt.
    unrecorded: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unloadable: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # import trials: hand-made objects
    left_after_destroy: list[str] = field(default_factory=list)
    finishing: list[str] = field(default_factory=list)  # finishing commands that failed
    bad_exit: list[str] = field(default_factory=list)  # the interrupted command misbehaved

    @property
    def problems(self) -> list[str]:
        return [*self.orphans, *self.duplicates, *self.unloadable, *self.lost,
                *self.left_after_destroy, *self.finishing, *self.bad_exit]


@dataclass(frozen=True)
class Context:
    sandbox_url: str
    work: Path
    run_id: str  # keeps names unique when the sandbox is shared


def _env() -> dict[str, str]:
    # Unbuffered, so progress lines reach us as they are printed, not when the pipe fills.
    return {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}


def mlform(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`mlform ARGS` in `cwd`; one that runs for more than COMMAND_TIMEOUT seconds (a delete
    waiting on something that still depends on it) is stopped and reported as failed."""
    cmd = [sys.executable, "-m", "mlform", *args]
    try:
        return subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(
            cmd, -1, _text(exc.stdout), f"{_text(exc.stderr)}\n(still running after "
            f"{COMMAND_TIMEOUT:.0f}s: stopped)")


def _text(output: str | bytes | None) -> str:
    return output.decode() if isinstance(output, bytes) else output or ""


class _Output:
    """Lines of a child's stream as they come, for a waiter to watch."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, proc: subprocess.Popen[str], predicate: object) -> None:
        """Until `predicate(lines)` holds or the process has ended."""
        with self.cond:
            while not predicate(self.lines) and proc.poll() is None:  # type: ignore[operator]
                self.cond.wait(0.05)


def progress(lines: list[str]) -> tuple[int, list[str], bool]:
    """(progress lines, what was started and not finished, whether the run said it ended)."""
    count, open_ = 0, []
    for line in lines:
        if m := _START.match(line):
            count += 1
            open_.append(f"{_VERB[m.group(2)]} {m.group(1)}")
        elif m := _DONE.match(line):
            count += 1
            verb = _VERB.get(m.group(2), m.group(2).split()[0])
            if f"{verb} {m.group(1)}" in open_:
                open_.remove(f"{verb} {m.group(1)}")
    ended = any(line.startswith(("Apply complete!", "Destroy complete!")) for line in lines)
    return count, open_, ended


def run_interrupted(cwd: Path, args: list[str], spec: TrialSpec,
                    calibration: Calibration | None) -> Killed:
    """Run `mlform ARGS` in `cwd` and interrupt it as `spec` says."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "mlform", *args], cwd=cwd, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group, to kill whole
    out, err = _Output(proc.stdout), _Output(proc.stderr)
    killed = Killed()
    moment = spec.moment
    try:
        if moment.kind != "none":
            _wait_for_moment(proc, out, moment, calibration,
                             cwd / ".mlform" / "state" / ENVIRONMENT / "journal.jsonl")
            with out.cond:
                seen = list(out.lines)
            if proc.poll() is None:
                killed.landed = True
                count, killed.in_flight, ended = progress(seen)
                killed.mid_change = count > 0 and not ended
                _send(proc, spec)
        killed.code = proc.wait(COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        killed.code = proc.wait()
        killed.stderr = f"(hung: killed after {COMMAND_TIMEOUT:.0f}s)\n"
    killed.duration = time.monotonic() - started
    for reader, stream in ((out, proc.stdout), (err, proc.stderr)):
        reader.thread.join(10)
        if stream is not None:
            stream.close()
    killed.stdout = "\n".join(out.lines)
    killed.stderr += "\n".join(err.lines)
    killed.lines = progress(out.lines)[0]
    return killed


def _wait_for_moment(proc: subprocess.Popen[str], out: _Output, moment: Moment,
                     calibration: Calibration | None, journal: Path) -> None:
    if moment.kind == "delay":
        duration = calibration.duration if calibration else 1.0
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(moment.fraction * duration)
        return
    if moment.kind == "line":
        total = calibration.lines if calibration else 1
        nth = 1 + round(moment.fraction * max(0, total - 1))
        out.wait_for(proc, lambda lines: progress(lines)[0] >= nth)
    elif moment.kind == "start":
        out.wait_for(proc, lambda lines: _started(lines, moment.address))
    elif moment.kind == "intent":
        wanted = f'{{"t":"intent","a":"{moment.address}","op":"create"'
        line_seen: float | None = None
        while proc.poll() is None:
            try:
                if wanted in journal.read_text():
                    break
            except FileNotFoundError:
                pass
            if line_seen is None:
                with out.cond:
                    if _started(out.lines, moment.address):
                        line_seen = time.monotonic()
            elif time.monotonic() - line_seen > INTENT_GRACE:
                break  # the journal does not say: the create is under way by now anyway
            time.sleep(0.001)
    if moment.lag:
        time.sleep(moment.lag)


def _started(lines: list[str], address: str) -> bool:
    return any((m := _START.match(line)) and m.group(1) == address for line in lines)


def _send(proc: subprocess.Popen[str], spec: TrialSpec) -> None:
    if spec.signal == "KILL":
        os.killpg(proc.pid, signal.SIGKILL)
        return
    # Ctrl-C as a terminal sends it; the second one, if any, a moment later.
    proc.send_signal(signal.SIGINT)
    if spec.signal == "INT2":
        try:
            proc.wait(spec.second_int_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)


def run_trial(ctx: Context, spec: TrialSpec, account: str,
              calibration: Calibration | None = None) -> TrialResult:
    """Set up, interrupt, finish, check, destroy, check again (see the module docstring)."""
    return _Trial(ctx, spec, account).run(calibration)


class _Trial:
    def __init__(self, ctx: Context, spec: TrialSpec, account: str) -> None:
        from mlform.state.local import LocalBackend

        self.spec = spec
        self.result = TrialResult(spec)
        self.project = f"cc{ctx.run_id}-{spec.number}"
        self.account = account
        self.stack, self.prefix = f"{self.project}/{ENVIRONMENT}", f"{self.project}-{ENVIRONMENT}-"
        self.cwd = ctx.work / f"t{spec.number:03d}-{spec.scenario}"
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.cloud = Cloud(ctx.sandbox_url, account)
        self.hand_made: HandMade | None = None
        self.backend = LocalBackend(self.cwd / ".mlform" / "state" / ENVIRONMENT, self.project,
                                    ENVIRONMENT)

    def run(self, calibration: Calibration | None) -> TrialResult:
        if not self._set_up():
            return self.result
        killed = run_interrupted(self.cwd, self._interrupted_command(), self.spec, calibration)
        self.result.killed = killed
        _check_exit(self.result, self.spec, killed)
        self._load_after_interruption()
        finish = "destroy" if self.spec.scenario == "destroy" else "apply"
        self._finish(finish)
        if finish == "apply":
            plan = mlform(self.cwd, "plan", "--detailed-exitcode", "--no-color")
            if plan.returncode != 0:
                self.result.finishing.append(
                    f"`plan --detailed-exitcode` after the finishing apply exited "
                    f"{plan.returncode}: {_plan_summary(plan)}")
        self._count(finish)
        if finish == "apply":
            self._finish("destroy")
        self._left_after_destroy()
        return self.result

    def _set_up(self) -> bool:
        config_file = self.cwd / "mlform.yaml"
        if self.spec.scenario == "import":
            self.hand_made = self.cloud.make_by_hand(self.project)
        config_file.write_text(config(self.project, self.account, imported=self.hand_made))
        if self.spec.scenario in ("destroy", "replace"):
            setup = mlform(self.cwd, "apply", "--auto-approve")
            if setup.returncode != 0:
                self.result.finishing.append(f"set-up apply failed: {_tail(setup.stderr)}")
                return False
        if self.spec.scenario == "replace":
            config_file.write_text(config(self.project, self.account, SECOND))
        return True

    def _interrupted_command(self) -> list[str]:
        if self.spec.scenario == "destroy":
            return ["destroy", "--auto-approve"]
        if self.spec.via == "import":
            assert self.hand_made is not None
            return ["import", "aws_vpc.main", self.hand_made.vpc]
        return ["apply", "--auto-approve"]

    def _load_after_interruption(self) -> None:
        """The state as the interrupted command left it, then as the next command loads it."""
        try:
            state = self.backend.snapshot()
        except Exception as exc:
            self.result.unloadable.append(f"state files after the interruption: {exc}")
        else:
            self.result.pending_left = sorted(state.pending)
            known = _recorded(state) | set(self.hand_made.by_address().values()
                                           if self.hand_made else ())
            self.result.unrecorded = [f"{o.type} {o.id}" for o in
                                      self.cloud.inventory(self.stack, self.prefix)
                                      if o.id not in known]
        listed = mlform(self.cwd, "state", "list")
        if listed.returncode != 0:
            self.result.unloadable.append(f"`mlform state list` exited {listed.returncode}: "
                                          f"{_tail(listed.stderr)}")

    def _finish(self, command: str) -> None:
        done = mlform(self.cwd, command, "--auto-approve", "--no-color")
        if done.returncode != 0:
            self.result.finishing.append(f"finishing `{command}` exited {done.returncode}: "
                                         f"{_tail(done.stderr)}")

    def _count(self, finish: str) -> None:
        """Orphans, duplicates and lost hand-made objects once the finishing command ran."""
        try:
            state = self.backend.snapshot()
        except Exception as exc:
            self.result.unloadable.append(f"state files after the finishing {finish}: {exc}")
            return
        recorded = _recorded(state)
        live = self.cloud.inventory(self.stack, self.prefix)
        self.result.orphans = [f"{o.type} {o.id} (tagged {o.address or 'nothing'})"
                               for o in live if o.id not in recorded]
        self.result.duplicates = [f"{address}: {', '.join(sorted(ids))}"
                                  for address, ids in duplicates(live).items()]
        for address, id in (self.hand_made.by_address() if self.hand_made else {}).items():
            res = state.resources.get(address)
            if res is None or res.id != id:
                where = ("still exists" if self.cloud.exists(address.split(".")[0], id)
                         else "is gone")
                self.result.lost.append(f"hand-made {address} {id} is not recorded and {where}")

    def _left_after_destroy(self) -> None:
        left = [f"{o.type} {o.id}" for o in self.cloud.inventory(self.stack, self.prefix)]
        for address, id in (self.hand_made.by_address() if self.hand_made else {}).items():
            type_name = address.split(".")[0]
            if f"{type_name} {id}" not in left and self.cloud.exists(type_name, id):
                left.append(f"hand-made {type_name} {id}")
        self.result.left_after_destroy = left


def _recorded(state: State) -> set[str]:
    """The ids of every object `state` records, set-aside ones included."""
    return {r.id for r in state.resources.values()} | {
        r.id for objects in state.deposed.values() for r in objects}


def _check_exit(result: TrialResult, spec: TrialSpec, killed: Killed) -> None:
    """An interrupted command exits 130 (or 0 if it finished first), without a traceback."""
    # (A Ctrl-C in Python's own start-up, before mlform's code runs, is Python's to report.)
    if "Traceback" in killed.stderr and "init_import_site" not in killed.stderr:
        result.bad_exit.append(f"traceback: {_tail(killed.stderr)}")
    if spec.signal == "KILL" or not killed.landed:
        if not killed.landed and killed.code != 0:
            result.bad_exit.append(f"exited {killed.code} before the signal: "
                                   f"{_tail(killed.stderr)}")
        return
    # Death by SIGINT itself (a second Ctrl-C at the very end) is what a shell shows as 130.
    if killed.code not in (0, 130, -signal.SIGINT):
        result.bad_exit.append(f"exited {killed.code} after Ctrl-C: {_tail(killed.stderr)}")


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-lines:]) or "(no output)"


def _plan_summary(plan: subprocess.CompletedProcess[str]) -> str:
    wanted = [line.strip() for line in plan.stdout.splitlines()
              if line.lstrip().startswith(("#", "Plan:"))]
    return " | ".join(wanted[:8]) or _tail(plan.stderr)
