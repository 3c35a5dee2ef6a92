"""Amazon ECS task definitions: `aws_ecs_task_definition`.

A task definition revision is immutable: any change registers a new revision and deregisters the
old one (a replacement); services move to it with UpdateService (`ecs.py`). The new revision is
registered first and the old one deregistered last (create-before-destroy), so a service never
points at a revision that can no longer start tasks. Both have the family as their id, as in
Terraform; the revision's ARN tells them apart (`same_object`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from mlform.errors import ProviderError
from mlform.providers.aws.base import (
    all_tags,
    tag_list,
    tags_all_field,
    tags_field,
    user_tags,
)
from mlform.providers.aws.ecs import NAME, EcsResource, StringSet, ecs_tags, last_segment
from mlform.providers.aws.errors import aws_call, error_code, is_not_found, translate
from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discovered,
    ForceNew,
    JsonDocument,
    ResourceMeta,
)


def _prune(value: Any) -> Any:
    """Without nulls, empty lists and empty maps, which AWS adds and drops at will."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _container(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise ValueError("each container definition must be a mapping with a `name`")
    c: dict[str, Any] = _prune(value)
    # AWS fills in these defaults when it stores a definition.
    if c.get("essential") is True:
        del c["essential"]
    if c.get("cpu") == 0:
        del c["cpu"]
    for key in ("environment", "secrets"):  # order means nothing to ECS
        if isinstance(c.get(key), list):
            c[key] = sorted(c[key], key=lambda item: json.dumps(item, sort_keys=True))
    for port in c.get("portMappings") or []:
        if isinstance(port, dict) and port.get("protocol") == "tcp":
            del port["protocol"]
    return c


# Fargate's task sizes: CPU units -> memory in MiB (least, most, step), from the ECS
# Developer Guide ("Task CPU and memory"); 256 units also take 512 MiB.
FARGATE_MEMORY = {256: (1024, 2048, 1024), 512: (1024, 4096, 1024), 1024: (2048, 8192, 1024),
                  2048: (4096, 16384, 1024), 4096: (8192, 30720, 1024),
                  8192: (16384, 61440, 4096), 16384: (32768, 122880, 8192)}


