"""What the sandbox adds to moto for this service (see the package docstring).

- Application Auto Scaling tags: moto drops the `Tags` of RegisterScalableTarget and answers
  HTTP 500 to ListTagsForResource, TagResource and UntagResource, so a scalable target could
  not carry mlform's tags, by which an interrupted create finds it again.
- DeregisterScalableTarget deletes the target's scaling policies, as AWS does; moto kept them,
  so a target registered again would have found its old policies still attached.
"""

from __future__ import annotations

from typing import Any


def patch_application_autoscaling() -> None:
    import json

    from moto.applicationautoscaling.models import (
        ApplicationAutoscalingBackend,
        FakeScalableTarget,
    )
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
    from moto.core.exceptions import JsonRESTError

    if getattr(FakeScalableTarget, "_mlform_patched", False):
        return

    def target_by_arn(response: Any) -> Any:
        arn = response._get_param("ResourceARN")
        for by_resource in response.applicationautoscaling_backend.targets.values():
            for target in by_resource.values():
                if target.arn == arn:
                    return target
        raise JsonRESTError("ResourceNotFoundException", f"No scalable target found for {arn}")

    original_register = ApplicationAutoScalingResponse.register_scalable_target

    def register_scalable_target(self: Any) -> Any:
        backend = self.applicationautoscaling_backend
        resource_id = self._get_param("ResourceId")
        dimension = self._get_param("ScalableDimension")
        existed = backend._scalable_target_exists(resource_id, dimension)
        result = original_register(self)
        tags = self._get_param("Tags")
        if tags and not existed:  # tags given here apply to a new target only
            backend.targets[dimension][resource_id].tags = dict(tags)
        return result

    def list_tags_for_resource(self: Any) -> str:
        return json.dumps({"Tags": getattr(target_by_arn(self), "tags", {})})

    def tag_resource(self: Any) -> str:
        target = target_by_arn(self)
        target.tags = {**getattr(target, "tags", {}), **(self._get_param("Tags") or {})}
        return json.dumps({})

    def untag_resource(self: Any) -> str:
        target = target_by_arn(self)
        removed = set(self._get_param("TagKeys") or [])
        target.tags = {k: v for k, v in getattr(target, "tags", {}).items() if k not in removed}
        return json.dumps({})

    original_deregister = ApplicationAutoscalingBackend.deregister_scalable_target

    def deregister_scalable_target(self: Any, namespace: str, r_id: str, dimension: str) -> None:
        original_deregister(self, namespace, r_id, dimension)  # raises if there is none
        for key, policy in list(self.policies.items()):
            if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (
                    namespace, r_id, dimension):
                policy.delete_alarms(self.account_id, self.region_name)
                del self.policies[key]

    # setattr: moto's classes are typed, and these names are new to them.
    setattr(ApplicationAutoscalingBackend, "deregister_scalable_target",  # noqa: B010
            deregister_scalable_target)
    setattr(ApplicationAutoScalingResponse, "register_scalable_target",  # noqa: B010
            register_scalable_target)
    setattr(ApplicationAutoScalingResponse, "list_tags_for_resource",  # noqa: B010
            list_tags_for_resource)
    setattr(ApplicationAutoScalingResponse, "tag_resource", tag_resource)  # noqa: B010
    setattr(ApplicationAutoScalingResponse, "untag_resource", untag_resource)  # noqa: B010
    setattr(FakeScalableTarget, "_mlform_patched", True)  # noqa: B010
