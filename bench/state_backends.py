"""State backends side by side: lock and write latency (p50/p99) on local files, S3 (the sandbox)
and PostgreSQL (a throwaway server on 127.0.0.1), each next to the same write made directly.

    python bench/state_backends.py                  # 200 rounds, a state of 100 resources
    python bench/state_backends.py --rounds 500 --resources 1000 --markdown

Per backend, each round times:
  lock     taking the state lock (`StateBackend.lock`: S3 If-None-Match PUT, a PostgreSQL row
           INSERT, flock) and releasing it;
  write    committing a state of N resources (`commit`: checksum, compare-and-swap write,
           history kept, journal dropped);
  change   what one small apply costs the state: lock, load, journal one record, commit,
           unlock;
  direct   the floor under `write`: the same bytes written without mlform (local: write,
           fsync, rename; S3: one boto3 PutObject; PostgreSQL: one psycopg UPDATE in a
           transaction), and `write / direct`, what mlform's safety costs on top.
Terraform's backends have no way to time a lock or a state write apart from a whole command,
so they are not in this table. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def state_with(n: int, project: str, env: str) -> Any:
    from mlform.state.models import ResourceState, State

    state = State(project=project, environment=env)
    for i in range(n):
        state.resources[f"aws_s3_bucket.b{i}"] = ResourceState(
            "aws_s3_bucket", f"bench-{i}", {"bucket": f"bench-{i}", "arn": f"arn:aws:s3:::b{i}",
                                            "tags": {"team": "ml", "i": str(i)}})
    return state


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(backend: Any, direct: Callable[[bytes], None], rounds: int,
            n: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"lock": [], "write": [], "change": [], "direct": []}
    with backend.lock("bench"):
        state = backend.load()
        full = state_with(n, state.project, state.environment)
        full.serial, full.lineage = state.serial, state.lineage
        backend.commit(full, operation="bench")
    data = backend.codec.dump_state(full, {"at": "", "by": "", "operation": "bench"})
    for _ in range(rounds):
        def lock() -> None:
            with backend.lock("bench"):
                pass
        out["lock"].append(timed(lock))
        with backend.lock("bench"):
            current = backend.load()
            out["write"].append(timed(
                lambda st=current: backend.commit(st, operation="bench")))

        def change() -> None:
            with backend.lock("apply"):
                st = backend.load()
                journal = backend.begin(st, "apply")
                journal.record({"t": "outputs", "o": {"n": {"value": st.serial}}})
                backend.commit(st, journal)
        out["change"].append(timed(change))
        out["direct"].append(timed(lambda: direct(data)))
    return out


def local_backend(tmp: Path) -> tuple[Any, Callable[[bytes], None]]:
    from mlform.state.local import LocalBackend

    folder = tmp / "local"
    raw = tmp / "direct"
    raw.mkdir()

    def direct(data: bytes) -> None:
        part = raw / "state.json.tmp"
        with open(part, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, raw / "state.json")

    return LocalBackend(folder, "bench", "dev"), direct


def s3_backend(tmp: Path) -> tuple[Any, Callable[[bytes], None]]:
    from mlform.providers.aws.session import AwsSession
    from mlform.providers.base import StackContext
    from mlform.state.backends import open_backend

    ctx = StackContext("bench", "dev", home=os.environ["MLFORM_HOME"])
    session = AwsSession(ctx)
    s3 = session.client("s3")
    bucket = f"bench-state-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    backend = open_backend({"backend": "s3", "bucket": bucket}, tmp, "bench", "dev", None,
                           session=lambda: session)
    return backend, lambda data: s3.put_object(Bucket=bucket, Key="direct.json", Body=data)


def postgres_backend(tmp: Path, url: str) -> tuple[Any, Callable[[bytes], None]]:
    import psycopg

    from mlform.state.backends import open_backend

    backend = open_backend({"backend": "postgres", "url": url, "schema": "bench"}, tmp,
                           "bench", "dev", None)
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("CREATE TABLE IF NOT EXISTS bench_direct (id int PRIMARY KEY, data bytea)")
    conn.execute("INSERT INTO bench_direct VALUES (1, '') ON CONFLICT DO NOTHING")

    def direct(data: bytes) -> None:
        with conn.transaction():
            conn.execute("UPDATE bench_direct SET data = %s WHERE id = 1", (data,))

    return backend, direct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--resources", type=int, default=100)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="mlform-bench-home-")
    os.environ.update({"MLFORM_HOME": home, "MLFORM_SANDBOX_PORT": "0",
                       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    from tests.pgserver import start_server

    from mlform.sandbox.lifecycle import stop

    server = start_server()
    rows: list[tuple[str, dict[str, list[float]]]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            kinds: list[tuple[str, Callable[[], tuple[Any, Callable[[bytes], None]]]]] = [
                ("local", lambda: local_backend(Path(tmp) / "l")),
                ("s3 (sandbox)", lambda: s3_backend(Path(tmp) / "s")),
            ]
            if server is not None:
                kinds.append(("postgres", lambda: postgres_backend(Path(tmp) / "p",
                                                                   server.url)))
            else:
                print("PostgreSQL binaries not found: postgres left out", file=sys.stderr)
            for name, make in kinds:
                (Path(tmp) / name.split()[0][0]).mkdir(parents=True, exist_ok=True)
                backend, direct = make()
                rows.append((name, measure(backend, direct, args.rounds, args.resources)))
    finally:
        stop(home)
        if server is not None:
            server.stop()
    print(f"{args.rounds} rounds, a state of {args.resources} resources; milliseconds\n")
    head = ["backend", "lock p50", "lock p99", "write p50", "write p99", "change p50",
            "change p99", "direct p50", "write/direct"]
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|---" + "|---:" * (len(head) - 1) + "|")
    else:
        print("  ".join(f"{h:>12}" for h in head))
    for name, m in rows:
        cells = [name] + [f"{pct(m[k], q):.2f}" for k in ("lock", "write", "change")
                          for q in (0.5, 0.99)]
        cells += [f"{pct(m['direct'], 0.5):.2f}",
                  f"{statistics.median(m['write']) / statistics.median(m['direct']):.1f}x"]
        if args.markdown:
            print("| " + " | ".join(cells) + " |")
        else:
            print("  ".join(f"{c:>12}" for c in cells))


if __name__ == "__main__":
    main()
