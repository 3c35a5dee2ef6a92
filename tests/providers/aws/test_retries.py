"""Throttling and 5xx answers are retried (botocore's adaptive mode), not surfaced as failures.

A fault proxy on loopback (tests/faultproxy.py) sits between mlform and the sandbox and refuses
the first calls of each create with a throttling error or a 503, as AWS does under load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlform.api import Workspace
from mlform.providers.aws import PROVIDER as AWS
from mlform.providers.aws.session import AwsSession
from mlform.providers.builtin import PROVIDER as BUILTIN
from mlform.providers.registry import ProviderSpec, build_registry
from tests.faultproxy import FaultProxy


def test_apply_rides_out_throttling_and_5xx(sandbox: Any, tmp_path: Path, uid: str) -> None:
    with FaultProxy(sandbox.url) as proxy:
        for operation in ("CreateRepository", "CreateSecret", "CreateRole"):
            proxy.add(operation, "throttle", times=2)
            proxy.add(operation, "503", times=2)
        proxy.add(("PUT", rf"^/flaky-{uid}/?$"), "503", times=2)
        through_proxy = ProviderSpec(
            name="aws", resource_types=AWS.resource_types,
            open_session=lambda ctx: AwsSession(ctx, endpoint_url=proxy.url),
            terraform_provider=AWS.terraform_provider)
        registry = build_registry([BUILTIN, through_proxy])
        (tmp_path / "mlform.yaml").write_text(f"""project: flaky
environments: {{e{uid}: {{}}}}
resources:
  aws_ecr_repository.r: {{name: flaky-{uid}}}
  aws_secretsmanager_secret.s: {{name: flaky-{uid}, recovery_window_in_days: 0}}
  aws_s3_bucket.b: {{bucket: flaky-{uid}}}
  aws_iam_role.role:
    name: flaky-{uid}
    assume_role_policy: {{Version: "2012-10-17", Statement: []}}
""")
        ws = Workspace(tmp_path / "mlform.yaml", registry=registry)
        outcome = ws.apply(parallelism=4)
        assert outcome.result is not None and outcome.result.ok, outcome.result.failed
        assert sorted(proxy.fired) == sorted(
            [(fault, op) for op in ("CreateRepository", "CreateSecret", "CreateRole")
             for fault in ("throttle", "throttle", "503", "503")]
            + [("503", f"PUT /flaky-{uid}")] * 2)
        assert len(ws.state().resources) == 4
        assert not ws.plan().has_changes
        assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]
