"""GPU requests (`gpu: "A100:8"`) resolved to instance types the region offers.

The EC2 API says which instance types carry which GPUs (DescribeInstanceTypes) and which are
offered where (DescribeInstanceTypeOfferings); the sandbox answers both from real AWS data.
Among the types that match exactly (GPU model, count and, if asked, memory per GPU), the
cheapest is chosen when the price catalog prices them all in the region; otherwise the one with
the least GPU memory, then the fewest vCPUs: the smallest machine that meets the request.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlform.errors import MlformError

_SPEC = re.compile(r"^\s*([A-Za-z0-9]+)(?:-(\d+)\s*GB)?\s*(?::\s*(\d+))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class GpuRequest:
    model: str
    count: int = 1
    memory_gib: int | None = None  # per GPU

    def __str__(self) -> str:
        memory = f"-{self.memory_gib}GB" if self.memory_gib else ""
        return f"{self.model}{memory}:{self.count}"


def parse_gpu(value: Any) -> GpuRequest:
    """`"A100:8"`, `"A100-80GB:8"`, `"T4"` or `{type: H100, count: 8, memory_gib: 80}`."""
    if isinstance(value, dict):
        unknown = set(value) - {"type", "count", "memory_gib"}
        if unknown or "type" not in value:
            raise ValueError("gpu as a mapping takes `type`, `count` and `memory_gib`")
        count = value.get("count", 1)
        memory = value.get("memory_gib")
        if not isinstance(count, int) or count < 1:
            raise ValueError("gpu.count must be a positive integer")
        return GpuRequest(str(value["type"]).upper(), count,
                          memory if isinstance(memory, int) else None)
    if isinstance(value, str):
        m = _SPEC.match(value)
        if m:
            model, memory, count = m.groups()
            return GpuRequest(model.upper(), int(count or 1), int(memory) if memory else None)
    raise ValueError(f"gpu: expected MODEL[:COUNT] such as \"A100:8\" or \"A10G\", or "
                     f"{{type: H100, count: 8}}, got {value!r}")


@dataclass(frozen=True)
class GpuType:
    """An instance type with GPUs, as DescribeInstanceTypes reports it."""

    name: str
    model: str
    count: int
    memory_mib: int  # all GPUs together
    vcpus: int

    def matches(self, request: GpuRequest) -> bool:
        if self.model.upper() != request.model or self.count != request.count:
            return False
        if request.memory_gib is None:
            return True
        return round(self.memory_mib / self.count / 1024) == request.memory_gib


CACHE_SECONDS = 24 * 3600


class GpuCatalog:
    """What EC2 says about GPU instance types, per region.

    DescribeInstanceTypes lists every instance type (about 900, several pages: seconds per
    region on AWS and on the sandbox alike), and what a type is (its GPUs, their memory, its
    vCPUs) does not change. So the GPU types are kept in `cache_dir` for a day, per endpoint and
    region; a type launched since shows up within a day (`mlform.lock` pins the choice in any
    case). Whether a type is offered in the region is always asked live (one filtered call)."""

    def __init__(self, ec2: Callable[[str], Any], cache_dir: Path | None = None) -> None:
        self._ec2 = ec2  # region -> boto3 EC2 client
        self._cache_dir = cache_dir
        self._types: dict[str, dict[str, GpuType]] = {}
        self._offered: dict[tuple[str, str], bool] = {}

    def types(self, region: str) -> dict[str, GpuType]:
        if region not in self._types:
            client = self._ec2(region)
            cache = self._cache_file(client, region)
            found = _read_cache(cache)
            if found is None:
                found = {}
                for page in client.get_paginator("describe_instance_types").paginate():
                    for it in page["InstanceTypes"]:
                        gpus = (it.get("GpuInfo") or {}).get("Gpus") or []
                        if gpus:
                            found[it["InstanceType"]] = GpuType(
                                it["InstanceType"], gpus[0]["Name"],
                                sum(g["Count"] for g in gpus),
                                int(it["GpuInfo"].get("TotalGpuMemoryInMiB", 0)),
                                int(it["VCpuInfo"]["DefaultVCpus"]))
                _write_cache(cache, found)
            self._types[region] = found
        return self._types[region]

    def _cache_file(self, client: Any, region: str) -> Path | None:
        if self._cache_dir is None:
            return None
        endpoint = str(getattr(client.meta, "endpoint_url", "") or "")
        key = hashlib.sha256(f"{endpoint}|{region}".encode()).hexdigest()[:16]
        return self._cache_dir / f"{region}-{key}.json"

    def offered(self, region: str, names: list[str]) -> set[str]:
        missing = [n for n in names if (region, n) not in self._offered]
        if missing:
            answer = self._ec2(region).describe_instance_type_offerings(
                LocationType="region", Filters=[{"Name": "instance-type", "Values": missing}])
            offered = {o["InstanceType"] for o in answer["InstanceTypeOfferings"]}
            for name in missing:
                self._offered[(region, name)] = name in offered
        return {n for n in names if self._offered[(region, n)]}

    def regions(self) -> list[str]:
        import boto3

        return boto3.session.Session().get_available_regions("ec2")


def _read_cache(path: Path | None) -> dict[str, GpuType] | None:
    """The cached GPU types, or None when there is no cache, it is older than a day, or it
    cannot be read (it is then simply fetched again)."""
    if path is None:
        return None
    try:
        if time.time() - path.stat().st_mtime > CACHE_SECONDS:
            return None
        rows = json.loads(path.read_text(encoding="utf-8"))
        return {r[0]: GpuType(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows}
    except (OSError, ValueError, TypeError, IndexError):
        return None


def _write_cache(path: Path | None, types: dict[str, GpuType]) -> None:
    if path is None:
        return
    rows = [[t.name, t.model, t.count, t.memory_mib, t.vcpus] for t in types.values()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(rows), encoding="utf-8")
        os.replace(tmp, path)  # readers see the old file or the new one, whole
    except OSError:
        pass  # a cache that cannot be written only costs the next run the lookup


def unpinned(pin: Any, request: GpuRequest) -> str:
    """How a lock's note names a request its `gpu` pin does not hold."""
    had = pin.get("request") if isinstance(pin, dict) else None
    return f"gpu {request}" + (f" (the lock pins {had})" if had else "")


