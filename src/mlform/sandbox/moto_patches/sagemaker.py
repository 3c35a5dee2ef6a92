"""What the sandbox adds to moto for this service (see the package docstring).

- SageMaker UpdateEndpoint: moto answers HTTP 500. mlform updates an endpoint in place to move
  it to a new endpoint configuration, so the sandbox needs it. As on AWS, the variants take the
  new configuration's initial instance counts and weights unless `RetainAllVariantProperties`
  keeps the live ones (less those `ExcludeRetainedVariantProperties` names), and the update is
  refused while a variant whose instance type it changes is registered with Application Auto
  Scaling (AWS: deregister the scalable target, update, register it again).
- SageMaker CreateModel EnableNetworkIsolation: moto drops the flag, so it read back as false
  and a model asking for isolation would be replaced on every apply.
- SageMaker UpdateNotebookInstance, UpdateNotebookInstanceLifecycleConfig and
  ListNotebookInstanceLifecycleConfigs: moto answers HTTP 500. As on AWS, a notebook instance
  can be changed only while it is stopped, and its volume can only grow.
- SageMaker feature groups: moto has no DeleteFeatureGroup or ListFeatureGroups (HTTP 500), no
  tags for them, answers HTTP 500 rather than ResourceNotFound for a missing one, fails on one
  without an offline store, and drops OnlineStoreConfig and Description.
- SageMaker UpdateFeatureGroup: moto answers HTTP 500. mlform adds features to a group in
  place with it, as AWS allows (features can be added, never removed or changed); the sandbox
  applies the addition at once and reports it in LastUpdateStatus, refusing a feature that
  exists, a reserved name, more than 100 additions a call or 2,500 features in all, as AWS does.
"""

from __future__ import annotations

from typing import Any

RESERVED_FEATURES = frozenset({"is_deleted", "write_time", "api_invocation_time"})


def patch_sagemaker() -> None:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    if getattr(SageMakerModelBackend, "_mlform_patched", False):
        return

    def update_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str,
                        retain: bool = False, exclude: frozenset[str] = frozenset()) -> Any:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f"Could not find endpoint '{arn}'.")
        config = self.describe_endpoint_config(endpoint_config_name)  # raises if missing
        _refuse_autoscaled_instance_type_change(self, endpoint, config)
        live = {v["VariantName"]: v for v in endpoint.production_variants}
        variants = endpoint._process_production_variants(config["ProductionVariants"])
        if retain:
            kept = {"DesiredInstanceCount": ("DesiredInstanceCount", "CurrentInstanceCount"),
                    "DesiredWeight": ("DesiredWeight", "CurrentWeight")}
            for variant in variants:
                old = live.get(variant["VariantName"])
                for prop, keys in kept.items():
                    if old is not None and prop not in exclude:
                        variant.update({k: old[k] for k in keys if k in old})
        endpoint.endpoint_config_name = endpoint_config_name
        endpoint.production_variants = variants
        endpoint.data_capture_config = config.get("DataCaptureConfig")
        endpoint.last_modified_time = utcnow()
        return endpoint

    def update_endpoint_response(self: Any) -> Any:
        excluded = self._get_param("ExcludeRetainedVariantProperties") or []
        endpoint = self.sagemaker_backend.update_endpoint(
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
            retain=bool(self._get_param("RetainAllVariantProperties", False)),
            exclude=frozenset(p["VariantPropertyType"] for p in excluded),
        )
        return ActionResult({"EndpointArn": endpoint.arn})

    original_create_model = SageMakerResponse.create_model

    def create_model_response(self: Any) -> Any:
        result = original_create_model(self)
        isolated = bool(self._get_param("EnableNetworkIsolation", False))
        model = self.sagemaker_backend._models.get(self._get_param("ModelName"))
        if model is not None:
            model.enable_network_isolation = isolated
        return result

    # setattr: moto's classes are typed, and these names are new to them.
    setattr(SageMakerModelBackend, "update_endpoint", update_endpoint)  # noqa: B010
    setattr(SageMakerResponse, "update_endpoint", update_endpoint_response)  # noqa: B010
    setattr(SageMakerResponse, "create_model", create_model_response)  # noqa: B010
    setattr(SageMakerModelBackend, "_mlform_patched", True)  # noqa: B010


