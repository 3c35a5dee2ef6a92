"""A stand-in for the AWS Price List API on loopback (moto has no `pricing` service).

It speaks the real wire protocol (JSON 1.1, `X-Amz-Target: AWSPriceListService.GetProducts`),
applies TERM_MATCH filters to product attributes and pages its answers, so `mlform prices
refresh` runs unchanged against it through botocore's `AWS_ENDPOINT_URL_PRICING`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PAGE = 2  # small, so every query needs several pages


def product(service: str, family: str, usd: float, unit: str = "Hrs",
            published: str = "2026-11-20T00:00:00Z", **attributes: str) -> dict[str, Any]:
    """One Price List product, shaped as GetProducts returns it."""
    sku = f"SKU{abs(hash((service, family, usd, tuple(sorted(attributes.items()))))) % 10**9}"
    term = f"{sku}.JRTCKXETXF"
    return {
        "product": {"productFamily": family, "sku": sku,
                    "attributes": {"servicecode": service, **attributes}},
        "serviceCode": service,
        "terms": {
            "OnDemand": {term: {
                "offerTermCode": "JRTCKXETXF", "sku": sku,
                "effectiveDate": "2026-11-01T00:00:00Z", "termAttributes": {},
                "priceDimensions": {f"{term}.6YS6EN2CT7": {
                    "unit": unit, "beginRange": "0", "endRange": "Inf",
                    "description": f"${usd} per {unit}", "appliesTo": [],
                    "rateCode": f"{term}.6YS6EN2CT7",
                    "pricePerUnit": {"USD": f"{usd:.10f}"}}},
            }},
            "Reserved": {},
        },
        "version": "20261120000000", "publicationDate": published,
    }


class _Handler(BaseHTTPRequestHandler):
    products: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        target = self.headers.get("X-Amz-Target", "")
        self.requests.append({"target": target, **body})
        if target != "AWSPriceListService.GetProducts":
            return self._send(400, {"__type": "InvalidParameterException",
                                    "message": f"unsupported {target}"})
        wanted = {f["Field"]: f["Value"] for f in body.get("Filters", [])}
        matches = [p for p in self.products
                   if p["serviceCode"] == body["ServiceCode"]
                   and all(_attribute(p, k) == v for k, v in wanted.items())]
        start = int(body.get("NextToken") or 0)
        page = matches[start:start + PAGE]
        answer: dict[str, Any] = {"FormatVersion": "aws_v1",
                                  "PriceList": [json.dumps(p) for p in page]}
        if start + PAGE < len(matches):
            answer["NextToken"] = str(start + PAGE)
        self._send(200, answer)

    def _send(self, status: int, doc: dict[str, Any]) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _attribute(p: dict[str, Any], name: str) -> str | None:
    if name == "productFamily":
        return str(p["product"]["productFamily"])
    value = p["product"]["attributes"].get(name)
    return None if value is None else str(value)


@contextmanager
def fake_pricing(products: list[dict[str, Any]]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Serve `products`; yields the endpoint URL and the list of requests received."""
    handler = type("Handler", (_Handler,), {"products": products, "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()
