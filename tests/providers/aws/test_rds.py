"""RDS subnet groups and PostgreSQL instances against a real cloud on loopback.

Most tests run on the session's sandbox. The sandbox makes an instance available at once, so the
tests of the states in between run on `cloud`: a moto server in this process (with the
sandbox's moto patches), whose backend they reach into to set an instance's status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import ValidationError

from mlform.engine.plan import resolve_args
from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.rds import DbInstance, DbSubnetGroup
from mlform.providers.base import ResourceMeta, StackContext
from tests.providers.aws.contract import check_contract

ACCOUNT, REGION = "123456789012", "us-east-1"


def make_network(ec2: Any) -> dict[str, Any]:
    """A VPC with a subnet in each of three Availability Zones, and a security group."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24",
                                 AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
               for i, zone in enumerate("abc")]
    sg = ec2.create_security_group(GroupName=f"db-{vpc}", Description="database",
                                   VpcId=vpc)["GroupId"]
    return {"vpc": vpc, "subnets": subnets, "sg": sg}


@pytest.fixture
def network(boto: Any) -> dict[str, Any]:
    return make_network(boto("ec2"))


def _instance_args(uid: str, **overrides: Any) -> dict[str, Any]:
    return {"identifier": f"pg-{uid}", "engine": "postgres", "instance_class": "db.t4g.micro",
            "allocated_storage": 20, "username": "mlflow", "db_name": "mlflow", **overrides}


def assert_plans_no_change(rtype: type[Any], config: dict[str, Any],
                           attrs: Mapping[str, Any]) -> None:
    """What the planner makes of `config` equals what was read: a plan would show no change."""
    desired = resolve_args(rtype, config, {}, "test", None)
    changed = [f for f in rtype.Args.model_fields if desired[f] != attrs[f]]
    assert not changed, {f: (desired[f], attrs[f]) for f in changed}


# -- aws_db_subnet_group ------------------------------------------------------------------------

def test_subnet_group_contract(aws_session: Any, stack_context: StackContext, uid: str,
                               network: dict[str, Any]) -> None:
    a, b, c = network["subnets"]
    create = {"name": f"db-{uid}", "subnet_ids": [b, a, b], "tags": {"team": "ml"}}
    attrs = check_contract(
        DbSubnetGroup, aws_session, stack_context, create,
        {"name": f"db-{uid}", "subnet_ids": [c, a], "description": "databases",
         "tags": {"team": "platform"}})
    assert attrs["subnet_ids"] == sorted([a, c])
    assert attrs["vpc_id"] == network["vpc"]
    assert attrs["arn"].endswith(f":subgrp:db-{uid}")


def test_subnet_group_name_defaults_to_lower_case() -> None:
    ctx = StackContext(project="MLflow", environment="Prod")
    assert DbSubnetGroup.default_args(ctx, "Main") == {"name": "mlflow-prod-main"}
    assert DbInstance.default_args(ctx, "Tracking_DB") == {"identifier": "mlflow-prod-tracking-db"}
    assert len(DbInstance.default_args(ctx, "x" * 80)["identifier"]) == 63
    with pytest.raises(ValidationError, match="pattern"):
        DbSubnetGroup.Args.model_validate({"name": "Upper", "subnet_ids": ["subnet-1"]})


def test_subnet_group_create_refuses_a_taken_name(
        aws_session: Any, stack_context: StackContext, uid: str, network: dict[str, Any],
        boto: Any) -> None:
    rds = boto("rds")
    rds.create_db_subnet_group(DBSubnetGroupName=f"taken-{uid}",
                               DBSubnetGroupDescription="theirs",
                               SubnetIds=network["subnets"][:2])
    args = DbSubnetGroup.Args.model_validate({"name": f"taken-{uid}",
                                              "subnet_ids": network["subnets"][1:]})
    with pytest.raises(ProviderError, match="DBSubnetGroupAlreadyExists"):
        DbSubnetGroup(aws_session).create(args, ResourceMeta("aws_db_subnet_group.t",
                                                             stack_context))
    theirs = rds.describe_db_subnet_groups(DBSubnetGroupName=f"taken-{uid}")["DBSubnetGroups"]
    assert theirs[0]["DBSubnetGroupDescription"] == "theirs"


def test_subnet_group_create_called_again_finishes_its_own(
        aws_session: Any, stack_context: StackContext, uid: str,
        network: dict[str, Any]) -> None:
    rt = DbSubnetGroup(aws_session)
    meta = ResourceMeta("aws_db_subnet_group.again", stack_context)
    first = rt.create(DbSubnetGroup.Args.model_validate(
        {"name": f"again-{uid}", "subnet_ids": network["subnets"][:2]}), meta)
    args = DbSubnetGroup.Args.model_validate(
        {"name": f"again-{uid}", "subnet_ids": network["subnets"], "tags": {"k": "v"}})
    second = rt.create(args, meta)
    assert second["arn"] == first["arn"]
    assert second["subnet_ids"] == sorted(network["subnets"])
    assert second["tags"] == {"k": "v"}
    rt.delete(second["id"], second)


