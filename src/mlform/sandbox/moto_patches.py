"""Gaps in moto that the sandbox fills, so that what works here works on AWS the same way.

Each patch adds behaviour AWS has and moto lacks; none changes behaviour moto already has.
Applied once, in the sandbox server process only.
- SageMaker UpdateEndpoint: moto answers HTTP 500. mlform updates an endpoint in place to move
  it to a new endpoint configuration, so the sandbox needs it.
- SageMaker CreateModel EnableNetworkIsolation: moto drops the flag, so it read back as false
  and a model asking for isolation would be replaced on every apply.
"""

from __future__ import annotations

from typing import Any


def apply_patches() -> None:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    if getattr(SageMakerModelBackend, "_mlform_patched", False):
        return

    def update_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str) -> Any:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f"Could not find endpoint '{arn}'.")
        config = self.describe_endpoint_config(endpoint_config_name)  # raises if missing
        endpoint.endpoint_config_name = endpoint_config_name
        endpoint.production_variants = endpoint._process_production_variants(
            config["ProductionVariants"])
        endpoint.data_capture_config = config.get("DataCaptureConfig")
        endpoint.last_modified_time = utcnow()
        return endpoint

    def update_endpoint_response(self: Any) -> Any:
        endpoint = self.sagemaker_backend.update_endpoint(
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
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
