"""Least-privilege IAM documents components give the roles they make.

They work on values that may still be references (`s3://${module.features...id}/models`): S3
URIs and image names are rewritten as text into the ARNs a policy needs. A dataset store
encrypted with a KMS key says so in its URI, which names the bucket through its encryption
configuration (`s3://${module.features.aws_s3_bucket_server_side_encryption_configuration.this
.bucket}`): whoever reads or writes under it is given that key (`kms_access`).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlform.components.base import ExpandContext, Expansion

_ENCRYPTED_BUCKET = re.compile(
    r"^s3://\$\{((?:module\.[a-z0-9-]+\.)?"
    r"aws_s3_bucket_server_side_encryption_configuration\.[A-Za-z0-9_-]+)\.bucket\}")
_KEY = "rule[0].apply_server_side_encryption_by_default.kms_master_key_id"
_REPOSITORY_URL = re.compile(
    r"^\$\{((?:module\.[a-z0-9-]+\.)?aws_ecr_repository\.[A-Za-z0-9_-]+)\.repository_url\}")


def trust(service: str) -> str:
    """The assume-role policy that lets `service` (sagemaker.amazonaws.com) use a role."""
    return document([{"Effect": "Allow", "Principal": {"Service": service},
                      "Action": "sts:AssumeRole"}])


def document(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def s3_arns(uri: str, partition: str = "aws") -> tuple[str, str]:
    """`s3://bucket/prefix` -> (the bucket's ARN, the ARN of the objects under the prefix)."""
    path = uri.removeprefix("s3://")
    bucket, _, prefix = path.partition("/")
    objects = f"{bucket}/{prefix.rstrip('/')}/*" if prefix else f"{bucket}/*"
    return f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{objects}"


def s3_access(sid: str, uris: list[str], *, write: bool,
              partition: str = "aws") -> list[dict[str, Any]]:
    """Read (and with `write`, write) the objects under each URI, and list their buckets; and
    use the KMS keys of the encrypted dataset stores among them (`kms_access`)."""
    if not uris:
        return []
    buckets, objects = zip(*(s3_arns(u, partition) for u in uris), strict=True)
    actions = ["s3:GetObject"] + (["s3:PutObject", "s3:DeleteObject"] if write else [])
    return [
        {"Sid": f"{sid}Objects", "Effect": "Allow", "Action": actions,
         "Resource": sorted(set(objects))},
        {"Sid": f"{sid}Buckets", "Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": sorted(set(buckets))},
        *kms_access(sid, uris, write=write),
    ]


def kms_keys(uris: list[str]) -> list[str]:
    """References to the KMS keys of the encrypted dataset stores `uris` are under."""
    found = (_ENCRYPTED_BUCKET.match(u) for u in uris)
    return sorted({"${" + m.group(1) + "." + _KEY + "}" for m in found if m})


def kms_access(sid: str, uris: list[str], *, write: bool) -> list[dict[str, Any]]:
    """Decrypt what is read from the encrypted dataset stores among `uris` (and with `write`,
    make the data keys S3 encrypts new objects with): S3 uses the caller's permissions on
    the bucket's KMS key. Nothing for buckets without one."""
    keys = kms_keys(uris)
    if not keys:
        return []
    actions = ["kms:Decrypt"] + (["kms:GenerateDataKey"] if write else [])
    return [{"Sid": f"{sid}Key", "Effect": "Allow", "Action": actions,
             "Resource": keys if len(keys) > 1 else keys[0]}]


def repository_arn(image: str, partition: str = "aws") -> str:
    """The ARN of the ECR repository `image` is pulled from: from a reference to the
    repository's URL (`${registry.url}:v3`), or from the URL itself; any repository when the
    image is not in ECR."""
    m = _REPOSITORY_URL.match(image)
    if m:
        return "${" + m.group(1) + ".arn}"
    host, _, path = image.partition("/")
    parts = host.split(".")
    if len(parts) >= 6 and parts[1:3] == ["dkr", "ecr"] and path and "${" not in host:
        repo = path.split("@", 1)[0].rsplit(":", 1)[0] if ":" in path else path
        return f"arn:{partition}:ecr:{parts[3]}:{parts[0]}:repository/{repo}"
    return "*"


def ecr_pull(images: list[str], partition: str = "aws") -> list[dict[str, Any]]:
    repos = sorted({repository_arn(i, partition) for i in images})
    return [
        {"Sid": "PullImage", "Effect": "Allow",
         "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer"],
         "Resource": repos if len(repos) > 1 else repos[0]},
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken",
         "Resource": "*"},
    ]


LOGS = {"Sid": "Logs", "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                   "cloudwatch:PutMetricData"], "Resource": "*"}


def role_policies(out: Expansion, ctx: ExpandContext, role: str, *,
                  inline: dict[str, str] | None = None,
                  managed: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Give the role `role` ("aws_iam_role.this") its policies as resources of their own, as
    Terraform 5.x prefers to a role's `inline_policy` and `managed_policy_arns`: an
    `aws_iam_role_policy` per inline policy (named after it) and an
    `aws_iam_role_policy_attachment` per managed policy (named after the role and the policy).
    Returns their local addresses: whatever runs as the role depends on them, so it never
    starts before its permissions are there.

    The role's whole lists are resources too, `aws_iam_role_policies_exclusive` and
    `aws_iam_role_policy_attachments_exclusive` (named after the role), listing exactly these:
    a policy attached or put by hand is then drift, which apply removes. They refer to the
    policies, so they converge after them and never remove one the component is adding."""
    made, names, arns = [], [], []
    name = ctx.ref(role, "name")
    short = role.split(".", 1)[1]
    for policy_name, policy in (inline or {}).items():
        local = f"aws_iam_role_policy.{policy_name}"
        out.add(local, role=name, name=policy_name, policy=policy)
        made.append(local)
        names.append(ctx.ref(local, "name"))
    for arn in managed:
        local = f"aws_iam_role_policy_attachment.{short}-{arn.rsplit('/', 1)[-1]}"
        out.add(local, role=name, policy_arn=arn)
        made.append(local)
        arns.append(ctx.ref(local, "policy_arn"))
    out.add(f"aws_iam_role_policies_exclusive.{short}", role_name=name, policy_names=names)
    out.add(f"aws_iam_role_policy_attachments_exclusive.{short}", role_name=name,
            policy_arns=arns)
    return made


def aws_policy(name: str, partition: str = "aws") -> str:
    """The ARN of the AWS managed policy `name` ("service-role/AmazonECSTaskExecutionRolePolicy")
    in `partition`."""
    return f"arn:{partition}:iam::aws:policy/{name}"
