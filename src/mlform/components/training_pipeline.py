"""`training_pipeline`: a SageMaker pipeline, its definition from a file or written inline.

The pipeline's role may run SageMaker jobs as itself, read and write the data listed in `data`
and pull the images in `images`; nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import Field, model_validator

from mlform.components.base import ComponentModel, ExpandContext, Expansion
from mlform.components.iam import LOGS, document, ecr_pull, role_policies, s3_access, trust
from mlform.errors import MlformError

ROLE = "aws_iam_role.this"
PIPELINE = "aws_sagemaker_pipeline.this"
DEFINITION_VERSION = "2020-12-01"


class TrainingPipeline(ComponentModel):
    type: Literal["training_pipeline"]
    definition_file: str | None = Field(
        None, description="Pipeline definition (JSON or YAML), relative to mlform.yaml.")
    steps: list[dict[str, Any]] | None = Field(
        None, description="The definition's steps, written inline instead of a file.")
    parameters: list[dict[str, Any]] = Field(
        default_factory=list, description="Pipeline parameters, with inline `steps`.")
    display_name: str | None = None
    description: str | None = None
    data: list[str] = Field(default_factory=list,
                            description="S3 URIs the jobs may read and write.")
    images: list[str] = Field(default_factory=list, description="Images the jobs may pull.")
    role_arn: str | None = Field(None, description="Role to use instead of the one made here.")

    image_fields: ClassVar[tuple[str, ...]] = ("images",)
    outputs: ClassVar[dict[str, str]] = {"name": "The pipeline's name",
                                         "arn": "The pipeline's ARN",
                                         "role_arn": "The role its steps run as"}

    @model_validator(mode="after")
    def _one_definition(self) -> TrainingPipeline:
        if (self.definition_file is None) == (self.steps is None):
            raise ValueError("give the definition either as definition_file or as steps")
        return self

    def expand(self, ctx: ExpandContext) -> Expansion:
        out = Expansion()
        role_arn = self.role_arn
        policies: list[str] = []
        if role_arn is None:
            # Named here so the role can be allowed to pass itself to the jobs it starts
            # (a reference to its own ARN would be a cycle).
            role_name = ctx.default_name(max_len=64)
            statements: list[dict[str, Any]] = [
                {"Sid": "RunJobs", "Effect": "Allow",
                 "Action": ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob",
                            "sagemaker:StopTrainingJob", "sagemaker:CreateProcessingJob",
                            "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob",
                            "sagemaker:CreateModel", "sagemaker:AddTags"],
                 "Resource": "*"},
                {"Sid": "PassItself", "Effect": "Allow", "Action": "iam:PassRole",
                 "Resource": f"arn:{ctx.partition}:iam::*:role/{role_name}"},
                *s3_access("Data", self.data, write=True, partition=ctx.partition), LOGS,
            ]
            if self.images:
                statements[:0] = ecr_pull(self.images, ctx.partition)
            out.add(ROLE, name=role_name, assume_role_policy=trust("sagemaker.amazonaws.com"),
                    description=f"Runs the steps of pipeline {ctx.name}", tags=self.tags)
            policies = role_policies(out, ctx, ROLE, inline={"pipeline": document(statements)})
            role_arn = ctx.ref(ROLE, "arn")
        args: dict[str, Any] = {"role_arn": role_arn, "pipeline_definition": self._definition(ctx),
                                "tags": self.tags}
        if self.display_name:
            args["pipeline_display_name"] = self.display_name
        if self.description:
            args["pipeline_description"] = self.description
        out.add(PIPELINE, **args).depends_on = policies
        out.outputs = {"name": ctx.ref(PIPELINE, "pipeline_name"),
                       "arn": ctx.ref(PIPELINE, "arn"), "role_arn": role_arn}
        return out

    def _definition(self, ctx: ExpandContext) -> str:
        if self.steps is not None:
            return json.dumps({"Version": DEFINITION_VERSION, "Parameters": self.parameters,
                               "Steps": self.steps})
        path = Path(str(self.definition_file))
        if not path.is_absolute() and ctx.base_dir is not None:
            path = ctx.base_dir / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MlformError(f"definition_file {self.definition_file}: {exc.strerror}") from None
        try:
            loaded = yaml.safe_load(text)  # JSON is YAML too
        except yaml.YAMLError as exc:
            raise MlformError(f"definition_file {self.definition_file} is neither JSON nor "
                              f"YAML: {exc}") from None
        if not isinstance(loaded, dict) or "Steps" not in loaded:
            raise MlformError(f"definition_file {self.definition_file}: a pipeline definition "
                              "is a mapping with `Version` and `Steps`")
        return json.dumps(loaded)
