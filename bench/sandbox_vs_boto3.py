"""Provider overhead: mlform applying N cloud objects vs the same objects made with boto3.

    python bench/sandbox_vs_boto3.py            # N = 50 ECR repositories + 50 secrets
    python bench/sandbox_vs_boto3.py --n 200

Both sides talk to the same sandbox over HTTP with the same parallelism (10 threads). The
boto3 side makes the minimal calls (one create per object, tags in the same call; one delete);
mlform also reads each object back after creating it (to record what the cloud made), journals
every call, and writes state. Prints wall times and the ratio. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3


def config(n: int, tag: str) -> str:
    lines = ["project: bench", f"environments: {{b{tag}: {{}}}}", "resources:"]
    for i in range(n):
        lines.append(f"  aws_ecr_repository.r{i}: {{name: mlform-{tag}-{i}}}")
        lines.append(f"  aws_secretsmanager_secret.s{i}: "
                     f"{{name: mlform-{tag}-{i}, recovery_window_in_days: 0}}")
    return "\n".join(lines) + "\n"


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    from mlform.sandbox import lifecycle

    info = lifecycle.start()
    tag = uuid.uuid4().hex[:6]
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "mlform.yaml").write_text(config(args.n, tag))
        mlform = [sys.executable, "-m", "mlform"]
        apply_s = timed([*mlform, "apply", "--auto-approve"], work, env)
        destroy_s = timed([*mlform, "destroy", "--auto-approve"], work, env)

    kw = {"endpoint_url": info.url, "region_name": "us-east-1",
          "aws_access_key_id": "x", "aws_secret_access_key": "y"}
    ecr, sm = boto3.client("ecr", **kw), boto3.client("secretsmanager", **kw)
    tags = [{"Key": "mlform:stack", "Value": "bench"}]
    names = [f"boto3-{tag}-{i}" for i in range(args.n)]
    with ThreadPoolExecutor(10) as pool:
        start = time.perf_counter()
        list(pool.map(lambda n: ecr.create_repository(repositoryName=n, tags=tags), names))
        list(pool.map(lambda n: sm.create_secret(Name=n, Tags=tags), names))
        create_s = time.perf_counter() - start
        start = time.perf_counter()
        list(pool.map(lambda n: ecr.delete_repository(repositoryName=n), names))
        list(pool.map(lambda n: sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True),
                      names))
        delete_s = time.perf_counter() - start
    total = 2 * args.n
    print(f"{total} objects on the sandbox at {info.url}")
    print(f"create:  mlform apply {apply_s:6.2f}s   boto3 {create_s:6.2f}s   "
          f"ratio {apply_s / create_s:4.1f}x")
    print(f"delete:  mlform destroy {destroy_s:5.2f}s   boto3 {delete_s:6.2f}s   "
          f"ratio {destroy_s / delete_s:4.1f}x")
    print("(mlform's times include process start, config load, refresh and state writes)")


if __name__ == "__main__":
    main()
