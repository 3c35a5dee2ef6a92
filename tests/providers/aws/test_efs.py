"""EFS file systems and mount targets against the sandbox: the provider contract, and the
waits on their lifecycle states (staged on an in-process moto server, `cloud`)."""

from __future__ import annotations

from typing import Any

import pytest

from mlform.errors import NotReady
from mlform.providers.aws.efs import EfsFileSystem, EfsMountTarget
from mlform.providers.base import ResourceMeta, StackContext
from tests.providers.aws.contract import check_contract


def _subnet(ec2: Any, cidr: str = "10.7") -> str:
    vpc = ec2.create_vpc(CidrBlock=f"{cidr}.0.0/16")["Vpc"]["VpcId"]
    return str(ec2.create_subnet(VpcId=vpc, CidrBlock=f"{cidr}.1.0/24",
                                 AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"])


def test_file_system_contract(aws_session: Any, stack_context: StackContext, uid: str) -> None:
    token = f"fs-{uid}"
    attrs = check_contract(
        EfsFileSystem, aws_session, stack_context,
        create={"creation_token": token, "encrypted": True, "tags": {"data": "shared"}},
        update={"creation_token": token, "encrypted": True, "throughput_mode": "elastic",
                "lifecycle_policy": [{"transition_to_ia": "AFTER_30_DAYS"}],
                "tags": {"data": "checkpoints"}})
    assert attrs["throughput_mode"] == "elastic"
    assert attrs["lifecycle_policy"] == [{"transition_to_ia": "AFTER_30_DAYS",
                                          "transition_to_primary_storage_class": None}]
    assert attrs["kms_key_id"]  # AWS's key, chosen for an encrypted file system
    assert attrs["dns_name"] == f"{attrs['id']}.efs.us-east-1.amazonaws.com"


def test_a_create_called_again_carries_on_with_its_file_system(
        aws_session: Any, stack_context: StackContext, uid: str) -> None:
    rt = EfsFileSystem(aws_session)
    args = EfsFileSystem.Args(creation_token=f"fs-{uid}")
    meta = ResourceMeta(address="aws_efs_file_system.data", context=stack_context)
    first = rt.create(args, meta)
    try:
        assert rt.create(args, meta)["id"] == first["id"]  # the token: no second file system
    finally:
        rt.delete(first["id"], first)


def test_mount_target_contract(aws_session: Any, boto: Any, stack_context: StackContext,
                               uid: str) -> None:
    subnet = _subnet(boto("ec2"))
    fs = EfsFileSystem(aws_session)
    made = fs.create(EfsFileSystem.Args(creation_token=f"fs-{uid}"),
                     ResourceMeta(address="aws_efs_file_system.data", context=stack_context))
    try:
        attrs = check_contract(
            EfsMountTarget, aws_session, stack_context,
            create={"file_system_id": made["id"], "subnet_id": subnet}, taggable=False)
        assert attrs["ip_address"].startswith("10.7.1.")
        assert attrs["dns_name"] == made["dns_name"]
        assert attrs["mount_target_dns_name"] == f"us-east-1a.{made['dns_name']}"
    finally:
        fs.delete(made["id"], made)


def test_mount_target_and_file_system_wait_until_available(
        cloud_session: Any, cloud: str, stack_context: StackContext, uid: str) -> None:
    import boto3
    from moto.efs.models import efs_backends

    ec2 = boto3.client("ec2", endpoint_url=cloud, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    subnet = _subnet(ec2, "10.8")
    fs = EfsFileSystem(cloud_session)
    made = fs.create(EfsFileSystem.Args(creation_token=f"fs-{uid}"),
                     ResourceMeta(address="aws_efs_file_system.data", context=stack_context))
    backend = efs_backends["123456789012"]["us-east-1"]
    backend.file_systems_by_id[made["id"]].life_cycle_state = "creating"
    with pytest.raises(NotReady, match="creating"):
        fs.wait_ready(made)
    backend.file_systems_by_id[made["id"]].life_cycle_state = "available"
    assert fs.wait_ready(made)["id"] == made["id"]

    mt = EfsMountTarget(cloud_session)
    target = mt.create(EfsMountTarget.Args(file_system_id=made["id"], subnet_id=subnet),
                       ResourceMeta(address="aws_efs_mount_target.a", context=stack_context))
    live = backend.mount_targets_by_id[target["id"]]
    live.life_cycle_state = "creating"
    with pytest.raises(NotReady, match="creating"):
        mt.wait_ready(target)
    live.life_cycle_state = "available"
    assert mt.wait_ready(target)["ip_address"] == target["ip_address"]
    mt.delete(target["id"], target)
    fs.delete(made["id"], made)
    assert fs.read(made["id"], made) is None
