"""SageMaker notebooks, pipelines and feature groups against a real cloud on loopback.

Most tests run on the session's sandbox. The sandbox changes a notebook's or a feature group's
status at once, so the tests of transitional and failed states run on `cloud`: a moto server in
this process (with the sandbox's moto patches), whose backend they reach into to set a status.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import ValidationError

from mlform.engine.calls import call_with_wait
from mlform.engine.plan import resolve_args
from mlform.errors import ConfigError, NotReady, ProviderError
from mlform.providers.aws.sagemaker_mlops import SagemakerFeatureGroup, SagemakerPipeline
from mlform.providers.aws.sagemaker_platform import (
    SagemakerNotebookInstance,
    SagemakerNotebookInstanceLifecycleConfiguration,
)
from mlform.providers.base import ResourceMeta, StackContext
from mlform.providers.schema import fill_defaults, forced_paths
from mlform.values import UNKNOWN
from tests.providers.aws.contract import check_contract

ACCOUNT, REGION = "123456789012", "us-east-1"
DEFINITION = {"Version": "2020-12-01", "Metadata": {}, "Parameters": [],
              "Steps": [{"Name": "Train", "Type": "Training", "Arguments": {"a": 1, "b": [2]}}]}
FEATURES = [{"feature_name": "customer_id", "feature_type": "String"},
            {"feature_name": "event_time", "feature_type": "Fractional"},
            {"feature_name": "orders", "feature_type": "Integral"}]


def b64(script: str) -> str:
    return base64.b64encode(script.encode()).decode()


@pytest.fixture
def role_arn(boto: Any, uid: str) -> str:
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    role = boto("iam").create_role(RoleName=f"platform-{uid}",
                                   AssumeRolePolicyDocument=json.dumps(policy))
    return str(role["Role"]["Arn"])


def _notebook(uid: str, role: str, **overrides: Any) -> dict[str, Any]:
    return {"name": f"nb-{uid}", "role_arn": role, "instance_type": "ml.t3.medium", **overrides}


def _pipeline(uid: str, role: str, definition: Any = None, **overrides: Any) -> dict[str, Any]:
    return SagemakerPipeline.complete_args({
        "pipeline_name": f"pl-{uid}", "role_arn": role,
        "pipeline_definition": DEFINITION if definition is None else definition, **overrides})


def _feature_group(uid: str, role: str, **overrides: Any) -> dict[str, Any]:
    return {"feature_group_name": f"fg-{uid}", "role_arn": role,
            "record_identifier_feature_name": "customer_id",
            "event_time_feature_name": "event_time", "feature_definition": FEATURES,
            "online_store_config": {"enable_online_store": True}, **overrides}


# -- the provider contract, on the sandbox ----------------------------------------------------

def test_lifecycle_configuration_contract(aws_session: Any, stack_context: StackContext,
                                          uid: str) -> None:
    name = f"lc-{uid}"
    attrs = check_contract(
        SagemakerNotebookInstanceLifecycleConfiguration, aws_session, stack_context,
        create={"name": name, "on_create": b64("pip install -r requirements.txt\n")},
        update={"name": name, "on_start": b64("echo started\n")}, taggable=False)
    assert attrs["on_create"] is None  # removed by the update
    assert attrs["arn"].endswith(f":notebook-instance-lifecycle-config/{name}")


def test_notebook_instance_contract(aws_session: Any, stack_context: StackContext, uid: str,
                                    role_arn: str, boto: Any) -> None:
    ec2 = boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    groups = [ec2.create_security_group(GroupName=f"nb-{uid}-{i}", Description="notebook",
                                        VpcId=vpc)["GroupId"] for i in range(2)]
    boto("sagemaker").create_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName=f"nlc-{uid}", OnStart=[{"Content": b64("true")}])
    create = _notebook(uid, role_arn, direct_internet_access="Disabled", subnet_id=subnet,
                       security_groups=[groups[1], groups[0], groups[1]], volume_size=20,
                       root_access="Disabled", lifecycle_config_name=f"nlc-{uid}",
                       kms_key_id=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uid}",
                       tags={"team": "ml"})
    attrs = check_contract(SagemakerNotebookInstance, aws_session, stack_context, create,
                           {**create, "tags": {"team": "research", "cost-center": "42"}})
    assert attrs["security_groups"] == sorted(groups)  # a set
    assert attrs["url"] == f"nb-{uid}.notebook.{REGION}.sagemaker.aws"
    assert attrs["tags"] == {"team": "research", "cost-center": "42"}


def test_pipeline_contract(aws_session: Any, stack_context: StackContext, uid: str,
                           role_arn: str) -> None:
    create = _pipeline(uid, role_arn, pipeline_description="Trains the model",
                       tags={"team": "ml"})
    changed = {**DEFINITION, "Parameters": [{"Name": "Epochs", "Type": "Integer"}]}
    attrs = check_contract(
        SagemakerPipeline, aws_session, stack_context, create,
        {**create, "pipeline_definition": changed, "pipeline_display_name": f"Training-{uid}",
         "tags": {}})
    assert json.loads(attrs["pipeline_definition"]) == changed
    assert attrs["pipeline_display_name"] == f"Training-{uid}"


def test_feature_group_contract(aws_session: Any, stack_context: StackContext, uid: str,
                                role_arn: str, boto: Any) -> None:
    boto("s3").create_bucket(Bucket=f"features-{uid}")
    create = _feature_group(uid, role_arn, description="Orders per customer", tags={"a": "b"},
                            offline_store_config={"s3_storage_config": {
                                "s3_uri": f"s3://features-{uid}/offline",
                                "kms_key_id": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uid}"},
                                "disable_glue_table_creation": True})
    attrs = check_contract(SagemakerFeatureGroup, aws_session, stack_context, create,
                           {**create, "tags": {"a": "c"}})
    assert attrs["online_store_config"] == {"enable_online_store": True}
    assert attrs["feature_definition"][2] == {"feature_name": "orders",
                                              "feature_type": "Integral"}


@pytest.mark.parametrize("rtype", [SagemakerNotebookInstanceLifecycleConfiguration,
                                   SagemakerNotebookInstance, SagemakerPipeline,
                                   SagemakerFeatureGroup])
def test_missing_objects(aws_session: Any, uid: str, rtype: type[Any]) -> None:
    rt = rtype(aws_session)
    assert rt.read(f"missing-{uid}", {}) is None
    rt.delete(f"missing-{uid}", {})  # returns silently


# -- notebook instances ------------------------------------------------------------------------

def _waits(fn: Any) -> tuple[Any, list[str]]:
    """Call `fn` as the engine does, waiting on NotReady; return its result and the waits."""
    seen: list[str] = []
    result = call_with_wait(fn, timeout=60, on_wait=lambda reason, _t: seen.append(reason))
    return result, seen


def test_instance_type_changes_in_place_through_stop_and_start(
        aws_session: Any, stack_context: StackContext, uid: str, role_arn: str,
        boto: Any) -> None:
    rt = SagemakerNotebookInstance(aws_session)
    meta = ResourceMeta("aws_sagemaker_notebook_instance.nb", stack_context)
    args = SagemakerNotebookInstance.Args.model_validate(_notebook(uid, role_arn))
    attrs, _ = _waits(lambda: rt.wait_ready(rt.create(args, meta)))
    bigger = args.model_copy(update={"instance_type": "ml.t3.large", "volume_size": 10})
    updated, waits = _waits(lambda: rt.update(attrs["id"], attrs, bigger, meta))
    assert [w.split(": ", 1)[-1] for w in waits] == [
        "stopping it to change instance_type, volume_size; it is started again afterwards",
        "updating", f"notebook instance nb-{uid} updated; starting it again"]
    live = boto("sagemaker").describe_notebook_instance(NotebookInstanceName=f"nb-{uid}")
    assert (live["InstanceType"], live["VolumeSizeInGB"]) == ("ml.t3.large", 10)
    assert live["NotebookInstanceStatus"] == "InService"
    assert updated["arn"] == attrs["arn"] and updated["instance_type"] == "ml.t3.large"
    assert rt.wait_ready(updated) == updated == rt.read(updated["id"], updated)
    # Tags alone change on the running instance: no stop.
    tagged, waits = _waits(lambda: rt.update(attrs["id"], updated, bigger.model_copy(
        update={"tags": {"team": "ml"}}), meta))
    assert waits == [] and tagged["tags"] == {"team": "ml"}
    _waits(lambda: rt.delete(attrs["id"], tagged))
    assert rt.read(attrs["id"], tagged) is None


def test_a_stopped_notebook_is_updated_and_stays_stopped(
        aws_session: Any, stack_context: StackContext, uid: str, role_arn: str,
        boto: Any) -> None:
    rt = SagemakerNotebookInstance(aws_session)
    meta = ResourceMeta("aws_sagemaker_notebook_instance.nb", stack_context)
    args = SagemakerNotebookInstance.Args.model_validate(_notebook(uid, role_arn))
    attrs = rt.create(args, meta)
    boto("sagemaker").stop_notebook_instance(NotebookInstanceName=f"nb-{uid}")
    changed = args.model_copy(update={"root_access": "Disabled"})
    updated, waits = _waits(lambda: rt.update(attrs["id"], attrs, changed, meta))
    assert waits == [f"notebook instance nb-{uid}: updating"]
    assert updated["root_access"] == "Disabled"
    assert rt.wait_ready(updated) == updated  # stopped is settled, not started
    live = boto("sagemaker").describe_notebook_instance(NotebookInstanceName=f"nb-{uid}")
    assert live["NotebookInstanceStatus"] == "Stopped"
    rt.delete(attrs["id"], updated)
    assert rt.read(attrs["id"], updated) is None


def test_a_volume_cannot_shrink_and_nothing_is_stopped(
        aws_session: Any, stack_context: StackContext, uid: str, role_arn: str,
        boto: Any) -> None:
    rt = SagemakerNotebookInstance(aws_session)
    meta = ResourceMeta("aws_sagemaker_notebook_instance.nb", stack_context)
    args = SagemakerNotebookInstance.Args.model_validate(_notebook(uid, role_arn,
                                                                   volume_size=50))
    attrs = rt.create(args, meta)
    with pytest.raises(ProviderError, match=r"volume_size cannot shrink \(50 GB to 20 GB\)"):
        rt.update(attrs["id"], attrs, args.model_copy(update={"volume_size": 20}), meta)
    live = boto("sagemaker").describe_notebook_instance(NotebookInstanceName=f"nb-{uid}")
    assert live["NotebookInstanceStatus"] == "InService"
    rt.delete(attrs["id"], attrs)


def test_no_internet_access_needs_a_subnet(role_arn: str, uid: str) -> None:
    config = _notebook(uid, role_arn, direct_internet_access="Disabled")
    with pytest.raises(ValidationError) as err:
        SagemakerNotebookInstance.Args.model_validate(config)
    assert [e["loc"] for e in err.value.errors()] == [("subnet_id",)]
    with pytest.raises(ConfigError) as cfg:
        resolve_args(SagemakerNotebookInstance, config, {}, "aws_sagemaker_notebook_instance.n",
                     None)
    assert ("aws_sagemaker_notebook_instance.n.subnet_id: required when "
            "direct_internet_access is Disabled") in str(cfg.value)
    ok = SagemakerNotebookInstance.Args.model_validate({**config, "subnet_id": "subnet-1"})
    assert ok.subnet_id == "subnet-1"
    assert SagemakerNotebookInstance.Args.model_validate(_notebook(uid, role_arn)).subnet_id is None


def test_create_refuses_a_taken_notebook_name(aws_session: Any, stack_context: StackContext,
                                              uid: str, role_arn: str, boto: Any) -> None:
    sm = boto("sagemaker")
    sm.create_notebook_instance(NotebookInstanceName=f"nb-{uid}", InstanceType="ml.t2.medium",
                                RoleArn=role_arn)
    args = SagemakerNotebookInstance.Args.model_validate(_notebook(uid, role_arn))
    with pytest.raises(ProviderError, match="already exists"):
        SagemakerNotebookInstance(aws_session).create(
            args, ResourceMeta("aws_sagemaker_notebook_instance.nb", stack_context))
    live = sm.describe_notebook_instance(NotebookInstanceName=f"nb-{uid}")
    assert live["InstanceType"] == "ml.t2.medium"


def test_create_again_finishes_our_own_notebook(aws_session: Any, stack_context: StackContext,
                                                uid: str, role_arn: str) -> None:
    rt = SagemakerNotebookInstance(aws_session)
    meta = ResourceMeta("aws_sagemaker_notebook_instance.nb", stack_context)
    args = SagemakerNotebookInstance.Args.model_validate(_notebook(uid, role_arn))
    first = rt.create(args, meta)
    tagged = args.model_copy(update={"tags": {"team": "ml"}})
    again = rt.create(tagged, meta)  # after a crash between create and recording it
    assert again["arn"] == first["arn"] and again["tags"] == {"team": "ml"}
    rt.delete(again["id"], again)


# -- pipelines ---------------------------------------------------------------------------------

def test_pipeline_definition_mapping_and_json_compare_equal(role_arn: str, uid: str) -> None:
    reordered = {"Steps": DEFINITION["Steps"], "Parameters": [], "Metadata": {},
                 "Version": "2020-12-01"}
    text = json.dumps(reordered, indent=4)
    as_mapping, as_text = _pipeline(uid, role_arn), _pipeline(uid, role_arn, text)
    parse = SagemakerPipeline.Args.model_validate
    assert parse(as_mapping).model_dump() == parse(as_text).model_dump()
    where = "aws_sagemaker_pipeline.p"
    assert (resolve_args(SagemakerPipeline, as_mapping, {}, where, None)
            == resolve_args(SagemakerPipeline, as_text, {}, where, None))
    # Field by field too, as the planner normalises arguments that hold unknown values.
    partial = [fill_defaults(SagemakerPipeline.Args, {**a, "role_arn": UNKNOWN})
               for a in (as_mapping, as_text)]
    assert partial[0]["pipeline_definition"] == partial[1]["pipeline_definition"]
    assert json.loads(partial[0]["pipeline_definition"]) == DEFINITION
    with pytest.raises(ValidationError, match="not valid JSON"):
        parse(_pipeline(uid, role_arn, "{not json"))
    assert parse(as_mapping).pipeline_display_name == f"pl-{uid}"
    assert _pipeline(uid, role_arn)["pipeline_display_name"] == f"pl-{uid}"
    assert SagemakerPipeline.complete_args({"pipeline_name": UNKNOWN})[
        "pipeline_display_name"] is UNKNOWN


def test_pipeline_definition_change_updates_in_place(
        aws_session: Any, stack_context: StackContext, uid: str, role_arn: str,
        boto: Any) -> None:
    rt = SagemakerPipeline(aws_session)
    meta = ResourceMeta("aws_sagemaker_pipeline.p", stack_context)
    updates: list[dict[str, Any]] = []
    rt.client.meta.events.register("provide-client-params.sagemaker.UpdatePipeline",
                                   lambda params, **_: updates.append(dict(params)))
    attrs = rt.create(SagemakerPipeline.Args.model_validate(_pipeline(uid, role_arn)), meta)
    created = boto("sagemaker").describe_pipeline(PipelineName=f"pl-{uid}")["CreationTime"]
    same = json.dumps({k: DEFINITION[k] for k in reversed(list(DEFINITION))})
    unchanged = rt.update(attrs["id"], attrs, SagemakerPipeline.Args.model_validate(
        _pipeline(uid, role_arn, same)), meta)
    assert unchanged == attrs and updates == []
    changed = {**DEFINITION, "Steps": [{"Name": "Train", "Type": "Training"}]}
    updated = rt.update(attrs["id"], attrs, SagemakerPipeline.Args.model_validate(
        _pipeline(uid, role_arn, changed)), meta)
    assert [set(u) for u in updates] == [{"PipelineName", "PipelineDefinition"}]
    live = boto("sagemaker").describe_pipeline(PipelineName=f"pl-{uid}")
    assert json.loads(live["PipelineDefinition"]) == changed
    assert live["CreationTime"] == created and updated["arn"] == attrs["arn"]
    rt.delete(attrs["id"], updated)


def test_create_refuses_a_taken_pipeline_name(aws_session: Any, stack_context: StackContext,
                                              uid: str, role_arn: str, boto: Any) -> None:
    boto("sagemaker").create_pipeline(PipelineName=f"pl-{uid}", RoleArn=role_arn,
                                      PipelineDefinition=json.dumps({"theirs": True}))
    args = SagemakerPipeline.Args.model_validate(_pipeline(uid, role_arn))
    with pytest.raises(ProviderError, match="already exists"):
        SagemakerPipeline(aws_session).create(args, ResourceMeta("aws_sagemaker_pipeline.p",
                                                                 stack_context))
    live = boto("sagemaker").describe_pipeline(PipelineName=f"pl-{uid}")
    assert json.loads(live["PipelineDefinition"]) == {"theirs": True}


# -- feature groups ----------------------------------------------------------------------------

def test_feature_group_with_an_offline_store_reaches_created(
        aws_session: Any, stack_context: StackContext, uid: str, role_arn: str,
        boto: Any) -> None:
    boto("s3").create_bucket(Bucket=f"offline-{uid}")
    rt = SagemakerFeatureGroup(aws_session)
    args = SagemakerFeatureGroup.Args.model_validate(_feature_group(
        uid, role_arn, online_store_config=None, offline_store_config={
            "s3_storage_config": {"s3_uri": f"s3://offline-{uid}/store"}}))
    attrs = rt.create(args, ResourceMeta("aws_sagemaker_feature_group.f", stack_context))
    ready, _ = _waits(lambda: rt.wait_ready(attrs))
    assert ready == attrs == rt.read(attrs["id"], attrs)
    live = boto("sagemaker").describe_feature_group(FeatureGroupName=f"fg-{uid}")
    assert live["FeatureGroupStatus"] == "Created"
    assert live["OfflineStoreConfig"]["S3StorageConfig"]["S3Uri"] == f"s3://offline-{uid}/store"
    assert attrs["offline_store_config"] == {
        "s3_storage_config": {"s3_uri": f"s3://offline-{uid}/store", "kms_key_id": None},
        "disable_glue_table_creation": False}
    assert attrs["online_store_config"] is None
    _waits(lambda: rt.delete(attrs["id"], attrs))
    assert rt.read(attrs["id"], attrs) is None


def test_features_are_added_in_place_and_only_removals_replace(
        aws_session: Any, stack_context: StackContext, uid: str, role_arn: str,
        boto: Any) -> None:
    # Terraform replaces the group to add a feature (terraform-provider-aws#27933), which
    # loses its online store; AWS adds features in place with UpdateFeatureGroup.
    rt = SagemakerFeatureGroup(aws_session)
    meta = ResourceMeta("aws_sagemaker_feature_group.f", stack_context)
    args = SagemakerFeatureGroup.Args.model_validate(_feature_group(uid, role_arn))
    attrs, _ = _waits(lambda: rt.wait_ready(rt.create(args, meta)))
    created = boto("sagemaker").describe_feature_group(FeatureGroupName=f"fg-{uid}")
    # Added in the middle of the list: AWS appends it, mlform keeps the config's order.
    wanted = [*FEATURES[:2], {"feature_name": "refunds", "feature_type": "Fractional"},
              FEATURES[2]]
    bigger = {**attrs, "feature_definition": wanted}
    assert forced_paths(SagemakerFeatureGroup.Args, attrs, bigger) == []
    updated, waits = _waits(lambda: rt.update(attrs["id"], attrs, SagemakerFeatureGroup.Args
                                              .model_validate(_feature_group(
                                                  uid, role_arn, feature_definition=wanted)),
                                              meta))
    assert waits == [f"feature group fg-{uid}: adding 1 feature"]
    assert updated["feature_definition"] == wanted
    assert rt.read(attrs["id"], updated) == updated
    live = boto("sagemaker").describe_feature_group(FeatureGroupName=f"fg-{uid}")
    assert live["CreationTime"] == created["CreationTime"]  # the same group
    assert [f["FeatureName"] for f in live["FeatureDefinitions"]] == [
        "customer_id", "event_time", "orders", "refunds"]
    assert live["LastUpdateStatus"] == {"Status": "Successful"}
    # Removing a feature or changing its type cannot be done in place.
    assert forced_paths(SagemakerFeatureGroup.Args, updated,
                        {**updated, "feature_definition": wanted[:3]}) == [
        ("feature_definition",)]
    retyped = [*wanted[:3], {"feature_name": "orders", "feature_type": "Fractional"}]
    assert forced_paths(SagemakerFeatureGroup.Args, updated,
                        {**updated, "feature_definition": retyped}) == [("feature_definition",)]
    assert "online store's records are lost" in str(SagemakerFeatureGroup.replace_note)


def test_sandbox_adds_features_as_aws_does(boto: Any, uid: str, role_arn: str) -> None:
    sm = boto("sagemaker")
    sm.create_feature_group(
        FeatureGroupName=f"add-{uid}", RecordIdentifierFeatureName="id",
        EventTimeFeatureName="t", RoleArn=role_arn,
        FeatureDefinitions=[{"FeatureName": "id", "FeatureType": "String"},
                            {"FeatureName": "t", "FeatureType": "Fractional"}],
        OnlineStoreConfig={"EnableOnlineStore": True})
    for refused in ([{"FeatureName": "t", "FeatureType": "String"}],
                    [{"FeatureName": "write_time", "FeatureType": "String"}],
                    [{"FeatureName": f"f{i}", "FeatureType": "String"} for i in range(101)]):
        with pytest.raises(sm.exceptions.ClientError, match="ValidationException"):
            sm.update_feature_group(FeatureGroupName=f"add-{uid}", FeatureAdditions=refused)
    sm.update_feature_group(FeatureGroupName=f"add-{uid}",
                            FeatureAdditions=[{"FeatureName": "n", "FeatureType": "Integral"}])
    found = sm.describe_feature_group(FeatureGroupName=f"add-{uid}")
    assert [f["FeatureName"] for f in found["FeatureDefinitions"]] == ["id", "t", "n"]
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.update_feature_group(FeatureGroupName=f"gone-{uid}", FeatureAdditions=[
            {"FeatureName": "n", "FeatureType": "Integral"}])


def test_feature_group_arguments_are_checked(role_arn: str, uid: str) -> None:
    parse = SagemakerFeatureGroup.Args.model_validate
    with pytest.raises(ValidationError, match="set offline_store_config or online_store_config"):
        parse(_feature_group(uid, role_arn, online_store_config=None))
    with pytest.raises(ValidationError) as err:
        parse(_feature_group(uid, role_arn, online_store_config=None))
    assert [e["loc"] for e in err.value.errors()] == [("online_store_config",)]
    with pytest.raises(ValidationError, match="feature_type"):
        parse(_feature_group(uid, role_arn, feature_definition=[
            {"feature_name": "customer_id", "feature_type": "Boolean"}]))
    with pytest.raises(ValidationError, match="event_time_feature_name 'event_time' must be "
                                              "one of the features"):
        parse(_feature_group(uid, role_arn, feature_definition=FEATURES[:1]))
    with pytest.raises(ValidationError, match="'is_deleted' is reserved by Feature Store"):
        parse(_feature_group(uid, role_arn, feature_definition=[
            *FEATURES, {"feature_name": "is_deleted", "feature_type": "String"}]))
    with pytest.raises(ValidationError, match="features defined twice: orders"):
        parse(_feature_group(uid, role_arn, feature_definition=[*FEATURES, FEATURES[2]]))


def test_the_planner_normalises_fields_one_by_one(uid: str) -> None:
    # With a value still unknown, each known field goes through its own validation only.
    notebook = fill_defaults(SagemakerNotebookInstance.Args, _notebook(
        uid, UNKNOWN, security_groups=["sg-b", "sg-a", "sg-b"], subnet_id="subnet-1"))
    assert notebook["security_groups"] == ["sg-a", "sg-b"] and notebook["role_arn"] is UNKNOWN
    group = fill_defaults(SagemakerFeatureGroup.Args, _feature_group(
        uid, UNKNOWN, offline_store_config={"s3_storage_config": {"s3_uri": "s3://b/p"}}))
    assert group["offline_store_config"] == {
        "s3_storage_config": {"s3_uri": "s3://b/p", "kms_key_id": None},
        "disable_glue_table_creation": False}
    assert group["feature_definition"] == FEATURES


def test_default_names_fit_sagemaker() -> None:
    ctx = StackContext(project="a-rather-long-project-name", environment="production")
    lengths = {rtype: len(next(iter(rtype.default_args(ctx, "x" * 300).values())))
               for rtype in (SagemakerNotebookInstanceLifecycleConfiguration,
                             SagemakerNotebookInstance, SagemakerPipeline,
                             SagemakerFeatureGroup)}
    assert list(lengths.values()) == [63, 63, 256, 64]
    assert SagemakerPipeline.default_args(ctx, "train") == {
        "pipeline_name": "a-rather-long-project-name-production-train"}


def test_sandbox_fills_moto_gaps(boto: Any, uid: str, role_arn: str) -> None:
    sm = boto("sagemaker")
    sm.create_notebook_instance(NotebookInstanceName=f"gap-{uid}", InstanceType="ml.t2.medium",
                                RoleArn=role_arn)
    with pytest.raises(sm.exceptions.ClientError, match=r"Status \(InService\) not in"):
        sm.update_notebook_instance(NotebookInstanceName=f"gap-{uid}", VolumeSizeInGB=10)
    sm.stop_notebook_instance(NotebookInstanceName=f"gap-{uid}")
    sm.update_notebook_instance(NotebookInstanceName=f"gap-{uid}", VolumeSizeInGB=10)
    with pytest.raises(sm.exceptions.ClientError, match="can only grow"):
        sm.update_notebook_instance(NotebookInstanceName=f"gap-{uid}", VolumeSizeInGB=5)
    assert sm.describe_notebook_instance(
        NotebookInstanceName=f"gap-{uid}")["VolumeSizeInGB"] == 10
    sm.create_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName=f"gap-{uid}")
    sm.update_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName=f"gap-{uid}", OnStart=[{"Content": b64("true")}])
    names = [c["NotebookInstanceLifecycleConfigName"]
             for c in sm.list_notebook_instance_lifecycle_configs()[
                 "NotebookInstanceLifecycleConfigs"]]
    assert f"gap-{uid}" in names
    sm.create_feature_group(
        FeatureGroupName=f"gap-{uid}", RecordIdentifierFeatureName="id",
        EventTimeFeatureName="t", RoleArn=role_arn, Description="online only",
        FeatureDefinitions=[{"FeatureName": "id", "FeatureType": "String"},
                            {"FeatureName": "t", "FeatureType": "Fractional"}],
        OnlineStoreConfig={"EnableOnlineStore": True})
    found = sm.describe_feature_group(FeatureGroupName=f"gap-{uid}")
    assert found["OnlineStoreConfig"] == {"EnableOnlineStore": True}
    assert found["Description"] == "online only" and "OfflineStoreConfig" not in found
    sm.add_tags(ResourceArn=found["FeatureGroupArn"], Tags=[{"Key": "k", "Value": "v"}])
    assert sm.list_tags(ResourceArn=found["FeatureGroupArn"])["Tags"] == [
        {"Key": "k", "Value": "v"}]
    assert f"gap-{uid}" in [g["FeatureGroupName"]
                            for g in sm.list_feature_groups()["FeatureGroupSummaries"]]
    sm.delete_feature_group(FeatureGroupName=f"gap-{uid}")
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.describe_feature_group(FeatureGroupName=f"gap-{uid}")


# -- on the in-process cloud ------------------------------------------------------------------

@pytest.fixture
def backend(cloud: str) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[ACCOUNT][REGION]


def test_notebook_states(cloud_session: Any, stack_context: StackContext, uid: str,
                         backend: Any) -> None:
    rt = SagemakerNotebookInstance(cloud_session)
    meta = ResourceMeta("aws_sagemaker_notebook_instance.nb", stack_context)
    role = f"arn:aws:iam::{ACCOUNT}:role/r-{uid}"
    args = SagemakerNotebookInstance.Args.model_validate(_notebook(uid, role))
    attrs = rt.create(args, meta)
    notebook = backend.notebook_instances[f"nb-{uid}"]
    bigger = args.model_copy(update={"instance_type": "ml.t3.large"})
    for status in ("Pending", "Updating", "Stopping"):
        notebook.status = status
        with pytest.raises(NotReady, match=status):
            rt.wait_ready(attrs)
        with pytest.raises(NotReady, match=status):
            rt.update(attrs["id"], attrs, bigger, meta)
        with pytest.raises(NotReady, match=status):
            rt.delete(attrs["id"], attrs)
        assert notebook.instance_type == "ml.t3.medium"  # not touched while busy
    notebook.status = "Failed"
    with pytest.raises(ProviderError, match="is Failed: no reason given"):
        rt.wait_ready(attrs)
    with pytest.raises(ProviderError, match="can be changed only when in service or stopped"):
        rt.update(attrs["id"], attrs, bigger, meta)
    rt.delete(attrs["id"], attrs)  # a failed instance is deleted without a stop
    assert rt.read(attrs["id"], attrs) is None


def test_notebook_restart_waits_until_in_service(cloud_session: Any,
                                                  stack_context: StackContext, uid: str,
                                                  backend: Any) -> None:
    rt = SagemakerNotebookInstance(cloud_session)
    meta = ResourceMeta("aws_sagemaker_notebook_instance.nb", stack_context)
    args = SagemakerNotebookInstance.Args.model_validate(
        _notebook(uid, f"arn:aws:iam::{ACCOUNT}:role/r-{uid}"))
    attrs = rt.create(args, meta)
    notebook = backend.notebook_instances[f"nb-{uid}"]
    bigger = args.model_copy(update={"instance_type": "ml.t3.large"})
    for step in ("stopping it", "updating", "starting it again"):
        with pytest.raises(NotReady, match=step):
            rt.update(attrs["id"], attrs, bigger, meta)
    notebook.status = "Stopped"  # the start did not take: it is sent again
    with pytest.raises(NotReady, match="starting it again"):
        rt.update(attrs["id"], attrs, bigger, meta)
    assert notebook.status == "InService"
    notebook.status = "Pending"
    with pytest.raises(NotReady, match="is Pending"):
        rt.update(attrs["id"], attrs, bigger, meta)
    notebook.status = "InService"
    assert rt.update(attrs["id"], attrs, bigger, meta)["instance_type"] == "ml.t3.large"
    rt.delete(attrs["id"], attrs)


def test_feature_group_states(cloud_session: Any, stack_context: StackContext, uid: str,
                              backend: Any) -> None:
    rt = SagemakerFeatureGroup(cloud_session)
    role = f"arn:aws:iam::{ACCOUNT}:role/r-{uid}"
    args = SagemakerFeatureGroup.Args.model_validate(_feature_group(uid, role))
    attrs = rt.create(args, ResourceMeta("aws_sagemaker_feature_group.f", stack_context))
    group = next(g for g in backend.feature_groups.values()
                 if g.feature_group_name == f"fg-{uid}")
    group.feature_group_status = "Creating"
    with pytest.raises(NotReady, match="is Creating"):
        rt.wait_ready(attrs)
    with pytest.raises(NotReady, match="is Creating"):
        rt.delete(attrs["id"], attrs)  # SageMaker deletes a group once it is created
    group.feature_group_status, group.failure_reason = "CreateFailed", "Access denied to S3"
    with pytest.raises(ProviderError, match="is CreateFailed: Access denied to S3"):
        rt.wait_ready(attrs)
    group.feature_group_status = "Deleting"
    with pytest.raises(NotReady, match="is Deleting"):
        rt.delete(attrs["id"], attrs)
    del backend.feature_groups[group.arn]
    rt.delete(attrs["id"], attrs)


def test_feature_group_waits_for_iam_and_s3(cloud_session: Any, stack_context: StackContext,
                                            uid: str, backend: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.sagemaker.exceptions import ValidationError as MotoValidationError

    answers = ["Invalid S3Uri provided: s3://new-bucket/store",
               "The execution role ARN is invalid.", "1 validation error detected: nope"]
    real = type(backend).create_feature_group

    def create_feature_group(self: Any, **kwargs: Any) -> Any:
        if answers:
            raise MotoValidationError(message=answers.pop(0))
        return real(self, **kwargs)

    monkeypatch.setattr(type(backend), "create_feature_group", create_feature_group)
    rt = SagemakerFeatureGroup(cloud_session)
    args = SagemakerFeatureGroup.Args.model_validate(
        _feature_group(uid, f"arn:aws:iam::{ACCOUNT}:role/new-{uid}"))
    meta = ResourceMeta("aws_sagemaker_feature_group.f", stack_context)
    for expected in ("Invalid S3Uri provided", "execution role ARN is invalid"):
        with pytest.raises(NotReady, match=expected):
            rt.create(args, meta)
    with pytest.raises(ProviderError, match="nope") as err:
        rt.create(args, meta)  # any other validation error is final
    assert not isinstance(err.value, NotReady)
    assert rt.create(args, meta)["feature_group_name"] == f"fg-{uid}"
