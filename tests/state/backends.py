"""The backends every state contract test runs against, and a writer process for them.

`backend_config(kind, tmp_path, uid)` is an environment's `state:` for that backend; the S3 and
PostgreSQL entries need the sandbox and the loopback PostgreSQL server (their fixtures).
`python -m tests.state.backends SPEC` is one writer: it takes the lock (waiting up to the
spec's timeout), loads, records one resource through the journal and commits.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from mlform.providers.base import StackContext
from mlform.state.backend import StateBackend
from mlform.state.backends import open_backend
from mlform.state.models import ResourceState

PROJECT = "contract"


def open_spec(spec: dict[str, Any]) -> StateBackend:
    """The backend a spec names: {config, dir, environment, region?}."""
    ctx = StackContext(PROJECT, spec["environment"])

    def session() -> Any:
        from mlform.providers.aws.session import AwsSession

        return AwsSession(ctx)

    return open_backend(spec["config"], Path(spec["dir"]), PROJECT, spec["environment"],
                        spec.get("region"), session=session)


def write_one(spec: dict[str, Any], name: str) -> int:
    """Lock, load, journal one put, commit; returns the serial written."""
    backend = open_spec(spec)
    with backend.lock("apply", timeout=spec.get("timeout", 0.0)):
        state = backend.load()
        journal = backend.begin(state, "apply")
        journal.record({"t": "put", "a": f"mlform_data.{name}",
                        "r": {"type": "mlform_data", "id": name, "attributes": {"id": name}}})
        time.sleep(spec.get("hold", 0.0))
        backend.commit(state, journal)
        return state.serial


def churn(spec: dict[str, Any], size: int) -> None:
    """Hold the lock and commit states of `size` resources (half a megabyte) one after another
    until killed: nearly all of the time goes to writing, so that is where a kill lands."""
    backend = open_spec(spec)
    with backend.lock("apply", timeout=spec.get("timeout", 0.0)):
        state = backend.load()
        for i in range(size):
            state.resources[f"mlform_data.r{i}"] = ResourceState(
                "mlform_data", f"r{i}", {"id": f"r{i}", "input": "x" * 200})
        print("writing", flush=True)
        while True:
            state.outputs = {"round": {"value": state.serial}}
            backend.commit(state, operation="apply")


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    if sys.argv[2] == "--churn":
        churn(spec, int(sys.argv[3]))
    else:
        print(write_one(spec, sys.argv[2]), flush=True)