# -- aws_db_instance ----------------------------------------------------------------------------

def test_instance_contract(aws_session: Any, stack_context: StackContext, uid: str,
                           network: dict[str, Any], boto: Any) -> None:
    group = f"g-{uid}"
    boto("rds").create_db_subnet_group(DBSubnetGroupName=group, DBSubnetGroupDescription="g",
                                       SubnetIds=network["subnets"])
    create = _instance_args(uid, db_subnet_group_name=group,
                            vpc_security_group_ids=[network["sg"]], skip_final_snapshot=True,
                            tags={"team": "ml"})
    attrs = check_contract(
        DbInstance, aws_session, stack_context, create,
        {**create, "instance_class": "db.t4g.small", "allocated_storage": 30,
         "backup_retention_period": 14, "publicly_accessible": True, "apply_immediately": True,
         "tags": {"team": "platform"}})
    assert attrs["instance_class"] == "db.t4g.small"
    assert attrs["engine_version"] is None and attrs["engine_version_actual"]


def test_master_password_must_be_managed_by_rds() -> None:
    with pytest.raises(ValidationError, match="Secrets Manager") as err:
        DbInstance.Args.model_validate(_instance_args("x", manage_master_user_password=False))
    assert "password" in str(err.value)
    assert DbInstance.Args.model_validate(_instance_args("x")).manage_master_user_password


def test_postgres_instance_lifecycle(aws_session: Any, stack_context: StackContext, uid: str,
                                     network: dict[str, Any], boto: Any) -> None:
    meta = ResourceMeta("aws_db_subnet_group.db", stack_context)
    group = DbSubnetGroup(aws_session).create(DbSubnetGroup.Args.model_validate(
        {"name": f"pg-{uid}", "subnet_ids": network["subnets"][:2]}), meta)
    rt = DbInstance(aws_session)
    config = _instance_args(uid, db_subnet_group_name=group["name"],
                            vpc_security_group_ids=[network["sg"]])
    attrs = rt.create(DbInstance.Args.model_validate(config),
                      ResourceMeta("aws_db_instance.db", stack_context))
    ready = rt.wait_ready(attrs)
    assert ready == rt.read(ready["id"], ready)
    assert_plans_no_change(DbInstance, config, ready)
    assert ready["storage_encrypted"] is True and ready["kms_key_id"] is None
    assert ready["port"] == 5432
    assert ready["endpoint"] == f"{ready['address']}:5432"
    # The master password lives in a secret RDS made, which mlform reports but never reads.
    [secret] = ready["master_user_secret"]
    assert secret["secret_arn"].startswith(f"arn:aws:secretsmanager:{REGION}:")
    assert secret["kms_key_id"] and secret["secret_status"] in ("creating", "active")
    described = boto("secretsmanager").describe_secret(SecretId=secret["secret_arn"])
    assert described["ARN"] == secret["secret_arn"]

    # Modified in place, at once.
    bigger = {**config, "instance_class": "db.t4g.small", "apply_immediately": True}
    updated = rt.update(ready["id"], ready, DbInstance.Args.model_validate(bigger),
                        ResourceMeta("aws_db_instance.db", stack_context))
    updated = rt.wait_ready(updated)
    assert updated["arn"] == ready["arn"]
    assert updated["instance_class"] == "db.t4g.small"
    live = boto("rds").describe_db_instances(DBInstanceIdentifier=f"pg-{uid}")["DBInstances"][0]
    assert live["DBInstanceClass"] == "db.t4g.small"
    assert_plans_no_change(DbInstance, bigger, updated)

    # Deleting without saying what becomes of the data is refused, and changes nothing.
    with pytest.raises(ProviderError) as err:
        rt.delete(updated["id"], updated)
    assert "final_snapshot_identifier" in err.value.message
    assert "skip_final_snapshot" in err.value.message
    assert rt.read(updated["id"], updated) is not None

    # Not stored by AWS: an update records it for the delete that follows.
    kept = rt.update(updated["id"], updated, DbInstance.Args.model_validate(
        {**bigger, "final_snapshot_identifier": f"pg-{uid}-final"}),
        ResourceMeta("aws_db_instance.db", stack_context))
    assert kept == {**updated, "final_snapshot_identifier": f"pg-{uid}-final"}
    rt.delete(updated["id"], kept)
    assert rt.read(updated["id"], kept) is None
    snapshots = boto("rds").describe_db_snapshots(DBSnapshotIdentifier=f"pg-{uid}-final")
    assert snapshots["DBSnapshots"][0]["DBInstanceIdentifier"] == f"pg-{uid}"
    DbSubnetGroup(aws_session).delete(group["id"], group)
    assert DbSubnetGroup(aws_session).read(group["id"], group) is None


