"""Throttling and 5xx answers are retried (botocore's adaptive mode), not surfaced as failures.

A proxy on loopback sits between mlform and the sandbox and answers every other request of the
first ones with a throttling error or a 503, as AWS does under load.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from mlform.api import Workspace
from mlform.providers.aws import PROVIDER as AWS
from mlform.providers.aws.session import AwsSession
from mlform.providers.builtin import PROVIDER as BUILTIN
from mlform.providers.registry import ProviderSpec, build_registry


class FlakyProxy(ThreadingHTTPServer):
    def __init__(self, upstream: str, failures: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = urlsplit(upstream)
        self.failures_left = failures
        self.seen = 0
        self.injected: list[str] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def should_fail(self) -> bool:
        with self.lock:
            self.seen += 1
            if self.failures_left > 0 and self.seen % 2 == 1:
                self.failures_left -= 1
                return True
            return False


class _Handler(BaseHTTPRequestHandler):
    server: FlakyProxy

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target")
        if self.server.should_fail():
            if target:  # JSON protocols: the throttling error the adaptive limiter reacts to
                payload = json.dumps({"__type": "ThrottlingException",
                                      "message": "Rate exceeded"}).encode()
                self._reply(400, payload, "application/x-amz-json-1.1")
                self.server.injected.append(f"throttle {target}")
            else:  # everything else: a transient server error
                self._reply(503, b"<Error><Code>ServiceUnavailable</Code>"
                                 b"<Message>Please retry</Message></Error>", "text/xml")
                self.server.injected.append(f"503 {self.command} {self.path}")
            return
        conn = http.client.HTTPConnection(self.server.upstream.hostname or "127.0.0.1",
                                          self.server.upstream.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        headers["Host"] = self.server.upstream.netloc
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    def _reply(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


@pytest.fixture
def proxy(sandbox: Any) -> Iterator[FlakyProxy]:
    server = FlakyProxy(sandbox.url, failures=12)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_apply_rides_out_throttling_and_5xx(proxy: FlakyProxy, tmp_path: Path,
                                            uid: str) -> None:
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
    assert len(proxy.injected) == 12
    assert any(i.startswith("throttle ") for i in proxy.injected)
    assert any(i.startswith("503 ") for i in proxy.injected)
    assert len(ws.state().resources) == 4
    assert not ws.plan().has_changes
    assert ws.apply(destroy=True).result.ok  # type: ignore[union-attr]