def _refuse_autoscaled_instance_type_change(backend: Any, endpoint: Any,
                                            config: dict[str, Any]) -> None:
    """AWS refuses an UpdateEndpoint that changes the instance type of a variant registered
    as an Application Auto Scaling target (the message paraphrases AWS's documentation)."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends
    from moto.sagemaker.exceptions import ValidationError

    try:
        old = backend.describe_endpoint_config(endpoint.endpoint_config_name)
    except ValidationError:  # deleted under a live endpoint: AWS cannot tell either
        return
    before = {v["VariantName"]: v.get("InstanceType") for v in old["ProductionVariants"]}
    scaling = applicationautoscaling_backends[backend.account_id][backend.region_name]
    registered = sorted(
        v["VariantName"] for v in config["ProductionVariants"]
        if before.get(v["VariantName"]) not in (None, v.get("InstanceType"))
        and scaling._scalable_target_exists(
            f"endpoint/{endpoint.endpoint_name}/variant/{v['VariantName']}",
            "sagemaker:variant:DesiredInstanceCount"))
    if registered:
        raise ValidationError(
            message=f"The variant(s) {registered} of endpoint {endpoint.endpoint_name} are "
            "registered as scalable targets with Application Auto Scaling, and this update "
            "changes their instance type. Deregister the scalable target "
            "(DeregisterScalableTarget) before you update the endpoint, and register it again "
            "afterwards.")


def patch_sagemaker_notebooks() -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import (
        FakeSageMakerNotebookInstanceLifecycleConfig,
        SageMakerModelBackend,
    )
    from moto.sagemaker.responses import SageMakerResponse

    if getattr(FakeSageMakerNotebookInstanceLifecycleConfig, "_mlform_patched", False):
        return

    # UpdateNotebookInstance parameter -> the attribute moto keeps it in.
    updatable = {"InstanceType": "instance_type", "VolumeSizeInGB": "volume_size_in_gb",
                 "RoleArn": "role_arn", "RootAccess": "root_access",
                 "LifecycleConfigName": "lifecycle_config_name"}

    def update_notebook_instance(self: Any, name: str, changes: dict[str, Any]) -> None:
        notebook = self.get_notebook_instance(name)  # ValidationException RecordNotFound
        if notebook.status != "Stopped":  # a running instance can only be tagged
            raise ValidationError(
                message=f"Status ({notebook.status}) not in ([Stopped]). Unable to transition "
                f"to (Updating) for Notebook Instance ({notebook.arn})")
        if "InstanceType" in changes:
            notebook.validate_instance_type(changes["InstanceType"])
        size = changes.get("VolumeSizeInGB", notebook.volume_size_in_gb)
        notebook.validate_volume_size_in_gb(size)
        if size < notebook.volume_size_in_gb:
            raise ValidationError(message="The volume size of a notebook instance can only "
                                  f"grow: {notebook.volume_size_in_gb} GB > {size} GB")
        for param, attribute in updatable.items():
            if param in changes:
                setattr(notebook, attribute, changes[param])
        if changes.get("DisassociateLifecycleConfig"):
            notebook.lifecycle_config_name = None
        notebook.last_modified_time = utcnow()

    def update_notebook_instance_response(self: Any) -> Any:
        params = {k: self._get_param(k) for k in (*updatable, "DisassociateLifecycleConfig")}
        self.sagemaker_backend.update_notebook_instance(
            self._get_param("NotebookInstanceName"),
            {k: v for k, v in params.items() if v is not None})
        return EmptyResult()

    def update_lifecycle_config_response(self: Any) -> Any:
        backend = self.sagemaker_backend
        name = self._get_param("NotebookInstanceLifecycleConfigName")
        config = backend.notebook_instance_lifecycle_configurations.get(name)
        if config is None:
            arn = FakeSageMakerNotebookInstanceLifecycleConfig.arn_formatter(
                name, backend.account_id, backend.region_name)
            raise ValidationError(
                message=f"Unable to update Notebook Instance Lifecycle Config '{arn}'. "
                "(Details: Notebook Instance Lifecycle Config does not exist.)")
        for param, attribute in (("OnCreate", "on_create"), ("OnStart", "on_start")):
            hooks = self._get_param(param)
            if hooks is not None:  # an omitted hook is kept; an empty list removes it
                setattr(config, attribute, hooks)
        config.last_modified_time = utcnow()
        return EmptyResult()

    def list_lifecycle_configs_response(self: Any) -> Any:  # no paging or filters
        configs = self.sagemaker_backend.notebook_instance_lifecycle_configurations
        return ActionResult({"NotebookInstanceLifecycleConfigs": [
            {"NotebookInstanceLifecycleConfigName": c.notebook_instance_lifecycle_config_name,
             "NotebookInstanceLifecycleConfigArn": c.arn, "CreationTime": c.creation_time,
             "LastModifiedTime": c.last_modified_time}
            for _, c in sorted(configs.items())]})

    # setattr: moto's classes are typed, and these names are new to them.
    setattr(SageMakerModelBackend, "update_notebook_instance",  # noqa: B010
            update_notebook_instance)
    setattr(SageMakerResponse, "update_notebook_instance",  # noqa: B010
            update_notebook_instance_response)
    setattr(SageMakerResponse, "update_notebook_instance_lifecycle_config",  # noqa: B010
            update_lifecycle_config_response)
    setattr(SageMakerResponse, "list_notebook_instance_lifecycle_configs",  # noqa: B010
            list_lifecycle_configs_response)
    setattr(FakeSageMakerNotebookInstanceLifecycleConfig, "_mlform_patched", True)  # noqa: B010


def patch_sagemaker_feature_groups() -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker.exceptions import ResourceNotFound
    from moto.sagemaker.models import FeatureGroup, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemaker.utils import arn_formatter

    if getattr(FeatureGroup, "_mlform_patched", False):
        return

    original_init = FeatureGroup.__init__

    def group_init(self: Any, **kwargs: Any) -> None:
        # moto reads the offline store unconditionally; AWS accepts an online store alone.
        offline = kwargs.get("offline_store_config")
        original_init(self, **{**kwargs, "offline_store_config": offline or {
            "S3StorageConfig": {"S3Uri": ""}}})
        self.offline_store_config = offline
        self.tags = self.tags or []  # AddTags extends the list

    original_describe = FeatureGroup.describe

    def group_describe(self: Any) -> dict[str, Any]:
        found = dict(original_describe(self))
        # Statuses and failures are attributes, so that tests can set them.
        found["FeatureGroupStatus"] = getattr(self, "feature_group_status", "Created")
        kept = {"OnlineStoreConfig": getattr(self, "online_store_config", None),
                "LastUpdateStatus": getattr(self, "last_update_status", None),
                "LastModifiedTime": getattr(self, "last_modified_time", None),
                "Description": getattr(self, "description", None),
                "FailureReason": getattr(self, "failure_reason", None)}
        found.update({k: v for k, v in kept.items() if v is not None})
        if found.get("OfflineStoreConfig") is None:
            found.pop("OfflineStoreConfig", None)
        return found

    def find_group(self: Any, name: str) -> Any:
        arn = arn_formatter("feature-group", name.lower(), self.account_id, self.region_name)
        group = self.feature_groups.get(arn)
        if group is None:
            raise ResourceNotFound(
                message=f"Resource Not Found: FeatureGroup with name {name} not found")
        return group

    def describe_feature_group(self: Any, feature_group_name: str) -> dict[str, Any]:
        return dict(find_group(self, feature_group_name).describe())

    def delete_feature_group(self: Any, feature_group_name: str) -> None:
        del self.feature_groups[find_group(self, feature_group_name).arn]

    original_resource_from_arn = SageMakerModelBackend._get_resource_from_arn

    def resource_from_arn(self: Any, arn: str) -> Any:
        if ":feature-group/" in arn:
            return find_group(self, arn.split("/", 1)[1])
        return original_resource_from_arn(self, arn)

    original_create = SageMakerResponse.create_feature_group

    def create_feature_group_response(self: Any) -> Any:
        result = original_create(self)
        group = find_group(self.sagemaker_backend, self._get_param("FeatureGroupName"))
        group.online_store_config = self._get_param("OnlineStoreConfig")
        group.description = self._get_param("Description")
        return result

    def delete_feature_group_response(self: Any) -> Any:
        self.sagemaker_backend.delete_feature_group(self._get_param("FeatureGroupName"))
        return EmptyResult()

    def list_feature_groups_response(self: Any) -> Any:  # no paging or filters
        groups = sorted(self.sagemaker_backend.feature_groups.values(),
                        key=lambda g: g.feature_group_name)
        return ActionResult({"FeatureGroupSummaries": [
            {"FeatureGroupName": g.feature_group_name, "FeatureGroupArn": g.arn,
             "CreationTime": g.creation_time,
             "FeatureGroupStatus": getattr(g, "feature_group_status", "Created")}
            for g in groups]})

    # setattr: moto's classes are typed, and these names are new to them.
    setattr(FeatureGroup, "__init__", group_init)  # noqa: B010
    setattr(FeatureGroup, "describe", group_describe)  # noqa: B010
    setattr(SageMakerModelBackend, "describe_feature_group", describe_feature_group)  # noqa: B010
    setattr(SageMakerModelBackend, "delete_feature_group", delete_feature_group)  # noqa: B010
    setattr(SageMakerModelBackend, "_get_resource_from_arn", resource_from_arn)  # noqa: B010
    setattr(SageMakerResponse, "create_feature_group", create_feature_group_response)  # noqa: B010
    setattr(SageMakerResponse, "delete_feature_group", delete_feature_group_response)  # noqa: B010
    setattr(SageMakerResponse, "list_feature_groups", list_feature_groups_response)  # noqa: B010
    setattr(FeatureGroup, "_mlform_patched", True)  # noqa: B010


def patch_sagemaker_feature_additions() -> None:
    """UpdateFeatureGroup's FeatureAdditions (after `patch_sagemaker_feature_groups`)."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    if hasattr(SageMakerResponse, "_mlform_feature_additions"):
        return

    def find(backend: Any, name: str) -> Any:
        return backend._get_resource_from_arn(  # ResourceNotFound, as AWS answers
            f"arn:aws:sagemaker:{backend.region_name}:{backend.account_id}:feature-group/"
            f"{name}")

    def update_feature_group_response(self: Any) -> Any:
        group = find(self.sagemaker_backend, self._get_param("FeatureGroupName"))
        additions = self._get_param("FeatureAdditions") or []
        have = {f["FeatureName"] for f in group.feature_definitions}
        names = [f.get("FeatureName") for f in additions]
        problems = [f"Feature {n} already exists in the feature group" for n in names
                    if n in have or names.count(n) > 1]
        problems += [f"Feature name {n} is reserved" for n in names
                     if str(n).lower() in RESERVED_FEATURES]
        if len(additions) > 100:
            problems.append("FeatureAdditions may add at most 100 features")
        if len(have) + len(additions) > 2500:
            problems.append("a feature group has at most 2500 features")
        if problems:
            raise ValidationError(message=problems[0])
        group.feature_definitions = [*group.feature_definitions, *additions]
        group.last_update_status = {"Status": "Successful"}
        group.last_modified_time = utcnow()
        return ActionResult({"FeatureGroupArn": group.arn})

    setattr(SageMakerResponse, "update_feature_group", update_feature_group_response)  # noqa: B010
    setattr(SageMakerResponse, "_mlform_feature_additions", True)  # noqa: B010
