"""`feature_store`: a SageMaker feature group whose offline store lives in a dataset_store.

The group's role may write exactly under its offline store prefix. Glue table creation is off
by default (it needs Glue permissions the role does not get); turn it on with `glue_table`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from mlform.components.base import ComponentModel, ExpandContext, Expansion
from mlform.components.iam import document, role_policies, s3_access, trust

ROLE = "aws_iam_role.this"
GROUP = "aws_sagemaker_feature_group.this"


class FeatureStore(ComponentModel):
    type: Literal["feature_store"]
    offline_store: str = Field(description="S3 URI of the offline store, usually "
                                           "`${features.uri}/feature-store`.")
    record_identifier: str = Field(description="The feature that identifies a record.")
    event_time: str = Field(description="The feature that holds each record's time.")
    features: dict[str, Literal["Integral", "Fractional", "String"]] = Field(
        description="Every feature and its type (the two above included).")
    online: bool = Field(False, description="Also keep an online store for low-latency reads.")
    glue_table: bool = Field(False, description="Create a Glue table over the offline store.")
    description: str | None = None
    role_arn: str | None = Field(None, description="Role to use instead of the one made here.")

    outputs: ClassVar[dict[str, str]] = {"name": "The feature group's name",
                                         "arn": "The feature group's ARN"}

    @model_validator(mode="after")
    def _keys_are_features(self) -> FeatureStore:
        for key, name in (("record_identifier", self.record_identifier),
                          ("event_time", self.event_time)):
            if name not in self.features:  # (`key: ...` places the message at that key)
                raise ValueError(f"{key}: '{name}' must be one of the features "
                                 f"({', '.join(self.features)})")
        return self

    def expand(self, ctx: ExpandContext) -> Expansion:
        out = Expansion()
        role_arn = self.role_arn
        policies: list[str] = []
        if role_arn is None:
            out.add(ROLE, assume_role_policy=trust("sagemaker.amazonaws.com"),
                    description=f"Writes the offline store of feature group {ctx.name}",
                    tags=self.tags)
            policies = role_policies(out, ctx, ROLE, inline={"offline-store": document(
                s3_access("OfflineStore", [self.offline_store], write=True,
                          partition=ctx.partition))})
            role_arn = ctx.ref(ROLE, "arn")
        args: dict[str, Any] = {
            "record_identifier_feature_name": self.record_identifier,
            "event_time_feature_name": self.event_time,
            "feature_definition": [{"feature_name": n, "feature_type": t}
                                   for n, t in self.features.items()],
            "role_arn": role_arn,
            "offline_store_config": {"s3_storage_config": {"s3_uri": self.offline_store},
                                     "disable_glue_table_creation": not self.glue_table},
            "online_store_config": {"enable_online_store": self.online},
            "tags": self.tags,
        }
        if self.description:
            args["description"] = self.description
        out.add(GROUP, **args).depends_on = policies
        out.outputs = {"name": ctx.ref(GROUP, "feature_group_name"),
                       "arn": ctx.ref(GROUP, "arn")}
        return out
