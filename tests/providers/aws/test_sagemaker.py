"""SageMaker hosting against a real cloud on loopback.

Most tests run on the session's sandbox. The sandbox has no way to hold an endpoint in a
transitional state or to fail a call the way AWS does while IAM propagates, so the tests that
need either run on `cloud`: a moto server in this process (with the sandbox's moto patches),
whose backend the tests reach into to set an endpoint's status or make a call fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.sagemaker import (
    SagemakerEndpoint,
    SagemakerEndpointConfiguration,
    SagemakerModel,
)
from mlform.providers.base import ResourceMeta, StackContext
from mlform.values import UNKNOWN
from tests.providers.aws.contract import check_contract

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/serve"
ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def role_arn(boto: Any, uid: str) -> str:
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    role = boto("iam").create_role(RoleName=f"sagemaker-{uid}",
                                   AssumeRolePolicyDocument=json.dumps(policy))
    return str(role["Role"]["Arn"])


def _model(sm: Any, name: str, role: str, image: str = IMAGE) -> str:
    sm.create_model(ModelName=name, ExecutionRoleArn=role, PrimaryContainer={"Image": image})
    return name


def _config(sm: Any, name: str, model: str) -> str:
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1,
         "InstanceType": "ml.t2.medium"}])
    return name


def _config_args(**overrides: Any) -> dict[str, Any]:
    variant = {"model_name": "m", "instance_type": "ml.m5.large", **overrides.pop("variant", {})}
    return {"name_prefix": "p-c-", "production_variants": [variant], **overrides}


# -- the provider contract, on the sandbox ----------------------------------------------------

def test_model_contract(aws_session: Any, stack_context: StackContext, uid: str,
                        role_arn: str) -> None:
    create = SagemakerModel.complete_args({
        "name_prefix": f"m-{uid}-", "execution_role_arn": role_arn,
        "primary_container": {"image": f"{IMAGE}:v1", "environment": {"THREADS": "2"},
                              "model_data_url": "s3://models/m.tar.gz",
                              "container_hostname": "main"},
        "tags": {"team": "ml"}})
    assert create["name"].startswith(f"m-{uid}-")
    attrs = check_contract(SagemakerModel, aws_session, stack_context, create,
                           {**create, "tags": {"team": "platform", "cost-center": "42"}})
    assert attrs["primary_container"]["mode"] == "SingleModel"
    assert attrs["tags"] == {"team": "platform", "cost-center": "42"}


def test_endpoint_configuration_contract(aws_session: Any, stack_context: StackContext,
                                         uid: str, role_arn: str, boto: Any) -> None:
    model = _model(boto("sagemaker"), f"cm-{uid}", role_arn)
    create = SagemakerEndpointConfiguration.complete_args(_config_args(
        name_prefix=f"c-{uid}-", variant={"model_name": model, "initial_instance_count": 2},
        kms_key_arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uid}", tags={"team": "ml"}))
    attrs = check_contract(SagemakerEndpointConfiguration, aws_session, stack_context, create,
                           {**create, "tags": {}})
    assert attrs["production_variants"] == [{
        "variant_name": "AllTraffic", "model_name": model, "initial_instance_count": 2,
        "instance_type": "ml.m5.large", "initial_variant_weight": 1.0}]


def test_endpoint_contract(aws_session: Any, stack_context: StackContext, uid: str,
                           role_arn: str, boto: Any) -> None:
    sm = boto("sagemaker")
    config = _config(sm, f"ec-{uid}", _model(sm, f"em-{uid}", role_arn))
    create = {"name": f"e-{uid}", "endpoint_config_name": config, "tags": {"team": "ml"}}
    attrs = check_contract(SagemakerEndpoint, aws_session, stack_context, create,
                           {**create, "tags": {"team": "ml", "tier": "gold"}})
    assert "endpoint_status" not in attrs


def test_endpoint_reaches_in_service(aws_session: Any, stack_context: StackContext, uid: str,
                                     role_arn: str, boto: Any) -> None:
    sm = boto("sagemaker")
    config = _config(sm, f"wc-{uid}", _model(sm, f"wm-{uid}", role_arn))
    rt = SagemakerEndpoint(aws_session)
    args = SagemakerEndpoint.Args.model_validate({"name": f"w-{uid}",
                                                  "endpoint_config_name": config})
    attrs = rt.create(args, ResourceMeta("aws_sagemaker_endpoint.w", stack_context))
    assert rt.wait_ready(attrs) == attrs == rt.read(attrs["id"], attrs)
    assert sm.describe_endpoint(EndpointName=f"w-{uid}")["EndpointStatus"] == "InService"
    rt.delete(attrs["id"], attrs)
    assert rt.read(attrs["id"], attrs) is None


def test_invalid_instance_type_fails_with_the_clouds_message(
        aws_session: Any, stack_context: StackContext, uid: str, role_arn: str,
        boto: Any) -> None:
    model = _model(boto("sagemaker"), f"bm-{uid}", role_arn)
    rtype = SagemakerEndpointConfiguration
    rt = rtype(aws_session)
    args = rtype.Args.model_validate(rtype.complete_args(_config_args(
        name_prefix=f"b-{uid}-", variant={"model_name": model, "instance_type": "ml.bogus"})))
    with pytest.raises(ProviderError) as err:
        rt.create(args, ResourceMeta("aws_sagemaker_endpoint_configuration.b", stack_context))
    assert err.value.message.startswith("CreateEndpointConfig: ValidationException: ")
    assert "'ml.bogus' at 'instanceType' failed to satisfy constraint" in err.value.message
    assert rt.read(rt.id_for(args), {}) is None


@pytest.mark.parametrize("rtype", [SagemakerModel, SagemakerEndpointConfiguration,
                                   SagemakerEndpoint])
def test_missing_objects(aws_session: Any, uid: str, rtype: type[Any]) -> None:
    rt = rtype(aws_session)
    assert rt.read(f"missing-{uid}", {}) is None
    rt.delete(f"missing-{uid}", {})  # returns silently


def test_create_refuses_a_taken_name(aws_session: Any, stack_context: StackContext, uid: str,
                                     role_arn: str, boto: Any) -> None:
    # moto would overwrite the model silently; AWS refuses, and so must we on both.
    sm = boto("sagemaker")
    _model(sm, f"taken-{uid}", role_arn, image=f"{IMAGE}:theirs")
    args = SagemakerModel.Args.model_validate({
        "name": f"taken-{uid}", "execution_role_arn": role_arn,
        "primary_container": {"image": f"{IMAGE}:ours"}})
    with pytest.raises(ProviderError, match="already exists"):
        SagemakerModel(aws_session).create(args, ResourceMeta("aws_sagemaker_model.t",
                                                              stack_context))
    theirs = sm.describe_model(ModelName=f"taken-{uid}")["PrimaryContainer"]["Image"]
    assert theirs == f"{IMAGE}:theirs"


# -- content-derived names (no cloud) ---------------------------------------------------------

def test_configuration_name_follows_its_content() -> None:
    complete = SagemakerEndpointConfiguration.complete_args
    name = complete(_config_args())["name"]
    assert name.startswith("p-c-") and len(name) == len("p-c-") + 8
    assert complete(_config_args())["name"] == name
    # Spelling out a default or changing only tags is the same configuration.
    assert complete(_config_args(variant={"variant_name": "AllTraffic"},
                                 tags={"team": "ml"}))["name"] == name
    assert complete(_config_args(tags=UNKNOWN))["name"] == name
    for changed in ({"variant": {"model_name": "m2"}},
                    {"variant": {"initial_instance_count": 2}},
                    {"variant": {"instance_type": "ml.m5.xlarge"}},
                    {"kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/k"}):
        assert complete(_config_args(**changed))["name"] != name, changed
    assert complete(_config_args(variant={"model_name": UNKNOWN}))["name"] is UNKNOWN
    assert complete(_config_args(name="mine"))["name"] == "mine"
    # Invalid arguments keep no name, so that validation reports the real problem.
    assert "name" not in complete(_config_args(variant={"initial_instance_count": 0}))


def test_default_names_fit_sagemaker() -> None:
    ctx = StackContext(project="a-rather-long-project-name", environment="production")
    for rtype in (SagemakerModel, SagemakerEndpointConfiguration):
        prefix = rtype.default_args(ctx, "x" * 80)["name_prefix"]
        assert prefix.startswith("a-rather-long-project-name-production-xxx")
        assert prefix.endswith("-") and len(prefix) == 55
    config = SagemakerEndpointConfiguration
    name = config.complete_args({**_config_args(), "name_prefix": prefix})["name"]
    assert len(name) == 63
    assert len(SagemakerEndpoint.default_args(ctx, "x" * 80)["name"]) == 63


# -- on the in-process cloud ------------------------------------------------------------------

@pytest.fixture
def backend(cloud: str) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[ACCOUNT][REGION]


def test_model_waits_for_a_new_role(cloud_session: Any, stack_context: StackContext, uid: str,
                                    backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.sagemaker.exceptions import ValidationError

    role = f"arn:aws:iam::{ACCOUNT}:role/new-{uid}"
    answers = [f"Could not assume role {role}. Please ensure that the role exists and allows "
               "principal 'sagemaker.amazonaws.com' to assume the role.",
               "Could not access model data at s3://nowhere/m.tar.gz."]
    real = type(backend).create_model

    def create_model(self: Any, **kwargs: Any) -> Any:
        if answers:
            raise ValidationError(message=answers.pop(0))
        return real(self, **kwargs)

    monkeypatch.setattr(type(backend), "create_model", create_model)
    rt = SagemakerModel(cloud_session)
    args = SagemakerModel.Args.model_validate({
        "name": f"iam-{uid}", "execution_role_arn": role, "primary_container": {"image": IMAGE}})
    meta = ResourceMeta("aws_sagemaker_model.iam", stack_context)
    with pytest.raises(NotReady, match="Could not assume role"):
        rt.create(args, meta)
    with pytest.raises(ProviderError, match="Could not access model data") as err:
        rt.create(args, meta)  # any other validation error is final
    assert not isinstance(err.value, NotReady)
    assert rt.create(args, meta)["name"] == f"iam-{uid}"


def test_endpoint_states(cloud_session: Any, stack_context: StackContext, uid: str,
                         backend: Any) -> None:
    import boto3

    sm = boto3.client("sagemaker", endpoint_url=cloud_session.endpoint_url, region_name=REGION)
    role = f"arn:aws:iam::{ACCOUNT}:role/r-{uid}"
    old = _config(sm, f"old-{uid}", _model(sm, f"sm-{uid}", role))
    new = _config(sm, f"new-{uid}", f"sm-{uid}")
    rt = SagemakerEndpoint(cloud_session)
    meta = ResourceMeta("aws_sagemaker_endpoint.s", stack_context)
    args = SagemakerEndpoint.Args.model_validate({"name": f"s-{uid}",
                                                  "endpoint_config_name": old})
    attrs = rt.create(args, meta)
    endpoint = backend.endpoints[f"s-{uid}"]
    moved = SagemakerEndpoint.Args.model_validate({**args.model_dump(),
                                                   "endpoint_config_name": new})
    for status in ("Creating", "Updating", "SystemUpdating"):
        endpoint.endpoint_status = status
        with pytest.raises(NotReady, match=status):
            rt.wait_ready(attrs)
        with pytest.raises(NotReady, match=status):
            rt.update(attrs["id"], attrs, moved, meta)
        assert endpoint.endpoint_config_name == old  # not touched while busy
    endpoint.endpoint_status = "InService"
    updated = rt.update(attrs["id"], attrs, moved, meta)
    assert updated["endpoint_config_name"] == new == endpoint.endpoint_config_name
    assert rt.wait_ready(updated) == updated
    assert updated["arn"] == attrs["arn"]
    # A failed update that SageMaker rolled back is reported with its reason.
    endpoint.endpoint_config_name, endpoint.failure_reason = old, "image not found"
    with pytest.raises(ProviderError, match=f"could not move to {new}.*image not found"):
        rt.wait_ready(updated)
    endpoint.endpoint_status = "Failed"
    with pytest.raises(ProviderError, match="is Failed: image not found"):
        rt.wait_ready(attrs)
    endpoint.endpoint_status = "Deleting"
    with pytest.raises(NotReady, match="being deleted"):
        rt.delete(attrs["id"], attrs)
    del backend.endpoints[f"s-{uid}"]
    rt.delete(attrs["id"], attrs)


# -- the engine: a model change moves the endpoint without replacing it ----------------------

CONFIG = """\
project: {project}
environments:
  dev:
    target: sandbox
