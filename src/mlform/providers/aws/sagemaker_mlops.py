"""Amazon SageMaker MLOps: pipelines and feature groups (`aws_sagemaker_pipeline`,
`aws_sagemaker_feature_group`). Their common ground with notebooks is in `sagemaker_platform`."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator

from mlform.errors import NotReady, ProviderError
from mlform.providers.aws.base import all_tags, tag_list, tags_field
from mlform.providers.aws.errors import aws_call, error_code, error_message, is_not_found
from mlform.providers.aws.sagemaker import SagemakerAttrs
from mlform.providers.aws.sagemaker_platform import NAME, PlatformResource
from mlform.providers.base import (
    AddOnly,
    ArgsModel,
    ForceNew,
    JsonDocument,
    ResourceMeta,
    Timeouts,
    Waitable,
)

FEATURE_NAME = r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9])*$"
# Names Feature Store gives columns of its own (UpdateFeatureGroup, CreateFeatureGroup).
RESERVED_FEATURES = frozenset({"is_deleted", "write_time", "api_invocation_time"})
MAX_ADDITIONS = 100  # features one UpdateFeatureGroup call may add


# -- aws_sagemaker_pipeline ---------------------------------------------------------------------

def _canonical_json(value: Any) -> str:
    """A definition written as a mapping or as JSON text, as one canonical JSON string:
    definitions that differ only in key order or whitespace compare equal."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("a pipeline definition must be a mapping (a JSON object)")
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


PipelineDefinition = Annotated[str, BeforeValidator(_canonical_json), JsonDocument()]


class SagemakerPipelineArgs(ArgsModel):
    pipeline_name: Annotated[str, ForceNew()] = Field(
        max_length=256, pattern=NAME,
        description="Name (default: <project>-<environment>-<resource name>).")
    # Its default is filled by `complete_args`, like the planner's other derived arguments.
    pipeline_display_name: str | None = Field(
        None, max_length=256, pattern=NAME, description="Display name (default: the name).")
    pipeline_description: str | None = Field(
        None, min_length=1, max_length=3072, description="Description of the pipeline.")
    role_arn: str = Field(description="IAM role the pipeline's steps run as.")
    pipeline_definition: PipelineDefinition = Field(
        max_length=1048576, description="The pipeline's JSON definition, as a mapping or a "
        "JSON string (compared regardless of key order and spacing).")
    tags: dict[str, str] = tags_field("pipeline")


class SagemakerPipeline(PlatformResource[SagemakerPipelineArgs]):
    type_name: ClassVar[str] = "aws_sagemaker_pipeline"
    noun: ClassVar[str] = "Pipeline"
    kind: ClassVar[str] = "pipeline"
    Args = SagemakerPipelineArgs
    Attrs = SagemakerAttrs
    name_arg: ClassVar[str] = "pipeline_name"
    name_max_len: ClassVar[int] = 256
    summaries: ClassVar[str] = "PipelineSummaries"

    def _send_describe(self, name: str) -> dict[str, Any]:
        return dict(self.client.describe_pipeline(PipelineName=name))

    def _send_delete(self, name: str) -> None:
        self.client.delete_pipeline(PipelineName=name)

    def _list_paginator(self) -> Any:
        return self.client.get_paginator("list_pipelines")

    @classmethod
    def complete_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("pipeline_display_name") is None and "pipeline_name" in args:
            return {**args, "pipeline_display_name": args["pipeline_name"]}
        return args

    def _missing(self, exc: BaseException) -> bool:
        # AWS answers ResourceNotFound; the sandbox (moto) a ValidationException.
        return is_not_found(exc, "ResourceNotFound") or (
            error_code(exc) == "ValidationException"
            and error_message(exc).startswith("Could not find pipeline"))

    def create(self, args: SagemakerPipelineArgs, meta: ResourceMeta) -> dict[str, Any]:
        name = args.pipeline_name
        have = self._mine(args, meta)
        if have is not None:
            return self.update(name, have, args, meta)
        request: dict[str, Any] = {
            "PipelineName": name, "PipelineDisplayName": args.pipeline_display_name or name,
            "PipelineDefinition": args.pipeline_definition, "RoleArn": args.role_arn,
            "Tags": tag_list(all_tags(args.tags, meta))}
        if args.pipeline_description:
            request["PipelineDescription"] = args.pipeline_description
        created = self._create(name, lambda: self.client.create_pipeline(**request))
        return self._created(name, created["PipelineArn"], args, args.tags, meta)

    def _args_from(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        definition = found.get("PipelineDefinition") or ""
        with contextlib.suppress(ValueError):  # else shown as it is, a difference to apply
            definition = _canonical_json(definition)
        return {"pipeline_name": found["PipelineName"],
                "pipeline_display_name": found.get("PipelineDisplayName"),
                "pipeline_description": found.get("PipelineDescription") or None,
                "role_arn": found.get("RoleArn"), "pipeline_definition": definition}

    def update(self, id: str, prior: Mapping[str, Any], args: SagemakerPipelineArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        found = self._describe(id)
        if found is None:
            raise ProviderError(f"pipeline {id} no longer exists; refresh and plan again")
        live = self._args_from(found, prior)
        changes: dict[str, Any] = {}
        if live["pipeline_display_name"] != args.pipeline_display_name:
            changes["PipelineDisplayName"] = args.pipeline_display_name
        if live["pipeline_description"] != args.pipeline_description:
            changes["PipelineDescription"] = args.pipeline_description or ""
        if live["role_arn"] != args.role_arn:
            changes["RoleArn"] = args.role_arn
        if live["pipeline_definition"] != args.pipeline_definition:
            changes["PipelineDefinition"] = args.pipeline_definition
        if changes:
            with aws_call("sagemaker", "UpdatePipeline"):
                self.client.update_pipeline(PipelineName=id, **changes)
        return self._update_tags(id, prior, args, args.tags, meta)


# -- aws_sagemaker_feature_group ----------------------------------------------------------------

def _not_reserved(name: str) -> str:
    if name.lower() in RESERVED_FEATURES:
        raise ValueError(f"'{name}' is reserved by Feature Store (so are "
                         f"{', '.join(sorted(RESERVED_FEATURES - {name.lower()}))})")
    return name


class FeatureDefinition(ArgsModel):
    feature_name: Annotated[str, AfterValidator(_not_reserved)] = Field(
        max_length=64, pattern=FEATURE_NAME, description="Feature name.")
    feature_type: Literal["Integral", "Fractional", "String"] = Field(
        description="Integral, Fractional or String.")


class S3StorageConfig(ArgsModel):
    s3_uri: str = Field(description="Where the offline store writes, `s3://bucket/prefix`.")
    kms_key_id: str | None = Field(None, description="KMS key that encrypts what it writes.")


class OfflineStoreConfig(ArgsModel):
    s3_storage_config: S3StorageConfig = Field(description="The offline store's S3 location.")
    disable_glue_table_creation: bool = Field(
        False, description="Do not register the store as a table in the Glue Data Catalog.")


class OnlineStoreConfig(ArgsModel):
    enable_online_store: bool = Field(False, description="Serve the latest records online.")


class SagemakerFeatureGroupArgs(ArgsModel):
    feature_group_name: Annotated[str, ForceNew()] = Field(
        max_length=64, pattern=FEATURE_NAME,
        description="Name (default: <project>-<environment>-<resource name>).")
    record_identifier_feature_name: Annotated[str, ForceNew()] = Field(
        description="The feature that identifies a record.")
    event_time_feature_name: Annotated[str, ForceNew()] = Field(
        description="The feature that holds a record's event time.")
    # Features can be added in place (UpdateFeatureGroup); Terraform replaces the group
    # instead (hashicorp/terraform-provider-aws#27933), losing its online store.
    feature_definition: Annotated[list[FeatureDefinition], AddOnly()] = Field(
        min_length=1, max_length=2500, description="The features. New ones are added in "
        "place; removing or changing one replaces the feature group.")
    role_arn: Annotated[str, ForceNew()] = Field(
        description="IAM role that writes the offline store.")
    offline_store_config: Annotated[OfflineStoreConfig | None, ForceNew()] = Field(
        None, description="Historical records in S3 (this or `online_store_config`).")
    online_store_config: Annotated[OnlineStoreConfig | None, ForceNew()] = Field(
        None, validate_default=True, description="Latest records served with low latency.")
    description: Annotated[str | None, ForceNew()] = Field(
        None, max_length=128, description="Description of the feature group.")
    tags: dict[str, str] = tags_field("feature group")

    @field_validator("feature_definition")
    @classmethod
    def _keys_defined(cls, value: list[FeatureDefinition],
                      info: ValidationInfo) -> list[FeatureDefinition]:
        names = [f.feature_name for f in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"features defined twice: {', '.join(twice)}")
        for key in ("record_identifier_feature_name", "event_time_feature_name"):
            name = info.data.get(key)
            if isinstance(name, str) and "${" not in name and name not in names:
                raise ValueError(f"{key} '{name}' must be one of the features")
        return value

    # A field's check, not the model's: the planner validates fields one by one.
    @field_validator("online_store_config")
    @classmethod
    def _a_store(cls, value: OnlineStoreConfig | None,
                 info: ValidationInfo) -> OnlineStoreConfig | None:
        if value is None and info.data.get("offline_store_config") is None:
            raise ValueError("set offline_store_config or online_store_config (or both)")
        return value


class SagemakerFeatureGroup(PlatformResource[SagemakerFeatureGroupArgs], Waitable):
    type_name: ClassVar[str] = "aws_sagemaker_feature_group"
    destroy_loses: ClassVar[str] = "the records it stores"
    noun: ClassVar[str] = "FeatureGroup"
    kind: ClassVar[str] = "feature group"
    Args = SagemakerFeatureGroupArgs
    Attrs = SagemakerAttrs
    name_arg: ClassVar[str] = "feature_group_name"
    name_max_len: ClassVar[int] = 64
    summaries: ClassVar[str] = "FeatureGroupSummaries"

    def _send_describe(self, name: str) -> dict[str, Any]:
        return dict(self.client.describe_feature_group(FeatureGroupName=name))

    def _send_delete(self, name: str) -> None:
        self.client.delete_feature_group(FeatureGroupName=name)

    def _list_paginator(self) -> Any:
        return self.client.get_paginator("list_feature_groups")
    timeouts: ClassVar[Timeouts] = Timeouts(create=1200.0, delete=600.0)  # Terraform's waits

    replace_note: ClassVar[str | None] = (
        "replacing a feature group deletes it: the offline store's files stay in S3, but the "
        "online store's records are lost")

    def _missing(self, exc: BaseException) -> bool:
        return is_not_found(exc, "ResourceNotFound")

    def create(self, args: SagemakerFeatureGroupArgs, meta: ResourceMeta) -> dict[str, Any]:
        name = args.feature_group_name
        have = self._mine(args, meta)
        if have is not None:
            return self.update(name, have, args, meta)
        request: dict[str, Any] = {
            "FeatureGroupName": name, "RoleArn": args.role_arn,
            "RecordIdentifierFeatureName": args.record_identifier_feature_name,
            "EventTimeFeatureName": args.event_time_feature_name,
            "FeatureDefinitions": [{"FeatureName": f.feature_name, "FeatureType": f.feature_type}
                                   for f in args.feature_definition],
            "Tags": tag_list(all_tags(args.tags, meta))}
        if args.offline_store_config is not None:
            store = args.offline_store_config
            s3: dict[str, str] = {"S3Uri": store.s3_storage_config.s3_uri}
            if store.s3_storage_config.kms_key_id:
                s3["KmsKeyId"] = store.s3_storage_config.kms_key_id
            request["OfflineStoreConfig"] = {
                "S3StorageConfig": s3,
                "DisableGlueTableCreation": store.disable_glue_table_creation}
        if args.online_store_config is not None:
            request["OnlineStoreConfig"] = {
                "EnableOnlineStore": args.online_store_config.enable_online_store}
        if args.description:
            request["Description"] = args.description
        created = self._create(name, lambda: self.client.create_feature_group(**request))
        return self._created(name, created["FeatureGroupArn"], args, args.tags, meta)

    def _args_from(self, found: Mapping[str, Any], prior: Mapping[str, Any]) -> dict[str, Any]:
        offline = found.get("OfflineStoreConfig")
        s3 = (offline or {}).get("S3StorageConfig") or {}
        online = bool((found.get("OnlineStoreConfig") or {}).get("EnableOnlineStore"))
        return {
            "feature_group_name": found["FeatureGroupName"],
            "record_identifier_feature_name": found["RecordIdentifierFeatureName"],
            "event_time_feature_name": found["EventTimeFeatureName"],
            "feature_definition": _in_order(
                [{"feature_name": f["FeatureName"], "feature_type": f["FeatureType"]}
                 for f in found.get("FeatureDefinitions") or []],
                prior.get("feature_definition")),
            "role_arn": found.get("RoleArn"),
            "offline_store_config": None if not offline else {
                "s3_storage_config": {"s3_uri": s3.get("S3Uri"),
                                      "kms_key_id": s3.get("KmsKeyId")},
                "disable_glue_table_creation": bool(offline.get("DisableGlueTableCreation"))},
            # No online store and a disabled one are the same: keep the way it was written.
            "online_store_config": {"enable_online_store": True} if online else (
                None if prior.get("online_store_config") is None
                else {"enable_online_store": False}),
            "description": found.get("Description") or None,
        }

    def update(self, id: str, prior: Mapping[str, Any], args: SagemakerFeatureGroupArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        """Adds the new features (all else but tags is ForceNew), at most 100 a call, one
        call at a time: an update in progress is waited for (NotReady) before the next."""
        found = self._describe(id)
        if found is None:
            raise ProviderError(f"feature group {id} no longer exists; refresh and plan again")
        self._settled(found)
        live = {f["FeatureName"]: f["FeatureType"] for f in found.get("FeatureDefinitions") or []}
        added = [f for f in args.feature_definition if f.feature_name not in live]
        changed = [f.feature_name for f in args.feature_definition
                   if live.get(f.feature_name, f.feature_type) != f.feature_type]
        if changed:  # the plan replaces the group for this; someone changed it meanwhile
            raise ProviderError(f"feature group {id}: the type of {', '.join(changed)} differs "
                                "from the live group's; refresh and plan again")
        if added:
            with aws_call("sagemaker", "UpdateFeatureGroup"):
                self.client.update_feature_group(FeatureGroupName=id, FeatureAdditions=[
                    {"FeatureName": f.feature_name, "FeatureType": f.feature_type}
                    for f in added[:MAX_ADDITIONS]])
            raise NotReady(f"feature group {id}: adding {len(added)} feature"
                           f"{'s' if len(added) > 1 else ''}", retry_after=self.poll)
        return self._update_tags(id, prior, args, args.tags, meta)

    def _settled(self, found: Mapping[str, Any]) -> None:
        """NotReady while the group is being created or updated; ProviderError if it failed."""
        name = found["FeatureGroupName"]
        status = found.get("FeatureGroupStatus")
        if status == "Creating":
            raise NotReady(f"feature group {name} is Creating", retry_after=self.poll)
        if status != "Created":
            raise ProviderError(f"feature group {name} is {status}: "
                                f"{found.get('FailureReason') or 'no reason given'}")
        last = found.get("LastUpdateStatus") or {}
        if last.get("Status") == "InProgress":
            raise NotReady(f"feature group {name} is being updated", retry_after=self.poll)
        if last.get("Status") == "Failed":
            raise ProviderError(f"feature group {name}: its last update failed: "
                                f"{last.get('FailureReason') or 'no reason given'}")

    def wait_ready(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        name = str(attributes["id"])
        found = self._describe(name)
        if found is None:
            raise ProviderError(f"feature group {name} disappeared while it was being created")
        self._settled(found)
        return self._attributes(found, attributes)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        found = self._describe(id)
        if found is not None and found.get("FeatureGroupStatus") not in ("Creating", "Deleting"):
            super().delete(id, prior)
            found = self._describe(id)
        if found is not None:
            raise NotReady(f"feature group {id} is {found.get('FeatureGroupStatus')}",
                           retry_after=self.poll)


def _in_order(features: list[dict[str, Any]], order: Any) -> list[dict[str, Any]]:
    """The live features in the order `order` (the recorded or requested ones) lists them,
    the others after: AWS appends added features, wherever the config put them."""
    if not isinstance(order, list):
        return features
    rank = {f.get("feature_name"): i for i, f in enumerate(order) if isinstance(f, dict)}
    return sorted(features, key=lambda f: rank.get(f["feature_name"], len(rank)))
