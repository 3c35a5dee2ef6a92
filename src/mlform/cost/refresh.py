"""`mlform prices refresh`: rebuild the price catalog from the AWS Price List API.

The Price List API (boto3 `pricing`, `GetProducts`) answers with one JSON document per product:
its attributes (instance type, region, usage type) and its terms, of which the on-demand one
holds the price per unit. Each catalog table is one query per region, filtered as narrowly as
the API allows, then picked out by attributes; products are read page by page.

Where one item appears more than once with different prices (the API lists some products twice
under different operations), the higher price is kept: a budget check should not be optimistic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlform.cost.catalog import FORMAT
from mlform.errors import MlformError

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-northeast-1",
           "ap-south-1")


@dataclass(frozen=True)
class Query:
    """How one catalog table is read from the Price List API."""

    table: str
    service: str
    filters: dict[str, str]
    item: Callable[[dict[str, str]], str | None]  # product attributes -> catalog item


def _attr(name: str) -> Callable[[dict[str, str]], str | None]:
    return lambda a: a.get(name) or None


def _usage(patterns: dict[str, str]) -> Callable[[dict[str, str]], str | None]:
    """An item named by which regular expression the usage type matches."""
    compiled = {item: re.compile(p) for item, p in patterns.items()}

    def pick(a: dict[str, str]) -> str | None:
        usage = a.get("usagetype", "")
        return next((item for item, rx in compiled.items() if rx.search(usage)), None)
    return pick


def _sagemaker(kind: str) -> Callable[[dict[str, str]], str | None]:
    rx = re.compile(rf"(?:^|-){kind}:(ml\.[a-z0-9-]+\.[a-z0-9]+)$")

    def pick(a: dict[str, str]) -> str | None:
        m = rx.search(a.get("usagetype", ""))
        return m.group(1) if m else None
    return pick


QUERIES = (
    Query("ec2", "AmazonEC2", {
        "productFamily": "Compute Instance", "operatingSystem": "Linux", "tenancy": "Shared",
        "preInstalledSw": "NA", "capacitystatus": "Used", "licenseModel": "No License required",
    }, _attr("instanceType")),
    # One query serves the three SageMaker tables: instances and storage are told apart by
    # usage type (USE1-Host:ml.g5.xlarge, USE1-Notebk:ml.t3.medium, ...-Notebk:VolumeUsage...).
    Query("sagemaker_hosting", "AmazonSageMaker", {}, _sagemaker("Host")),
    Query("sagemaker_notebook", "AmazonSageMaker", {}, _sagemaker("Notebk")),
    Query("sagemaker_storage", "AmazonSageMaker", {},
          _usage({"ml_storage": r"(?:^|-)Notebk:VolumeUsage"})),
    Query("rds_postgres", "AmazonRDS", {
        "productFamily": "Database Instance", "databaseEngine": "PostgreSQL",
        "deploymentOption": "Single-AZ",
    }, _attr("instanceType")),
    Query("rds_storage", "AmazonRDS", {"productFamily": "Database Storage",
                                       "deploymentOption": "Single-AZ"},
          _usage({"gp2": r"RDS:GP2-Storage$", "gp3": r"RDS:GP3-Storage$"})),
    Query("fargate", "AmazonECS", {}, _usage({
        "vcpu": r"(?:^|-)Fargate-vCPU-Hours:perCPU$", "memory_gb": r"(?:^|-)Fargate-GB-Hours$"})),
    Query("eks", "AmazonEKS", {}, _usage({"cluster": r"(?:^|-)AmazonEKS-Hours:perCluster$"})),
    Query("secretsmanager", "AWSSecretsManager", {},
          _usage({"secret": r"(?:^|-)AWSSecretsManager-Secrets$"})),
    Query("efs_storage", "AmazonEFS", {}, _usage({"standard": r"(?:^|-)TimedStorage-ByteHrs$"})),
)


def pricing_client(profile: str | None = None) -> Any:
    """A Price List API client (it answers from us-east-1 for every region), with botocore's
    adaptive retries; MlformError saying what to do when there are no credentials."""
    import boto3
    import botocore.config
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    try:
        session = boto3.session.Session(profile_name=profile)
        credentials = session.get_credentials()
    except ProfileNotFound as exc:
        raise MlformError(f"{exc} (profiles come from ~/.aws/config and ~/.aws/credentials)"
                          ) from None
    except BotoCoreError as exc:
        raise MlformError(f"cannot read AWS credentials: {exc}") from None
    if credentials is None:
        raise MlformError("the AWS Price List API needs AWS credentials (any account will "
                          "do), and none were found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                          "AWS_SECRET_ACCESS_KEY, run `aws configure` or `aws sso login`, or "
                          "pass --profile")
    config = botocore.config.Config(retries={"mode": "adaptive", "max_attempts": 10},
                                    connect_timeout=10, read_timeout=60)
    return session.client("pricing", region_name="us-east-1", config=config)


def on_demand_usd(product: dict[str, Any]) -> float | None:
    """The on-demand price per unit of one Price List product, or None (free tiers and
    ranges: the first dimension that starts at zero)."""
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            if str(dim.get("beginRange", "0")) not in ("0", "0.0"):
                continue
            usd = (dim.get("pricePerUnit") or {}).get("USD")
            if usd is not None:
                return float(usd)
    return None


def products(client: Any, service: str, filters: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Every product of `service` matching `filters` (TERM_MATCH), page by page."""
    paginator = client.get_paginator("get_products")
    pages = paginator.paginate(
        ServiceCode=service, FormatVersion="aws_v1",
        Filters=[{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()])
    for page in pages:
        for text in page.get("PriceList", []):
            yield json.loads(text) if isinstance(text, str) else text


@dataclass
class RefreshResult:
    catalog: dict[str, Any]
    counts: dict[tuple[str, str], int]  # (table, region) -> items found


def refresh_catalog(client: Any, regions: tuple[str, ...] = REGIONS,
                    on_progress: Callable[[str, str, int], None] | None = None) -> RefreshResult:
    """Query every table in every region; tables the API had nothing for are left out (the
    shipped catalog still answers for them)."""
    today = datetime.now(UTC).date().isoformat()
    prices: dict[str, dict[str, dict[str, list[Any]]]] = {}
    sources: dict[str, dict[str, Any]] = {}
    counts: dict[tuple[str, str], int] = {}
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[Query]] = {}
    for q in QUERIES:  # tables read with the same query share it
        groups.setdefault((q.service, tuple(sorted(q.filters.items()))), []).append(q)
    for (service, filters), queries in groups.items():
        for region in regions:
            found: dict[str, dict[str, float]] = {q.table: {} for q in queries}
            published = ""
            for product in products(client, service, {**dict(filters), "regionCode": region}):
                attrs = product.get("product", {}).get("attributes", {})
                if attrs.get("regionCode", region) != region:
                    continue
                for q in queries:
                    item = q.item(attrs)
                    usd = on_demand_usd(product) if item else None
                    if item is None or usd is None:
                        continue
                    table = found[q.table]
                    table[item] = max(usd, table.get(item, 0.0))
                    published = max(published, str(product.get("publicationDate", ""))[:10])
            sid = f"aws-price-list-{service}-{published or today}"
            for q in queries:
                items = found[q.table]
                counts[(q.table, region)] = len(items)
                if on_progress:
                    on_progress(q.table, region, len(items))
                if not items:
                    continue
                sources[sid] = {"name": f"AWS Price List API ({service}), fetched {today}",
                                "url": "https://pricing.us-east-1.amazonaws.com",
                                "date": published or today}
                prices.setdefault(q.table, {})[region] = {
                    item: [round(usd, 6), sid] for item, usd in sorted(items.items())}
    return RefreshResult({"format": FORMAT, "sources": sources, "prices": prices}, counts)
