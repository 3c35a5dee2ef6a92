"""A reverse proxy on loopback that injects AWS faults in front of the sandbox, per operation.

    with FaultProxy(sandbox.url) as proxy:
        proxy.add("CreateVpc", "drop_after")         # forward it, then hang up unanswered
        proxy.add(("PUT", r"^/my-bucket/?$"), "503_after")
        ...
        assert proxy.fired == [("drop_after", "CreateVpc")]

An operation is matched by name for the query protocol (the `Action=` form parameter: EC2, IAM,
RDS, ...) and the JSON protocols (the `X-Amz-Target` header: ECR, Secrets Manager, ...), or by
method and path pattern for REST services (S3, EKS). Each rule fires `times` times, then the
requests it matches pass untouched. Faults:

- `throttle`: answer the service's throttling error without forwarding (the request is refused,
  as AWS refuses it under load: safe to retry).
- `503`: answer 503 without forwarding (a transient server error before anything happened).
- `503_after`: forward, let the sandbox act, then answer 503 instead of the real answer.
- `drop_after`: forward, let the sandbox act, then close the connection without an answer.

- `rewrite`: forward, then answer with the response body rewritten (`sub=(pattern,
  replacement)`, a regular expression on bytes): an object AWS still reports as pending.

`drop_after` and `503_after` are lost answers: the call took effect, but the caller cannot know.
`FaultProxy(url, latency=0.05)` also delays every answer by 50 ms, as a distant region's round
trip would (bench/regions_vs_one.py). `fired` records every fault injected, so a test can check
its fault really happened; `clear()` drops the rules that have not fired up. `seen` lists every
request's operation in the order the requests arrived, for tests of the order of calls.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

Fault = Literal["throttle", "503", "503_after", "drop_after", "rewrite"]
EC2_VERSION = "2016-11-15"


@dataclass
class Rule:
    operation: str | tuple[str, str]  # a name, or (HTTP method, path regex)
    fault: Fault
    times: int
    sub: tuple[bytes, bytes] | None = None  # for `rewrite`

    def matches(self, request: Request) -> bool:
        if isinstance(self.operation, str):
            return request.operation == self.operation
        method, path = self.operation
        return request.method == method and re.search(path, request.path) is not None


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def target(self) -> str | None:
        return self.headers.get("x-amz-target")

    @property
    def form(self) -> dict[str, list[str]]:
        if "x-www-form-urlencoded" not in self.headers.get("content-type", ""):
            return {}
        return parse_qs(self.body.decode())

    @property
    def operation(self) -> str:
        """The AWS operation, where the request names it (else METHOD path)."""
        if self.target:
            return self.target.rsplit(".", 1)[-1]
        action = self.form.get("Action")
        return action[0] if action else f"{self.method} {self.path}"

    def error(self, status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
        """An error answer in the protocol the request was made in."""
        if self.target:  # JSON protocols
            body = json.dumps({"__type": code, "message": message}).encode()
            return status, {"Content-Type": "application/x-amz-json-1.1"}, body
        form = self.form
        if form.get("Version") == [EC2_VERSION]:
            body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
                    "</Error></Errors><RequestID>fault</RequestID></Response>").encode()
            return status, {"Content-Type": "text/xml"}, body
        if form:  # the other query services
            body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                    f"<Message>{message}</Message></Error><RequestId>fault</RequestId>"
                    "</ErrorResponse>").encode()
            return status, {"Content-Type": "text/xml"}, body
        if self.path.startswith(("/clusters", "/tags")):  # EKS: REST-JSON
            body = json.dumps({"message": message}).encode()
            return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, body
        body = (f"<Error><Code>{code}</Code><Message>{message}</Message>"  # S3: REST-XML
                "<RequestId>fault</RequestId></Error>").encode()
        return status, {"Content-Type": "application/xml"}, body

    def throttled(self) -> tuple[int, dict[str, str], bytes]:
        if self.target:
            return self.error(400, "ThrottlingException", "Rate exceeded")
        if self.form.get("Version") == [EC2_VERSION]:
            return self.error(503, "RequestLimitExceeded", "Request limit exceeded.")
        if self.form:
            return self.error(400, "Throttling", "Rate exceeded")
        if self.path.startswith(("/clusters", "/tags")):
            return self.error(429, "ThrottlingException", "Rate exceeded")
        return self.error(503, "SlowDown", "Please reduce your request rate.")


class FaultProxy(ThreadingHTTPServer):
    """The proxy (see the module docstring). Use it as a context manager, or `start`/`stop`."""

    daemon_threads = True

    def __init__(self, upstream: str, latency: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = urlsplit(upstream)
        self.latency = latency  # seconds added to every answer: a round trip to a far region
        self.rules: list[Rule] = []
        self.fired: list[tuple[Fault, str]] = []
        self.seen: list[str] = []
        self.lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, operation: str | tuple[str, str], fault: Fault, times: int = 1,
            sub: tuple[bytes, bytes] | None = None) -> None:
        if (fault == "rewrite") != (sub is not None):
            raise ValueError("`sub` goes with the rewrite fault, and only with it")
        with self.lock:
            self.rules.append(Rule(operation, fault, times, sub))

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def take(self, request: Request) -> Rule | None:
        """The rule to apply to `request`, if one with firings left matches it."""
        with self.lock:
            self.seen.append(request.operation)
            for rule in self.rules:
                if rule.times > 0 and rule.matches(request):
                    rule.times -= 1
                    self.fired.append((rule.fault, request.operation))
                    return rule
        return None

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxy

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = Request(self.command, self.path,
                          {k.lower(): v for k, v in self.headers.items()}, body)
        rule = self.server.take(request)
        fault = rule.fault if rule else None
        if fault == "throttle":
            self._reply(*request.throttled())
            return
        if fault == "503":
            self._reply(*request.error(503, "ServiceUnavailable", "Please retry"))
            return
        status, headers, data = self._forward(request)
        if fault == "drop_after":
            self.close_connection = True  # the handler returns without a word: EOF
            return
        if fault == "503_after":
            self._reply(*request.error(503, "ServiceUnavailable", "Please retry"))
            return
        if rule is not None and rule.sub is not None:
            data = re.sub(rule.sub[0], rule.sub[1], data)
        if self.server.latency:
            time.sleep(self.server.latency)
        self._reply(status, headers, data)

    def _forward(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        upstream = self.server.upstream
        conn = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port,
                                          timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            headers["Host"] = upstream.netloc
            conn.request(request.method, request.path, body=request.body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            kept = {k: v for k, v in resp.getheaders()
                    if k.lower() not in ("transfer-encoding", "connection", "content-length")}
            return resp.status, kept, data
        finally:
            conn.close()

    def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle
