"""Engine benchmark: mlform vs Terraform on N no-op resources in dependency chains of 10.

    python bench/engine_vs_terraform.py                  # N = 500, 2000, 10000
    python bench/engine_vs_terraform.py --sizes 500 2000 --repeat 5 --markdown

For each N, in one run and on the same machine, both tools plan (from an empty state, plan saved
to a file), apply that plan, then plan again with everything in place (refresh, no changes).
mlform uses `mlform_data`, Terraform its built-in `terraform_data`: neither touches a cloud, so
this measures the engines themselves. Each command runs as its own process; wall time is the
median of --repeat runs, peak memory is the process's maximum resident set size (wait4).
mlform runs as an installed package does, from compiled bytecode (PYTHONDONTWRITEBYTECODE is
dropped and the package is compiled first). Terraform is skipped when the `terraform` binary is
not on PATH, and above --terraform-max-n. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

CHAIN = 10


@dataclass
class Measure:
    seconds: float
    peak_mb: float


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> Measure:
    """Run `cmd` to completion, output discarded; wall time and peak RSS of that process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{err.decode(errors='replace')}")
    return Measure(elapsed, usage.ru_maxrss / 1024)


def mlform_config(n: int) -> str:
    lines = ["project: bench", "resources:"]
    for i in range(n):
        if i % CHAIN == 0:
            lines.append(f"  mlform_data.r{i}: {{input: {i}}}")
        else:
            lines.append(f"  mlform_data.r{i}: {{input: '${{mlform_data.r{i - 1}.output}}'}}")
    return "\n".join(lines) + "\n"


def terraform_config(n: int) -> str:
    blocks = []
    for i in range(n):
        value = str(i) if i % CHAIN == 0 else f'"${{terraform_data.r{i - 1}.output}}"'
        blocks.append(f'resource "terraform_data" "r{i}" {{\n  input = {value}\n}}\n')
    return "".join(blocks)


def median(runs: list[Measure]) -> Measure:
    return Measure(statistics.median(m.seconds for m in runs), max(m.peak_mb for m in runs))


def python_env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_mlform() -> None:
    """Byte-compile mlform as pip does at install (an editable install is not compiled)."""
    import compileall

    import mlform

    compileall.compile_dir(str(Path(mlform.__file__).parent), quiet=1)


def bench_mlform(n: int, repeat: int, work: Path) -> dict[str, Measure]:
    mlform = [sys.executable, "-m", "mlform"]
    env = python_env()
    results: dict[str, list[Measure]] = {"plan": [], "apply": [], "noop_plan": []}
    for i in range(repeat):
        d = work / f"mlform-{n}-{i}"
        d.mkdir()
        (d / "mlform.yaml").write_text(mlform_config(n))
        results["plan"].append(run([*mlform, "plan", "-out", "bench.plan"], d, env))
        results["apply"].append(run([*mlform, "apply", "bench.plan"], d, env))
        results["noop_plan"].append(run([*mlform, "plan"], d, env))
    return {k: median(v) for k, v in results.items()}


def bench_terraform(n: int, repeat: int, work: Path) -> dict[str, Measure]:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1",
           "TF_CLI_CONFIG_FILE": os.devnull}
    results: dict[str, list[Measure]] = {"plan": [], "apply": [], "noop_plan": []}
    for i in range(repeat):
        d = work / f"terraform-{n}-{i}"
        d.mkdir()
        (d / "main.tf").write_text(terraform_config(n))
        run(["terraform", "init", "-input=false", "-no-color"], d, env)
        results["plan"].append(run(["terraform", "plan", "-input=false", "-no-color",
                                    "-out=bench.tfplan"], d, env))
        results["apply"].append(run(["terraform", "apply", "-input=false", "-no-color",
                                     "bench.tfplan"], d, env))
        results["noop_plan"].append(run(["terraform", "plan", "-input=false", "-no-color"],
                                        d, env))
    return {k: median(v) for k, v in results.items()}


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    tf = ""
    if shutil.which("terraform"):
        out = subprocess.run(["terraform", "version", "-json"], capture_output=True, text=True,
                             env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull}, check=False)
        try:
            tf = json.loads(out.stdout)["terraform_version"]
        except (ValueError, KeyError):
            tf = out.stdout.split("\n")[0]
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": mem,
            "python": platform.python_version(), "os": platform.platform(), "terraform": tf}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 10000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--terraform-repeat-above", type=int, default=2000,
                        help="above this N, Terraform runs once (it takes minutes)")
    parser.add_argument("--no-terraform", action="store_true")
    parser.add_argument("--terraform-max-n", type=int, default=None,
                        help="skip Terraform above this N (its apply of 10,000 takes long)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--markdown", action="store_true", help="print a table for the README")
    args = parser.parse_args()

    have_tf = shutil.which("terraform") is not None and not args.no_terraform
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory']}; Python "
          f"{info['python']}; Terraform {info['terraform'] or 'not found'}")
    rows = []
    compile_mlform()
    with tempfile.TemporaryDirectory(prefix="mlform-bench-") as tmp:
        work = Path(tmp)
        for n in args.sizes:
            ml = bench_mlform(n, args.repeat, work)
            tf = None
            if have_tf and (args.terraform_max_n is None or n <= args.terraform_max_n):
                reps = 1 if n > args.terraform_repeat_above else args.repeat
                tf = bench_terraform(n, reps, work)
            row = {"n": n, "mlform": {k: asdict(v) for k, v in ml.items()},
                   "terraform": {k: asdict(v) for k, v in tf.items()} if tf else None}
            rows.append(row)
            for phase in ("plan", "apply", "noop_plan"):
                m = ml[phase]
                line = f"N={n:>6} {phase:<10} mlform {m.seconds:7.2f}s {m.peak_mb:6.0f} MB"
                if tf:
                    t = tf[phase]
                    line += (f" | terraform {t.seconds:7.2f}s {t.peak_mb:6.0f} MB"
                             f" | mlform {t.seconds / m.seconds:5.1f}x faster")
                print(line, flush=True)
    first, last = rows[0], rows[-1]
    per_first = first["mlform"]["apply"]["seconds"] / first["n"]
    per_last = last["mlform"]["apply"]["seconds"] / last["n"]
    print(f"apply cost per resource: {per_first * 1e3:.3f} ms at N={first['n']}, "
          f"{per_last * 1e3:.3f} ms at N={last['n']} (ratio {per_last / per_first:.2f})")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    if args.markdown:
        print()
        print("| N | phase | mlform | Terraform | ratio | mlform peak RSS | Terraform peak RSS |")
        print("|---:|---|---:|---:|---:|---:|---:|")
        for row in rows:
            for phase in ("plan", "apply", "noop_plan"):
                m = row["mlform"][phase]
                t = (row["terraform"] or {}).get(phase)
                name = {"plan": "plan", "apply": "apply", "noop_plan": "plan, no changes"}[phase]
                tf_s = f"{t['seconds']:.2f} s" if t else "n/a"
                ratio = f"{t['seconds'] / m['seconds']:.1f}x" if t else "n/a"
                tf_mb = f"{t['peak_mb']:.0f} MB" if t else "n/a"
                print(f"| {row['n']:,} | {name} | {m['seconds']:.2f} s | {tf_s} | {ratio} | "
                      f"{m['peak_mb']:.0f} MB | {tf_mb} |")


if __name__ == "__main__":
    main()