def container_definitions_json(value: Any) -> str:
    """Container definitions, written as a YAML list or as JSON text, as one canonical JSON
    string: definitions that differ only in key order, whitespace or AWS's defaults are equal."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(value, list) or not value:
        raise ValueError("container definitions must be a non-empty list of containers")
    return json.dumps([_container(c) for c in value], sort_keys=True, separators=(",", ":"))


def _task_size(unit: str, per_unit: int) -> Any:
    """`1 vCPU` -> `1024`, `2 GB` -> `2048`, `512` -> `512`: as ECS stores them."""

    def convert(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str):
            m = re.fullmatch(rf"\s*(\d+(?:\.\d+)?)\s*{unit}\s*", value, re.IGNORECASE)
            if m:
                return str(int(float(m.group(1)) * per_unit))
        return value

    return BeforeValidator(convert)


class EcsTaskDefinitionArgs(ArgsModel):
    family: Annotated[str, ForceNew()] = Field(
        max_length=255, pattern=NAME,
        description="Family of the task definition (default: <project>-<environment>-<resource "
                    "name>).")
    container_definitions: Annotated[
        str, BeforeValidator(container_definitions_json), ForceNew(), JsonDocument()] = Field(
        description="The containers, as in ECS's API: a YAML list or a JSON string.")
    cpu: Annotated[str | None, _task_size("vCPU", 1024), ForceNew()] = Field(
        None, description="CPU units of the task (`256`, or `1 vCPU`); required by Fargate.")
    memory: Annotated[str | None, _task_size("GB", 1024), ForceNew()] = Field(
        None, description="Memory of the task in MiB (`512`, or `1 GB`); required by Fargate.")
    network_mode: Annotated[Literal["awsvpc", "bridge", "host", "none"], ForceNew()] = Field(
        "awsvpc", description="Docker networking mode; Fargate needs `awsvpc`.")
    requires_compatibilities: Annotated[StringSet, ForceNew()] = Field(
        default_factory=lambda: ["FARGATE"], validate_default=True,
        description="Launch types the task must run on.")
    execution_role_arn: Annotated[str | None, ForceNew()] = Field(
        None, description="Role ECS assumes to pull images and write logs.")
    task_role_arn: Annotated[str | None, ForceNew()] = Field(
        None, description="Role the containers' code runs as.")
    tags: dict[str, str] = tags_field("task definition")

    @field_validator("requires_compatibilities")
    @classmethod
    def _fargate_size(cls, value: list[str], info: ValidationInfo) -> list[str]:
        cpu, memory = info.data.get("cpu"), info.data.get("memory")
        if "FARGATE" not in value or not (isinstance(cpu, str) and isinstance(memory, str)):
            return value
        if not (cpu.isdigit() and memory.isdigit()):
            return value
        allowed = FARGATE_MEMORY.get(int(cpu))
        if allowed is None:
            raise ValueError(f"Fargate has no task size of {cpu} CPU units: choose one of "
                             f"{', '.join(str(c) for c in FARGATE_MEMORY)}")
        low, high, step = allowed
        size = int(memory)
        if not ((low <= size <= high and (size - low) % step == 0)
                or (int(cpu) == 256 and size == 512)):
            also = "512 or " if int(cpu) == 256 else ""
            raise ValueError(f"Fargate gives a task of {cpu} CPU units {also}{low} to {high} "
                             f"MiB of memory in steps of {step}, not {memory}")
        return value


class EcsTaskDefinitionAttrs(AttrsModel):
    arn: str = Field(description="ARN of this revision (`...:task-definition/<family>:<n>`).")
    arn_without_revision: str
    revision: int
    tags_all: dict[str, str] = tags_all_field()


def _align_host_ports(live: list[dict[str, Any]], prior: Any) -> None:
    """With awsvpc or host networking hostPort always equals containerPort, and AWS fills it in:
    leave it out where the prior definition left it out."""
    try:
        before = {c["name"]: c for c in json.loads(prior)} if isinstance(prior, str) else {}
    except (ValueError, TypeError, KeyError):
        return
    for container in live:
        unset = {p.get("containerPort") for p in before.get(container.get("name"), {})
                 .get("portMappings") or [] if "hostPort" not in p}
        for port in container.get("portMappings") or []:
            if port.get("containerPort") in unset and port.get("hostPort") == port.get(
                    "containerPort"):
                del port["hostPort"]


class EcsTaskDefinition(EcsResource[EcsTaskDefinitionArgs]):
    type_name: ClassVar[str] = "aws_ecs_task_definition"
    Args = EcsTaskDefinitionArgs
    Attrs = EcsTaskDefinitionAttrs
    name_arg: ClassVar[str] = "family"
    name_max_len: ClassVar[int] = 255
    create_before_destroy: ClassVar[bool] = True

    @classmethod
    def same_object(cls, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
        return str(a.get("arn")) == str(b.get("arn"))

    def _latest(self, family: str) -> str | None:
        """ARN of the family's newest active revision (in the sandbox, DescribeTaskDefinition of
        a family may answer with an inactive one)."""
        with aws_call("ecs", "ListTaskDefinitions"):
            arns = self.client.list_task_definitions(
                familyPrefix=family, status="ACTIVE", sort="DESC")["taskDefinitionArns"]
        mine = [a for a in arns if last_segment(a).rsplit(":", 1)[0] == family]
        return max(mine, key=lambda a: int(a.rsplit(":", 1)[1]), default=None)

    def create(self, args: EcsTaskDefinitionArgs, meta: ResourceMeta) -> dict[str, Any]:
        prior = args.model_dump(mode="json")
        latest = self._latest(args.family)
        have = self.read(latest, prior) if latest else None
        if have is not None:
            if not self.owns(have, meta):
                raise self.taken(args.family, have["tags_all"], meta, "RegisterTaskDefinition")
            content = {k: v for k, v in prior.items() if k != "tags"}
            if all(have[k] == v for k, v in content.items()):
                # Registered by an earlier call that did not return: finish that one.
                return self.update(have["id"], have, args, meta)
        params: dict[str, Any] = {
            "family": args.family,
            "containerDefinitions": json.loads(args.container_definitions),
            "networkMode": args.network_mode,
            "requiresCompatibilities": args.requires_compatibilities,
            "tags": tag_list(all_tags(args.tags, meta), "key", "value"),
        }
        optional = {"cpu": args.cpu, "memory": args.memory,
                    "executionRoleArn": args.execution_role_arn,
                    "taskRoleArn": args.task_role_arn}
        params.update({k: v for k, v in optional.items() if v})
        with aws_call("ecs", "RegisterTaskDefinition"):
            registered = self.client.register_task_definition(**params)
        arn = registered["taskDefinition"]["taskDefinitionArn"]
        return self.read(arn, prior) or self._attributes(
            registered["taskDefinition"], registered.get("tags"), prior)

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        # The family's newest revision may be the one a create-before-destroy replacement
        # was to replace: only a revision with these contents is what the create made.
        found = super().find(args, meta)
        wanted = args.model_dump(mode="json")
        if found is None or any(found.get(k) != v for k, v in wanted.items() if k != "tags"):
            return None
        return found

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        # The id is the family: read the revision recorded, else the newest active one.
        target = prior.get("arn") or (id if id.startswith("arn:") else self._latest(id))
        if target is None:
            return None
        try:
            found = self.client.describe_task_definition(taskDefinition=target,
                                                         include=["TAGS"])
        except ClientError as exc:
            if error_code(exc) == "ClientException" or is_not_found(exc):
                return None  # "Unable to describe task definition."
            raise translate(exc, "DescribeTaskDefinition") from exc
        task = found["taskDefinition"]
        if task.get("status") != "ACTIVE":
            return None  # deregistered: it can no longer start tasks
        return self._attributes(task, found.get("tags"), prior)

    def _attributes(self, task: Mapping[str, Any], tag_items: Any,
                    prior: Mapping[str, Any]) -> dict[str, Any]:
        tags = ecs_tags(tag_items)
        containers = [_container(c) for c in task.get("containerDefinitions") or []]
        if task.get("networkMode") in ("awsvpc", "host"):
            _align_host_ports(containers, prior.get("container_definitions"))
        args = EcsTaskDefinitionArgs.model_validate({
            "family": task["family"],
            "container_definitions": containers,
            "cpu": task.get("cpu"),
            "memory": task.get("memory"),
            "network_mode": task.get("networkMode", "bridge"),
            "requires_compatibilities": task.get("requiresCompatibilities") or [],
            "execution_role_arn": task.get("executionRoleArn"),
            "task_role_arn": task.get("taskRoleArn"),
            "tags": user_tags(tags),
        })
        arn = task["taskDefinitionArn"]
        return self.attributes(args, id=task["family"], arn=arn,
                               arn_without_revision=arn.rsplit(":", 1)[0],
                               revision=int(task["revision"]), tags_all=tags)

    def update(self, id: str, prior: Mapping[str, Any], args: EcsTaskDefinitionArgs,
               meta: ResourceMeta) -> dict[str, Any]:
        # Everything but the tags forces a new revision.
        have = self.read(id, prior)
        if have is None:
            raise ProviderError(f"task definition {prior['arn']} is no longer active")
        self.sync_tags(have["arn"], have["tags_all"], args.tags, meta)
        return self.read_back(id, prior)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        have = self.read(id, prior)
        if have is None:
            return
        try:
            self.client.deregister_task_definition(taskDefinition=have["arn"])
        except ClientError as exc:
            if error_code(exc) == "ClientException" and self.read(id, prior) is None:
                return  # deregistered meanwhile
            raise translate(exc, "DeregisterTaskDefinition") from exc

    def list(self) -> Iterator[Discovered]:
        with aws_call("ecs", "ListTaskDefinitionFamilies"):
            pages = self.client.get_paginator("list_task_definition_families").paginate(
                status="ACTIVE")
            families = [f for page in pages for f in page["families"]]
        for family in families:
            latest = self._latest(family)
            if latest is not None:
                with aws_call("ecs", "ListTagsForResource"):
                    tags = self.client.list_tags_for_resource(resourceArn=latest).get("tags")
                yield Discovered(id=family, tags=ecs_tags(tags))
