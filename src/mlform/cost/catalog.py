"""The price catalog: AWS on-demand list prices, each with where it came from and when.

mlform ships a catalog (`prices.json` next to this module); `mlform prices refresh` writes a newer
one to `$MLFORM_HOME/prices.json` from the AWS Price List API. Both are read, the refreshed one
winning entry by entry, so a refresh that covered fewer regions still leaves the shipped prices
for the others. A price that is in neither is *missing*: the estimate says "unknown", never $0.

File shape (one table per kind of price, then region, then item):

    {"format": 1, "sources": {"<id>": {"name": ..., "url": ..., "date": "YYYY-MM-DD"}},
     "prices": {"ec2": {"us-east-1": {"g5.xlarge": [1.006, "<id>"], ...}}, ...}}
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mlform.errors import MlformError

FORMAT = 1
HOURS_PER_MONTH = 730  # AWS's own convention for monthly figures

# What each table prices, and per what unit (a table not listed here is rejected on load).
TABLES: dict[str, tuple[str, str]] = {
    "ec2": ("EC2 instance, Linux, shared tenancy", "hour"),
    "sagemaker_hosting": ("SageMaker real-time inference instance", "hour"),
    "sagemaker_notebook": ("SageMaker notebook instance", "hour"),
    "sagemaker_storage": ("SageMaker ML storage (notebook and endpoint volumes)", "GB-month"),
    "rds_postgres": ("RDS for PostgreSQL instance, single-AZ", "hour"),
    "rds_storage": ("RDS storage, single-AZ", "GB-month"),
    "fargate": ("Fargate, Linux/x86 (vcpu, memory_gb)", "hour"),
    "eks": ("EKS cluster control plane", "hour"),
    "secretsmanager": ("Secrets Manager secret", "month"),
    "efs_storage": ("EFS storage (standard: Standard storage class)", "GB-month"),
    "elb": ("Elastic Load Balancing, per load balancer-hour and per LCU-hour (alb_hour, "
            "alb_lcu)", "hour"),
    "vpc": ("VPC: NAT gateway, interface endpoint per subnet, public IPv4 address", "hour"),
}


@dataclass(frozen=True)
class Source:
    id: str
    name: str
    date: str
    url: str | None = None


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str  # "hour", "GB-month" or "month"
    source: Source

    @property
    def monthly(self) -> float:
        """USD per month for one unit running all month (GB-month and month prices as they are)."""
        return self.usd * HOURS_PER_MONTH if self.unit == "hour" else self.usd


class PriceCatalog:
    """Prices by table, region and item, with their sources.

    `version` is a digest of the layers' contents: `mlform lock` pins it, because prices rank
    the GPU types a component may choose and make the plan's estimate."""

    def __init__(self, layers: list[dict[str, Any]]) -> None:
        self._prices: dict[tuple[str, str, str], Price] = {}
        self.sources: dict[str, Source] = {}
        canonical = json.dumps(layers, sort_keys=True, separators=(",", ":"))
        self.version = "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
        for doc in layers:  # later layers win
            sources = {sid: Source(sid, s["name"], s["date"], s.get("url"))
                       for sid, s in doc["sources"].items()}
            self.sources.update(sources)
            for table, regions in doc["prices"].items():
                unit = TABLES[table][1]
                for region, items in regions.items():
                    for item, (usd, sid) in items.items():
                        self._prices[(table, region, item)] = Price(float(usd), unit,
                                                                    sources[sid])

    def get(self, table: str, region: str, item: str) -> Price | None:
        return self._prices.get((table, region, item))

    def items(self, table: str, region: str) -> dict[str, Price]:
        return {i: p for (t, r, i), p in self._prices.items() if t == table and r == region}

    def regions(self, table: str) -> set[str]:
        return {r for (t, r, _) in self._prices if t == table}

    def __len__(self) -> int:
        return len(self._prices)


def shipped_path() -> Path:
    return Path(str(resources.files("mlform.cost").joinpath("prices.json")))


def refreshed_path(home: str | None = None) -> Path:
    """Where `mlform prices refresh` writes: `$MLFORM_HOME/prices.json`."""
    base = home or os.environ.get("MLFORM_HOME") or Path.home() / ".mlform"
    return Path(base) / "prices.json"


def read_catalog_file(path: Path) -> dict[str, Any]:
    """A catalog file, checked; MlformError naming the file if it is not one."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MlformError(f"cannot read the price catalog {path}: {exc}") from None
    problem = check_catalog(doc)
    if problem:
        raise MlformError(f"{path} is not a price catalog mlform can read: {problem} "
                          f"(delete it, or run `mlform prices refresh` again)")
    return dict(doc)


def check_catalog(doc: Any) -> str | None:
    """What is wrong with a catalog document, or None."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return f"expected format {FORMAT}"
    sources, prices = doc.get("sources"), doc.get("prices")
    if not isinstance(sources, dict) or not isinstance(prices, dict):
        return "expected `sources` and `prices` mappings"
    for sid, s in sources.items():
        if not isinstance(s, dict) or not isinstance(s.get("name"), str) \
                or not isinstance(s.get("date"), str):
            return f"source {sid!r} needs a name and a date"
    for table, regions in prices.items():
        if table not in TABLES:
            return f"unknown price table {table!r}"
        for region, items in regions.items():
            for item, entry in items.items():
                if not (isinstance(entry, list) and len(entry) == 2
                        and isinstance(entry[0], int | float) and entry[0] >= 0
                        and entry[1] in sources):
                    return f"{table}/{region}/{item}: expected [usd, source id]"
    return None


def load_catalog(home: str | None = None) -> PriceCatalog:
    """The shipped catalog, overlaid by a refreshed one if `mlform prices refresh` made one."""
    layers = [read_catalog_file(shipped_path())]
    refreshed = refreshed_path(home)
    if refreshed.exists():
        layers.append(read_catalog_file(refreshed))
    return PriceCatalog(layers)
