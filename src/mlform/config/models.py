"""The shape of `mlform.yaml`, as pydantic models (the JSON Schema for editors comes from here).

Provider resources under `resources:` are validated against their own resource type's model once
the type is known (see `mlform.config.stack`), so here they are free-form mappings.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EncryptionConfig(Strict):
    """How state, its history and journal are encrypted at rest (AES-256-GCM)."""

    key: str | None = Field(
        None, description="`env:NAME`: a 256-bit key, base64 or hex, in that environment "
        "variable. It wraps a data key made for each stack.")
    passphrase: str | None = Field(
        None, description="`env:NAME`: a passphrase in that environment variable, stretched "
        "with scrypt into the key that wraps each stack's data key.")
    kms_key_id: str | None = Field(
        None, description="A KMS key id, ARN or alias in the environment's account and "
        "region: each stack's data key is wrapped by KMS (GenerateDataKey / Decrypt).")

    @model_validator(mode="after")
    def _one_source(self) -> EncryptionConfig:
        given = [n for n in ("key", "passphrase", "kms_key_id") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of `key`, `passphrase` or `kms_key_id`")
        for name in ("key", "passphrase"):
            value = getattr(self, name)
            if value is not None and not value.startswith("env:"):
                raise ValueError(f"`{name}` must name an environment variable (`env:NAME`); "
                                 "a key written in the config would be readable by anyone "
                                 "who can read the repository")
        return self


class StateConfig(Strict):
    backend: Literal["local", "s3", "postgres"] = Field(
        "local", description="Where state is kept. `local`: JSON files under `path`; `s3`: an "
        "object in a versioned S3 bucket (`bucket`, `key`); `postgres`: rows in a PostgreSQL "
        "database (`url`).")
    path: str = Field(
        ".mlform", description="Folder for local state, relative to the config file.")
    bucket: str | None = Field(None, description="`s3`: the versioned bucket that holds state.")
    key: str | None = Field(
        None, description="`s3`: the state object's key (default "
        "`<project>/<environment>/state.json`); each region of an environment of several "
        "gets `<region>/` inserted before the file name.")
    region: str | None = Field(
        None, description="`s3`: the bucket's region (default: the environment's).")
    url: str | None = Field(
        None, description="`postgres`: a libpq URL without a password "
        "(`postgresql://mlform@db.internal/infra`); the password comes from PGPASSWORD or "
        "~/.pgpass, never from the config. `env:NAME` reads the whole URL from a variable.")
    schema_name: str = Field(
        "mlform", alias="schema", description="`postgres`: the schema of mlform's tables.")
    lock_ttl: float = Field(
        60.0, gt=0, description="`s3`/`postgres`: seconds after which the lock of a holder "
        "that stopped renewing it (killed, machine gone) may be taken over. Holders renew it "
        "every quarter of this.")
    encryption: EncryptionConfig | None = Field(
        None, description="Encrypt state, history and journal at rest.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _backend_settings(self) -> StateConfig:
        needs = {"s3": ("bucket",), "postgres": ("url",), "local": ()}[self.backend]
        for name in needs:
            if not getattr(self, name):
                raise ValueError(f"backend `{self.backend}` needs `{name}`")
        extra = {"local": ("bucket", "key", "region", "url"), "s3": ("url",),
                 "postgres": ("bucket", "key", "region")}[self.backend]
        for name in extra:
            if getattr(self, name) is not None:
                raise ValueError(f"`{name}` is not a setting of backend `{self.backend}`")
        if self.url and re.match(r"^[a-z]+://[^/@]*:[^/@]*@", self.url):
            raise ValueError("`url` holds a password: give it in PGPASSWORD or ~/.pgpass, or "
                             "the whole URL with `url: env:NAME`")
        return self


class RolloutConfig(Strict):
    """How an apply goes over an environment's regions, as CloudFormation StackSets do."""

    order: list[str] = Field(
        default_factory=list,
        description="Regions in the order they are applied; regions not named follow in "
        "`regions` order.")
    max_parallel: int = Field(
        1, ge=1, description="How many regions are applied at once.")
    stop_after_failures: int = Field(
        1, ge=1, description="After this many regions fail, regions not yet started are left "
        "untouched.")


