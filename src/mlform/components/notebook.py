"""`notebook`: a SageMaker notebook instance with its own least-privilege role.

The role may read (and write) exactly the data listed in `data` and pull exactly the images in
`images`. With `internet: false` the notebook has no direct internet access and reaches AWS
only through its subnet (which then is required). Lifecycle scripts run on create and start.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from mlform.components.base import ComponentModel, ExpandContext, Expansion
from mlform.components.iam import LOGS, document, ecr_pull, role_policies, s3_access, trust

ROLE = "aws_iam_role.this"
LIFECYCLE = "aws_sagemaker_notebook_instance_lifecycle_configuration.this"
NOTEBOOK = "aws_sagemaker_notebook_instance.this"


class Notebook(ComponentModel):
    type: Literal["notebook"]
    instance_type: str = Field("ml.t3.medium", description="Notebook instance type.")
    volume_size: int = Field(5, ge=5, le=16384, description="Storage, in GB.")
    internet: bool = Field(
        True, description="Direct internet access. false: only through `subnet_id`'s VPC.")
    subnet_id: str | None = Field(None, description="Subnet to run in (needed without "
                                                    "internet access).")
    security_groups: list[str] = Field(default_factory=list,
                                       description="Security groups, with `subnet_id`.")
    root_access: bool = Field(True, description="Whether users get root on the instance.")
    kms_key_id: str | None = Field(None, description="KMS key for the storage volume.")
    data: list[str] = Field(default_factory=list, description="S3 URIs the notebook may read "
                                                              "and write (`${features.uri}`).")
    images: list[str] = Field(default_factory=list,
                              description="Container images the notebook may pull.")
    on_create: str | None = Field(None, description="Shell script run once, at creation.")
    on_start: str | None = Field(None, description="Shell script run at every start.")
    role_arn: str | None = Field(None, description="Role to use instead of the one made here.")

    outputs: ClassVar[dict[str, str]] = {
        "name": "The notebook instance's name",
        "url": "Host name of its Jupyter server",
        "arn": "The notebook instance's ARN",
        "role_arn": "The role its code runs as",
    }

    @model_validator(mode="after")
    def _subnet_without_internet(self) -> Notebook:
        if not self.internet and not self.subnet_id:
            raise ValueError("internet: false needs a subnet_id: without direct internet "
                             "access the notebook reaches AWS only through a VPC")
        return self

    def expand(self, ctx: ExpandContext) -> Expansion:
        out = Expansion()
        role_arn = self.role_arn
        policies: list[str] = []
        if role_arn is None:
            statements = [*s3_access("Data", self.data, write=True, partition=ctx.partition),
                          LOGS]
            if self.images:
                statements[:0] = ecr_pull(self.images, ctx.partition)
            out.add(ROLE, assume_role_policy=trust("sagemaker.amazonaws.com"),
                    description=f"Runs the code of notebook {ctx.name}", tags=self.tags)
            policies = role_policies(out, ctx, ROLE, inline={"notebook": document(statements)})
            role_arn = ctx.ref(ROLE, "arn")
        notebook: dict[str, Any] = {
            "role_arn": role_arn, "instance_type": self.instance_type,
            "volume_size": self.volume_size,
            "direct_internet_access": "Enabled" if self.internet else "Disabled",
            "root_access": "Enabled" if self.root_access else "Disabled", "tags": self.tags,
        }
        if self.subnet_id:
            notebook["subnet_id"] = self.subnet_id
            notebook["security_groups"] = self.security_groups
        if self.kms_key_id:
            notebook["kms_key_id"] = self.kms_key_id
        if self.on_create or self.on_start:
            out.add(LIFECYCLE, on_create=_b64(self.on_create), on_start=_b64(self.on_start))
            notebook["lifecycle_config_name"] = ctx.ref(LIFECYCLE, "name")
        out.add(NOTEBOOK, **notebook).depends_on = policies
        out.outputs = {"name": ctx.ref(NOTEBOOK, "name"), "url": ctx.ref(NOTEBOOK, "url"),
                       "arn": ctx.ref(NOTEBOOK, "arn"), "role_arn": role_arn}
        return out


def _b64(script: str | None) -> str | None:
    return base64.b64encode(script.encode()).decode() if script else None