resources:
  aws_sagemaker_model.m:
    execution_role_arn: {role}
    primary_container:
      image: {image}
  aws_sagemaker_endpoint_configuration.c:
    production_variants:
      - model_name: ${{aws_sagemaker_model.m.name}}
        instance_type: ml.t2.medium
  aws_sagemaker_endpoint.e:
    endpoint_config_name: ${{aws_sagemaker_endpoint_configuration.c.name}}
"""


def test_model_change_updates_the_endpoint_in_place(
        sandbox: Any, boto: Any, tmp_path: Path, uid: str, role_arn: str) -> None:
    from mlform.api import Workspace
    from mlform.engine.plan import Action

    sm = boto("sagemaker")
    path = tmp_path / "mlform.yaml"

    def workspace(image: str) -> Workspace:
        path.write_text(CONFIG.format(project=f"sm{uid}", image=image, role=role_arn))
        return Workspace(path)

    first = workspace(f"{IMAGE}:v1").apply()
    assert first.result is not None and first.result.ok, first.result
    before = {a: r.attributes for a, r in workspace(f"{IMAGE}:v1").state().resources.items()}
    endpoint_arn = before["aws_sagemaker_endpoint.e"]["arn"]
    old_config = before["aws_sagemaker_endpoint_configuration.c"]["name"]

    ws = workspace(f"{IMAGE}:v2")
    plan = ws.plan()
    actions = {c.address: c.action for c in plan.changes}
    assert actions == {"aws_sagemaker_model.m": Action.REPLACE,
                       "aws_sagemaker_endpoint_configuration.c": Action.REPLACE,
                       "aws_sagemaker_endpoint.e": Action.UPDATE}
    endpoint_change = next(c for c in plan.changes if c.address == "aws_sagemaker_endpoint.e")
    assert endpoint_change.changed == ["endpoint_config_name"]
    second = ws.apply(plan)
    assert second.result is not None and second.result.ok, second.result

    after = {a: r.attributes for a, r in ws.state().resources.items()}
    new_config = after["aws_sagemaker_endpoint_configuration.c"]["name"]
    new_model = after["aws_sagemaker_model.m"]["name"]
    assert new_config != old_config
    live = sm.describe_endpoint(EndpointName=after["aws_sagemaker_endpoint.e"]["id"])
    assert live["EndpointArn"] == endpoint_arn == after["aws_sagemaker_endpoint.e"]["arn"]
    assert live["EndpointConfigName"] == new_config
    served = sm.describe_endpoint_config(EndpointConfigName=new_config)
    assert served["ProductionVariants"][0]["ModelName"] == new_model
    assert sm.describe_model(ModelName=new_model)["PrimaryContainer"]["Image"] == f"{IMAGE}:v2"
    pool = ws.pool()
    assert pool.resource("aws_sagemaker_endpoint_configuration").read(old_config, {}) is None
    assert pool.resource("aws_sagemaker_model").read(
        before["aws_sagemaker_model.m"]["name"], {}) is None

    third = ws.plan()
    assert not third.has_changes, [(c.address, c.action, c.changed) for c in third.changes]


def test_network_isolation_reads_back_in_the_sandbox(
        aws_session: Any, stack_context: StackContext, uid: str, role_arn: str) -> None:
    args = SagemakerModel.Args.model_validate({
        "name": f"iso-{uid}", "execution_role_arn": role_arn,
        "primary_container": {"image": IMAGE}, "enable_network_isolation": True})
    rt = SagemakerModel(aws_session)
    attrs = rt.create(args, ResourceMeta("aws_sagemaker_model.iso", stack_context))
    assert attrs["enable_network_isolation"] is True
    assert rt.read(attrs["id"], attrs) == attrs
    rt.delete(attrs["id"], attrs)