class EnvironmentConfig(Strict):
    target: Literal["sandbox", "aws"] = Field(
        "sandbox",
        description="`sandbox`: the local AWS-compatible cloud mlform runs itself; `aws`: AWS.",
    )
    region: str = Field("us-east-1", description="AWS region of this environment (one "
                        "region; see `regions` for several).")
    regions: list[str] | None = Field(
        None, min_length=1,
        description="Several AWS regions (`[ap-southeast-1, ap-northeast-1]`) instead of "
        "`region`: the stack is made in each, with its own state and lock, and default cloud "
        "names carry the region (S3 bucket and IAM names are global). `${mlform.region}` is "
        "each region's name.")
    rollout: RolloutConfig | None = Field(
        None, description="The order and failure tolerance of an apply over `regions`.")
    profile: str | None = Field(
        None, description="AWS named profile for `target: aws` (default credential chain if unset)."
    )
    account: str | None = Field(
        None, pattern=r"^[0-9]{12}$",
        description="`target: sandbox` only: the sandbox account this environment lives in "
        "(default 123456789012). Environments in different accounts see nothing of each other, "
        "as in AWS; on AWS the account is the profile's.")
    account_id: str | None = Field(
        None, pattern=r"^[0-9]{12}$",
        description="`target: aws` only: the AWS account the credentials must belong to; "
        "every run checks it (STS GetCallerIdentity) before its first call, and stops if the "
        "credentials belong to another account.")
    state: StateConfig = Field(default_factory=StateConfig)

    @property
    def region_names(self) -> list[str]:
        """The environment's regions: `regions`, or the one `region`."""
        return list(self.regions) if self.regions else [self.region]

    @model_validator(mode="after")
    def _account_on_sandbox(self) -> EnvironmentConfig:
        if self.regions is not None:
            if "region" in self.model_fields_set:
                raise ValueError("give `region` (one) or `regions` (several), not both")
            if len(set(self.regions)) != len(self.regions):
                raise ValueError("`regions` names a region twice")
            for name in self.regions:
                if not REGION_PATTERN.match(name):
                    raise ValueError(f"`regions`: '{name}' is not a region name "
                                     "(ap-southeast-1, us-east-1, ...)")
        if self.rollout is not None:
            if self.regions is None:
                raise ValueError("`rollout` orders the regions of `regions`; this environment "
                                 "has one `region`")
            unknown = [r for r in self.rollout.order if r not in self.regions]
            if unknown:
                raise ValueError(f"`rollout.order`: {', '.join(unknown)} "
                                 f"{'is' if len(unknown) == 1 else 'are'} not in `regions` "
                                 f"({', '.join(self.regions)})")
        if self.account is not None and self.target != "sandbox":
            raise ValueError("`account` chooses a sandbox account; on AWS the account is the "
                             "one `profile` (or the default credentials) signs in to")
        if self.account_id is not None and self.target != "aws":
            raise ValueError("`account_id` is the AWS account the credentials must belong to "
                             "(`target: aws`); a sandbox environment chooses its account with "
                             "`account:`")
        return self