def pinned_type(pin: Any, request: GpuRequest) -> str | None:
    """The instance type a lock's `gpu` pin gives `request`; None when it has none, or one
    made for another request (the config changed since: resolved again)."""
    if isinstance(pin, dict) and pin.get("request") == str(request):
        return str(pin["instance_type"])
    return None


def resolve(request: GpuRequest, catalog: GpuCatalog, region: str,
            price: Callable[[str], float | None] | None = None) -> tuple[str, list[str]]:
    """The instance type to use for `request` in `region`, and every type that would do, in
    order of preference. `price` (instance type -> USD per hour, or None) ranks them by cost
    when it knows every one's price.

    Raises MlformError naming the regions where the GPU is offered and the nearest choices in
    this region when nothing here matches."""
    types = catalog.types(region)
    candidates = [t for t in types.values() if t.matches(request)]
    offered = catalog.offered(region, [t.name for t in candidates]) if candidates else set()
    usable = sorted((t for t in candidates if t.name in offered),
                    key=lambda t: (t.memory_mib, t.vcpus, t.name))
    if price is not None:
        prices = {t.name: price(t.name) for t in usable}
        if all(p is not None for p in prices.values()):
            usable.sort(key=lambda t: prices[t.name] or 0.0)  # stable: ties stay smallest-first
    if usable:
        return usable[0].name, [t.name for t in usable]
    raise MlformError(_no_match(request, catalog, region, candidates))


def _no_match(request: GpuRequest, catalog: GpuCatalog, region: str,
              candidates: list[GpuType]) -> str:
    message = f"no instance type with {request} is offered in {region}"
    if candidates:
        names = sorted(t.name for t in candidates)
        where = [r for r in catalog.regions()
                 if r != region and _safe_offered(catalog, r, names)]
        if where:
            message += f"; {', '.join(names)} {'is' if len(names) == 1 else 'are'} offered in "
            message += ", ".join(sorted(where))
    same_model = sorted({(t.count, t.name) for t in catalog.types(region).values()
                         if t.model.upper() == request.model})
    if same_model:
        offered = catalog.offered(region, [n for _, n in same_model])
        counts = sorted({c for c, n in same_model if n in offered})
        if counts:
            message += (f"; here, {request.model} comes {' or '.join(map(str, counts))} per "
                        "instance")
    others = sorted({t.model for t in catalog.types(region).values()
                     if t.count == request.count and t.model.upper() != request.model})
    if others:
        message += f"; other GPUs {request.count} per instance here: {', '.join(others)}"
    return message


def _safe_offered(catalog: GpuCatalog, region: str, names: list[str]) -> bool:
    try:
        return bool(catalog.offered(region, names))
    except Exception:  # a region this account cannot call (opt-in) is simply not listed
        return False
