"""Regions in parallel: examples/ml-platform planned and applied in three regions vs in one.

    python bench/regions_vs_one.py              # median of 3 rounds
    python bench/regions_vs_one.py --rounds 5 --markdown

On a private sandbox, each round times the same commands on two copies of the example: one
whose `dev` environment is `region: eu-west-1`, one whose `dev` is `regions: [eu-west-1,
us-east-1, us-west-2]` (45 objects per region). Each command is a whole `mlform` process, as a
user runs it: `plan` from an empty state, `apply --auto-approve`, `plan` with everything in
place (a refresh of every object), and `destroy --auto-approve`. The ratio is three regions'
time over one region's: 3.0x would be regions one after another, 1.0x perfectly parallel.

It runs twice: on the sandbox directly, where every region is served by the one sandbox
process (so three regions are three times its work, on the same CPU), and as `target: aws`
through a loopback proxy that adds `--latency-ms` (default 50) to every answer, as calls to
distant AWS regions take, with the default AWS rate limits: what parallel regions save on AWS,
where regions are separate endpoints and time goes to waiting, not to the sandbox's CPU.
A warm-up plan of each copy fills the GPU-type cache first. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ml-platform" / "mlform.yaml"
ONE = "  dev:  {target: sandbox, region: eu-west-1}"
THREE = "  dev:  {target: sandbox, regions: [eu-west-1, us-east-1, us-west-2]}"
ROOT = Path(__file__).resolve().parents[1]
PHASES = (("plan", ["plan", "--allow-over-budget"]),
          ("apply", ["apply", "--auto-approve", "--allow-over-budget"]),
          ("plan, no changes", ["plan", "--allow-over-budget"]),
          ("destroy", ["destroy", "--auto-approve"]))


def project(folder: Path, name: str, environment_line: str) -> Path:
    text = EXAMPLE.read_text()
    assert ONE in text, "the example's dev environment changed: update this benchmark"
    folder.mkdir()
    (folder / "mlform.yaml").write_text(
        text.replace(ONE, environment_line).replace("project: fraud", f"project: {name}"))
    return folder


def run(folder: Path, args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mlform", *args], cwd=folder, env=env,
                          check=False,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - start
    if proc.returncode not in (0, 2):
        raise SystemExit(f"mlform {' '.join(args)} failed in {folder}:\n{proc.stderr}")
    return took


def measure(tmp: Path, label: str, rounds: int, env: dict[str, str],
            target: str) -> dict[tuple[str, int], list[float]]:
    """Median inputs: every phase's times for one region (1) and three (3)."""
    times: dict[tuple[str, int], list[float]] = {}
    lines = {1: ONE.replace("sandbox", target), 3: THREE.replace("sandbox", target)}
    for i in range(rounds + 1):
        folders = {n: project(tmp / f"{label}{n}-{i}", f"{label}{n}r{i}", lines[n])
                   for n in (1, 3)}
        sides = [1, 3] if i % 2 == 0 else [3, 1]  # alternate who goes first
        for side in sides:
            if i == 0:  # warm-up: fills the GPU-type cache, timed nowhere
                run(folders[side], PHASES[0][1], env)
                continue
            for phase, argv in PHASES:
                times.setdefault((phase, side), []).append(run(folders[side], argv, env))
    return times


def table(times: dict[tuple[str, int], list[float]]) -> list[tuple[str, float, float, float]]:
    rows = []
    for phase, _ in PHASES:
        one = statistics.median(times[(phase, 1)])
        three = statistics.median(times[(phase, 3)])
        rows.append((phase, one, three, three / one))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--markdown", action="store_true", help="Print README tables.")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # tests/faultproxy.py
    from tests.faultproxy import FaultProxy

    from mlform.sandbox import lifecycle

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "MLFORM_HOME": str(home), "MLFORM_SANDBOX_PORT": "0",
               "NO_COLOR": "1"}
        os.environ.update(MLFORM_HOME=str(home), MLFORM_SANDBOX_PORT="0")
        info = lifecycle.start(str(home))
        try:
            results["sandbox"] = measure(Path(tmp), "s", args.rounds, env, "sandbox")
            with FaultProxy(info.url, latency=args.latency_ms / 1000) as proxy:
                far = {**env, "AWS_ENDPOINT_URL": proxy.url, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_CONFIG_FILE": "/dev/null",
                       "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
                results["latency"] = measure(Path(tmp), "a", args.rounds, far, "aws")
        finally:
            lifecycle.stop(str(home))
    titles = {"sandbox": "on the sandbox directly",
              "latency": f"target: aws, {args.latency_ms:.0f} ms added to every answer"}
    for key, times in results.items():
        rows = table(times)
        if args.markdown:
            print(f"\n| examples/ml-platform, {titles[key]} | 1 region (45 objects) | "
                  "3 regions (135 objects) | 3 regions take |")
            print("|---|---:|---:|---:|")
            for phase, one, three, ratio in rows:
                print(f"| {phase} | {one:.2f} s | {three:.2f} s | {ratio:.2f}x |")
        else:
            print(titles[key])
            for phase, one, three, ratio in rows:
                print(f"  {phase:18} 1 region {one:6.2f}s   3 regions {three:6.2f}s   "
                      f"ratio {ratio:4.2f}x")
    print(f"(median of {args.rounds} rounds; each figure is a whole mlform process)")


if __name__ == "__main__":
    main()
