"""What fsyncing journal intents costs: MLFORM_DURABILITY=power (the default) vs process.

    python bench/journal_durability.py              # 300 mlform_data, 40 ECR repos + 40 secrets
    python bench/journal_durability.py --markdown

`power` fsyncs every intent before its cloud call (a power cut cannot lose the knowledge that
a create was started); `process` only flushes to the OS (survives kill -9, not a power cut).
Three measurements, side by side in one run, on the filesystem of the current directory:
  1. one journal record, in isolation (the floor: no cloud, no engine);
  2. `mlform apply` of N `mlform_data` (no cloud object, so no intent is fsynced: what the
     engine alone costs);
  3. `mlform apply` + `destroy` of ECR repositories and secrets on the sandbox: one fsync per
     create or delete call, the case that matters.
With strace installed, it also counts the fsync calls of one sandbox apply. Not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from mlform.state.codec import Codec
from mlform.state.journal import Journal
from mlform.state.local import LocalStore
from mlform.state.models import State


def per_record(mode: str, n: int, where: Path) -> float:
    """Seconds per intent record."""
    store = LocalStore(where / f"journal-{mode}")
    path = store.journal_file
    journal = Journal(store, Codec(), State(project="b", environment="b"), "bench", mode=mode)
    start = time.perf_counter()
    for i in range(n):
        journal.record({"t": "intent", "a": f"mlform_data.r{i}", "op": "create",
                        "type": "mlform_data", "args": {"input": i}}, durable=True)
    elapsed = time.perf_counter() - start
    journal.close()
    path.unlink()
    path.parent.rmdir()
    return elapsed / n


def data_config(n: int) -> str:
    return "project: bench\nresources:\n" + "".join(
        f"  mlform_data.r{i}: {{input: {i}}}\n" for i in range(n))


def cloud_config(n: int, tag: str) -> str:
    lines = ["project: bench", f"environments: {{d{tag}: {{}}}}", "resources:"]
    for i in range(n):
        lines.append(f"  aws_ecr_repository.r{i}: {{name: dur-{tag}-{i}}}")
        lines.append(f"  aws_secretsmanager_secret.s{i}: "
                     f"{{name: dur-{tag}-{i}, recovery_window_in_days: 0}}")
    return "\n".join(lines) + "\n"


def run(args: list[str], cwd: Path, mode: str, strace: bool = False) -> tuple[float, int]:
    """Wall seconds of `mlform ARGS`, and (under strace) how many fsyncs it made."""
    env = {**os.environ, "NO_COLOR": "1", "MLFORM_DURABILITY": mode}
    cmd = [sys.executable, "-m", "mlform", *args]
    log = cwd.resolve() / "strace.log"
    if strace:
        cmd = ["strace", "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", str(log), *cmd]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    fsyncs = 0
    if strace:
        for line in log.read_text().splitlines():
            parts = line.split()
            if parts and parts[-1] in ("fsync", "fdatasync"):
                fsyncs += int(parts[3])  # % time, seconds, usecs/call, calls, ...
    return elapsed, fsyncs


def data_apply(mode: str, n: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(dir=".") as tmp:
            work = Path(tmp)
            (work / "mlform.yaml").write_text(data_config(n))
            times.append(run(["apply", "--auto-approve"], work, mode)[0])
    return statistics.median(times)


def cloud_apply(mode: str, n: int, rounds: int) -> tuple[float, float]:
    applies, destroys = [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(dir=".") as tmp:
            work = Path(tmp)
            (work / "mlform.yaml").write_text(cloud_config(n, uuid.uuid4().hex[:6]))
            applies.append(run(["apply", "--auto-approve"], work, mode)[0])
            destroys.append(run(["destroy", "--auto-approve"], work, mode)[0])
    return statistics.median(applies), statistics.median(destroys)


def fsync_count(mode: str, n: int) -> int:
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        work = Path(tmp)
        (work / "mlform.yaml").write_text(cloud_config(n, uuid.uuid4().hex[:6]))
        count = run(["apply", "--auto-approve"], work, mode, strace=True)[1]
        run(["destroy", "--auto-approve"], work, mode)
        return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=int, default=300, help="mlform_data resources")
    parser.add_argument("--cloud", type=int, default=40, help="ECR repositories (and secrets)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    from mlform.sandbox import lifecycle

    lifecycle.start()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        floor = {m: per_record(m, 2000, Path(tmp)) for m in ("power", "process")}
    data = {m: data_apply(m, args.data, args.rounds) for m in ("power", "process")}
    cloud = {m: cloud_apply(m, args.cloud, args.rounds) for m in ("power", "process")}
    counts = ({m: fsync_count(m, args.cloud) for m in ("power", "process")}
              if shutil.which("strace") else {})

    rows = [
        ("one intent record", f"{floor['power'] * 1e6:.0f} µs", f"{floor['process'] * 1e6:.0f} µs",
         floor["power"] / floor["process"]),
        (f"apply, {args.data} mlform_data (no cloud)", f"{data['power']:.2f} s",
         f"{data['process']:.2f} s", data["power"] / data["process"]),
        (f"apply, {2 * args.cloud} objects on the sandbox", f"{cloud['power'][0]:.2f} s",
         f"{cloud['process'][0]:.2f} s", cloud["power"][0] / cloud["process"][0]),
        (f"destroy, {2 * args.cloud} objects on the sandbox", f"{cloud['power'][1]:.2f} s",
         f"{cloud['process'][1]:.2f} s", cloud["power"][1] / cloud["process"][1]),
    ]
    if counts:
        rows.append((f"fsync calls, apply of {2 * args.cloud} objects", str(counts["power"]),
                     str(counts["process"]), counts["power"] / max(1, counts["process"])))
    if args.markdown:
        print("| measured | power (fsync intents) | process (flush only) | ratio |")
        print("|---|---:|---:|---:|")
        for name, power, process, ratio in rows:
            print(f"| {name} | {power} | {process} | {ratio:.2f}x |")
    else:
        for name, power, process, ratio in rows:
            print(f"{name:42} power {power:>10}   process {process:>10}   {ratio:5.2f}x")
    print(f"(medians of {args.rounds} runs; filesystem of {Path.cwd()})")


if __name__ == "__main__":
    main()