def test_unset_and_major_versions_plan_no_change(
        aws_session: Any, stack_context: StackContext, uid: str) -> None:
    rt = DbInstance(aws_session)
    config = _instance_args(uid, engine_version="16.3", skip_final_snapshot=True)
    attrs = rt.create(DbInstance.Args.model_validate(config),
                      ResourceMeta("aws_db_instance.v", stack_context))
    assert attrs["engine_version"] == attrs["engine_version_actual"] == "16.3"
    # Nor do the security group AWS picks when none is given.
    assert_plans_no_change(DbInstance, config, attrs)
    for wanted in ("16", None):  # a major version, or AWS's choice
        assert rt.read(attrs["id"], {**attrs, "engine_version": wanted})["engine_version"] \
            == wanted
    assert rt.read(attrs["id"], {**attrs, "engine_version": "15"})["engine_version"] == "16.3"
    rt.delete(attrs["id"], attrs)


def test_instance_create_refuses_a_taken_identifier(
        aws_session: Any, stack_context: StackContext, uid: str, boto: Any) -> None:
    boto("rds").create_db_instance(DBInstanceIdentifier=f"pg-{uid}", Engine="postgres",
                                   DBInstanceClass="db.t4g.micro", AllocatedStorage=10,
                                   MasterUsername="theirs", ManageMasterUserPassword=True)
    with pytest.raises(ProviderError, match="DBInstanceAlreadyExists"):
        DbInstance(aws_session).create(DbInstance.Args.model_validate(_instance_args(uid)),
                                       ResourceMeta("aws_db_instance.t", stack_context))
    live = boto("rds").describe_db_instances(DBInstanceIdentifier=f"pg-{uid}")["DBInstances"]
    assert live[0]["AllocatedStorage"] == 10


@pytest.mark.parametrize("rtype", [DbSubnetGroup, DbInstance])
def test_missing_objects(aws_session: Any, uid: str, rtype: type[Any]) -> None:
    rt = rtype(aws_session)
    assert rt.read(f"missing-{uid}", {}) is None
    rt.delete(f"missing-{uid}", {})  # returns silently


# -- on the in-process cloud --------------------------------------------------------------------

def test_instance_states(cloud: str, stack_context: StackContext, uid: str) -> None:
    from moto.rds.models import rds_backends

    from mlform.providers.aws.session import AwsSession

    rt = DbInstance(AwsSession(stack_context, endpoint_url=cloud))
    attrs = rt.create(DbInstance.Args.model_validate(_instance_args(uid)),
                      ResourceMeta("aws_db_instance.s", stack_context))
    db = rds_backends[ACCOUNT][REGION].databases[f"pg-{uid}"]
    for status in ("creating", "backing-up", "modifying"):
        db.status = status
        with pytest.raises(NotReady, match=status):
            rt.wait_ready(attrs)
    db.status = "storage-optimization"  # usable, as Terraform has it
    assert rt.wait_ready(attrs)["id"] == f"pg-{uid}"
    db.status = "incompatible-parameters"
    with pytest.raises(ProviderError, match="is incompatible-parameters") as err:
        rt.wait_ready(attrs)
    assert not isinstance(err.value, NotReady)
    # Changes RDS holds for the maintenance window read as requested: asking again changes
    # nothing, and only an instance told to apply them at once is waited for.
    db.status = "available"
    db.pending_modified_values = {"DBInstanceClass": "db.t4g.small", "AllocatedStorage": 40}
    pending = rt.read(attrs["id"], attrs)
    assert pending is not None
    assert (pending["instance_class"], pending["allocated_storage"]) == ("db.t4g.small", 40)
    assert rt.wait_ready(pending) == pending
    with pytest.raises(NotReady, match="pending changes to allocated_storage, instance_class"):
        rt.wait_ready({**pending, "apply_immediately": True})
    again = DbInstance.Args.model_validate(_instance_args(uid, instance_class="db.t4g.small",
                                                          allocated_storage=40))
    assert rt.update(attrs["id"], pending, again, ResourceMeta("aws_db_instance.s",
                                                               stack_context)) == pending
    assert db.db_instance_class == "db.t4g.micro"  # no second ModifyDBInstance
    db.pending_modified_values = {}
    db.status = "deleting"
    with pytest.raises(NotReady, match="being deleted"):
        rt.delete(attrs["id"], attrs)  # no final snapshot needed: it is going already
    del rds_backends[ACCOUNT][REGION].databases[f"pg-{uid}"]
    rt.delete(attrs["id"], attrs)