class VariableConfig(BaseModel):
    """A variable: a default and per-environment values (`prod: ml.g4dn.2xlarge`)."""

    model_config = ConfigDict(extra="allow")

    default: Any = Field(None, description="Value for environments without their own.")
    description: str | None = None
    sensitive: bool = Field(
        False, description="The value is a secret: never shown in plans, outputs or logs, "
        "never written to state (only its keyed hash), and only usable where a resource "
        "takes a sensitive argument. It comes from `value_from` or `--var`, never from a "
        "value written in the config.")
    value_from: str | None = Field(
        None, description="Where a sensitive variable's value is read when a plan or apply "
        "needs it: env:NAME, file:PATH (relative to mlform.yaml), "
        "aws-secretsmanager:NAME_OR_ARN[#json-key] or ssm:/parameter/name.")

    @property
    def per_environment(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class LifecycleConfig(Strict):
    prevent_destroy: bool = Field(
        False, description="Refuse any plan that would delete or replace this resource."
    )
    create_before_destroy: bool | None = Field(
        None, description="Replace by creating the new object first (default: per type)."
    )
    ignore_changes: list[str] | Literal["all"] = Field(
        default_factory=list,
        description="Arguments (`desired_count`, `scaling_config.desired_size`, or `all`) whose "
        "live value is left alone: changes made outside mlform are neither reported as drift "
        "nor undone by apply. The config's value is still used to create the object.",
    )
    replace_triggered_by: list[str] = Field(
        default_factory=list,
        description="Replace this resource when one of these changes, as Terraform's: a "
        "resource's address (any planned update or replacement of it) or one of its "
        "attributes (`aws_sagemaker_endpoint_configuration.c.production_variants[0]."
        "instance_type`: a change of its value). Each is also a dependency.",
    )


class OutputConfig(Strict):
    value: Any = Field(description="The value, usually a reference such as ${aws_s3_bucket.x.arn}.")
    description: str | None = None
    sensitive: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # `name: ${x.y}` is shorthand for `name: {value: ${x.y}}`.
        if isinstance(data, dict) and "value" in data:
            return data
        return {"value": data}


class BudgetConfig(Strict):
    monthly_usd: float | dict[str, float] = Field(
        description="Most the environment may cost per month, in USD, as the plan estimates it "
        "(usual replicas, on-demand list prices): one figure, or per environment "
        "(`{dev: 200, prod: 20000}`, `default` for the others). A plan above it fails unless "
        "--allow-over-budget.")

    def for_environment(self, environment: str) -> float | None:
        if isinstance(self.monthly_usd, dict):
            value = self.monthly_usd.get(environment, self.monthly_usd.get("default"))
            return None if value is None else float(value)
        return float(self.monthly_usd)


class ImportConfig(Strict):
    to: str = Field(description="Address in this config to adopt the object as "
                                "(`aws_s3_bucket.raw`, `module.features.aws_s3_bucket.this`).")
    id: str = Field(min_length=1, description="The object's cloud id (a bucket or role name, "
                                              "an endpoint name, a VPC id).")


class MovedConfig(Strict):
    from_: str = Field(alias="from", description="The old address (`aws_iam_role.reader`) or "
                                                 "component (`module.api`).")
    to: str = Field(description="The new address or component (`module.serving`).")


class RemovedConfig(Strict):
    from_: str = Field(alias="from", description="The address no longer in the config "
                                                 "(`aws_s3_bucket.raw`, "
                                                 "`module.x.aws_s3_bucket.this`) or a whole "
                                                 "component (`module.x`).")
    destroy: bool = Field(True, description="true: delete the object (even if its state "
                                            "recorded `prevent_destroy`); false: forget it and "
                                            "leave it in the cloud.")


class ParityAllowance(Strict):
    """A difference between environments that `mlform parity` accepts, and why."""

    path: str = Field(
        min_length=1,
        description="What may differ: a component's setting (`fraud-api.replicas`), a "
        "resource's argument (`aws_s3_bucket.logs.tags`), or a resource or component that "
        "is not everywhere (`module.api.aws_iam_role.this`); shell-style globs (`*.nodes`).")
    reason: str = Field(
        description="Why the environments may differ here; shown with the difference.",
        json_schema_extra={"pattern": r"\S"})  # (the validator below says it in words)

    @field_validator("reason")
    @classmethod
    def _says_why(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an allowance needs a reason: say why the environments may "
                             "differ here")
        return value


class ParityConfig(Strict):
    """What `mlform parity` compares environments against."""

    allow: list[ParityAllowance] = Field(
        default_factory=list,
        description="Differences between environments that are intended, each with its "
        "reason (`{path: fraud-api.replicas, reason: prod takes real traffic}`); any other "
        "difference makes `mlform parity` exit 2.")


class Config(Strict):
    """Top level of `mlform.yaml`."""

    project: str = Field(
        pattern=NAME_PATTERN,
        description="Project name: lower-case letters, digits and dashes; part of cloud names.",
    )
    environments: dict[str, EnvironmentConfig] = Field(
        default_factory=lambda: {"default": EnvironmentConfig()},
        description="Named environments (dev, staging, prod) and where each one runs.",
    )
    include: list[str] = Field(
        default_factory=list,
        description="More files of `components:`, `resources:`, `outputs:`, `import:`, "
        "`moved:` and `removed:` entries, read as if written here: paths relative to this "
        "file, glob patterns allowed (`generated.yaml`, `platform/*.yaml`).")
    variables: dict[str, VariableConfig] = Field(default_factory=dict)
    components: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="ML building blocks by name (`features: {type: dataset_store}`); each "
        "expands into provider resources. `mlform schema` lists every type's settings.",
    )
    resources: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Provider resources keyed `TYPE.NAME`, with the Terraform AWS provider's "
        "argument names, plus `depends_on` and `lifecycle`.",
    )
    outputs: dict[str, OutputConfig] = Field(default_factory=dict)
    budget: BudgetConfig | None = Field(
        None, description="Monthly cost limit checked by every plan (see `mlform cost`).")
    import_: list[ImportConfig] = Field(
        default_factory=list, alias="import",
        description="Existing objects to adopt into the state without changing them: `plan` "
        "shows them as imports, `apply` records them. Entries already done are skipped.")
    moved: list[MovedConfig] = Field(
        default_factory=list,
        description="Renames: the object recorded at `from` is now `to` (a resource or a whole "
        "component). It is moved in the state, never destroyed and recreated; cloud names "
        "keep deriving from the old name, so keep the entry.")
    removed: list[RemovedConfig] = Field(
        default_factory=list,
        description="Resources or components taken out of the config on purpose: `destroy: "
        "false` forgets the object and leaves it in the cloud, `destroy: true` (the default) "
        "deletes it.")
    parity: ParityConfig = Field(
        default_factory=ParityConfig,
        description="How alike the environments must be (`mlform parity`): the differences "
        "allowed between them, with reasons.")


META_ARGUMENTS = ("depends_on", "lifecycle")
