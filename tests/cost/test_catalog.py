"""The price catalog shipped with mlform, and how a refreshed one overlays it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlform.cost.catalog import (
    TABLES,
    check_catalog,
    load_catalog,
    read_catalog_file,
    shipped_path,
)
from mlform.errors import MlformError

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-northeast-1",
           "ap-south-1")


def test_the_shipped_catalog_is_built_from_its_sourced_data() -> None:
    doc = read_catalog_file(shipped_path())
    assert check_catalog(doc) is None
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build-price-catalog"),
                           "--check"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    for source in doc["sources"].values():
        assert source["name"] and source["date"] and source["url"]


@pytest.mark.parametrize("region", REGIONS)
def test_what_components_choose_by_default_is_priced_everywhere(region: str) -> None:
    catalog = load_catalog()
    for table, item in [("ec2", "t3.medium"),          # gpu_cluster system nodes
                        ("ec2", "g4dn.xlarge"),        # T4
                        ("ec2", "p4d.24xlarge"),       # A100:8
                        ("rds_postgres", "db.t4g.micro"),  # experiment_tracker
                        ("fargate", "vcpu"), ("fargate", "memory_gb"),
                        ("eks", "cluster"), ("secretsmanager", "secret")]:
        price = catalog.get(table, region, item)
        assert price is not None and price.usd > 0, (table, region, item)
        assert price.source.date


def test_figures_are_the_sources_figures() -> None:
    catalog = load_catalog()
    g5 = catalog.get("ec2", "us-east-1", "g5.xlarge")
    assert g5 is not None and g5.usd == 1.006 and g5.monthly == pytest.approx(734.38)
    assert g5.source.url is not None and "tsaol/aws-gpu" in g5.source.url
    assert catalog.get("ec2", "us-east-1", "no-such.type") is None


def test_a_refreshed_catalog_wins_price_by_price(tmp_path: Path) -> None:
    (tmp_path / "prices.json").write_text(json.dumps({
        "format": 1, "sources": {"mine": {"name": "my refresh", "date": "2026-11-26"}},
        "prices": {"ec2": {"us-east-1": {"g5.xlarge": [2.0, "mine"]}}}}))
    catalog = load_catalog(str(tmp_path))
    g5 = catalog.get("ec2", "us-east-1", "g5.xlarge")
    assert g5 is not None and (g5.usd, g5.source.id) == (2.0, "mine")
    t3 = catalog.get("ec2", "us-east-1", "t3.medium")
    assert t3 is not None and t3.source.id != "mine"


def test_damaged_catalogs_are_refused_with_the_reason(tmp_path: Path) -> None:
    assert check_catalog({"format": 2}) == "expected format 1"
    bad_entry = {"format": 1, "sources": {}, "prices": {"ec2": {"r": {"x": [1.0, "nope"]}}}}
    assert check_catalog(bad_entry) == "ec2/r/x: expected [usd, source id]"
    assert set(TABLES) >= {"ec2", "sagemaker_hosting", "rds_postgres"}
    (tmp_path / "prices.json").write_text("{not json")
    with pytest.raises(MlformError) as err:
        load_catalog(str(tmp_path))
    assert err.value.message.startswith(f"cannot read the price catalog {tmp_path}/prices.json")
