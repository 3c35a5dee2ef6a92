"""`mlform lock`: find out what mlform.lock pins, for every environment and region of a config.

Each (environment, region) is loaded as a plan would load it, with the old lock's pins (none
with `update`), so components report what they used (a GPU type: pinned, or resolved now).
A model registry's latest approved package is looked up by the load itself (the component
asks SageMaker while expanding, unless the old lock pins it). Then what only the cloud knows
is looked up: each image tag's digest (ECR DescribeImages),
and for each GPU cluster whose config leaves `kubernetes_version` unset, the version it runs,
or, before it exists, the one EKS gives a new cluster (DescribeClusterVersions). Without
`update` a pin the old lock holds is kept, so only what is new is looked up; an image that
could not be pinned is tried again. The file format is `mlform.config.lockfile`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlform import __version__
from mlform.config.lockfile import (
    EksObserved,
    EksPin,
    GpuPin,
    ImagePin,
    ImageRef,
    ImageUse,
    LockData,
    ModelPackagePin,
    RegionPins,
    lock_path,
    moved,
    read_lock,
    write_lock,
)
from mlform.config.stack import DEFAULT_CONFIG, Stack, load_stack
from mlform.errors import MlformError
from mlform.providers.registry import Registry, default_registry

CLUSTER = "aws_eks_cluster.this"


@dataclass
class LockResult:
    """What `make_lock` found: the new lock, and what differs from the old one."""

    path: Path
    data: LockData
    changes: list[str]  # a line per pin added, moved or removed (`old -> new`)
    unpinned: list[str] = field(default_factory=list)  # a line per image left unpinned
    written: bool = False  # False: the file already said exactly this


def make_lock(
    config: str | os.PathLike[str] = DEFAULT_CONFIG,
    environments: Sequence[str] = (),
    regions: Sequence[str] = (),
    *,
    update: bool = False,
    variables: Mapping[str, Any] | None = None,
    var_files: Sequence[str | os.PathLike[str]] = (),
    registry: Registry | None = None,
    home: str | None = None,
    write: bool = True,
) -> LockResult:
    """Lock `environments` (default: every one) in each of their regions (or `regions`), and
    write mlform.lock if anything changed (unless not `write`). `update`: look every pin up
    again instead of keeping the old lock's."""
    from mlform.cost.catalog import load_catalog

    path = lock_path(config)
    old = read_lock(path)
    registry = registry or default_registry()

    def load(env: str | None, region: str | None, offline: bool) -> Stack:
        return load_stack(config, env, variables, var_files=var_files, registry=registry,
                          home=home, offline=offline, region=region,
                          lock=None if update else old)

    first = load(environments[0] if environments else None, None, True)
    names = list(environments) or list(first.environments)
    # Locking part of the config keeps the rest of the old lock; locking all of it drops what
    # the config no longer has.
    partial = bool(environments or regions)
    locked = ({e: dict(r) for e, r in old.data.environments.items()}
              if partial and old is not None else {})
    for env in names:
        env_stack = first if env == first.context.environment else load(env, None, True)
        wanted = [r for r in env_stack.env.region_names if not regions or r in regions]
        entry = locked[env] = locked.get(env, {}) if regions else {}
        for region in wanted:
            stack = load(env, region, False)
            before = old.data.region(env, region) if old is not None and not update else None
            entry[region] = _region_pins(stack, before)
    data = LockData(mlform=__version__, catalog=load_catalog(home).version,
                    environments=locked)
    result = LockResult(path, data, moved(old.data if old else None, data),
                        _unpinned(data))
    if write and (old is None or old.data != data):
        write_lock(path, data)
        result.written = True
    return result


def _unpinned(data: LockData) -> list[str]:
    return [f"[{env}/{region}] {component}.{setting} {pin.uri}: {pin.unpinned}"
            for env, regions in sorted(data.environments.items())
            for region, pins in sorted(regions.items())
            for component, images in sorted(pins.images.items())
            for setting, pin in sorted(images.items()) if pin.digest is None]


def _region_pins(stack: Stack, before: RegionPins | None) -> RegionPins:
    """The pins of one environment in one region: kept from `before` where it has them."""
    lookups = _Lookups(stack)
    pins = RegionPins()
    for component, uses in stack.images.items():
        for setting, use in uses.items():
            if use.ref.reason == "pinned in the config":
                continue
            kept = use.pin if use.pin is not None and use.pin.digest else None
            pins.images.setdefault(component, {})[setting] = kept or lookups.image(use)
    for component, used in stack.pins.items():
        if "gpu" in used:
            pins.gpu[component] = GpuPin.model_validate(used["gpu"])
        if "model_package" in used:  # looked up (or kept) by the registry's expansion
            pins.model_packages[component] = ModelPackagePin.model_validate(
                used["model_package"])
        if "eks" in used:
            previous = before.eks.get(component) if before is not None else None
            pins.eks[component] = lookups.eks(component, used["eks"], previous)
    return pins


class _Lookups:
    """The cloud calls of one (environment, region), through one session opened on first use."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.region = stack.context.region
        self._session: Any = None
        self._uris: dict[tuple[str, str | None, str], str] = {}
        self._clusters: dict[str, dict[str, Any] | None] = {}
        self._default: tuple[str, str | None] | None = None

    def client(self, service: str, region: str | None = None) -> Any:
        if self._session is None:
            from mlform.providers.aws.session import open_session

            self._session = open_session(self.stack.context)
        return self._session.client(service, region or self.region)

    def _where(self, what: str) -> str:
        ctx = self.stack.context
        return f"mlform lock [{ctx.environment}/{ctx.region}] {what}"

    # -- images -----------------------------------------------------------------------------

    def image(self, use: ImageUse) -> ImagePin:
        """The digest `use`'s tag points at now, or why there is none."""
        ref = use.ref
        if ref.reason is not None or ref.repository is None or ref.tag is None:
            return ImagePin(uri=ref.text, unpinned=ref.reason)
        from botocore.exceptions import ClientError

        from mlform.providers.aws.errors import error_code, translate

        region = ref.region or self.region
        ecr = self.client("ecr", region)
        owner = {"registryId": ref.registry} if ref.registry else {}
        label = ref.text if ref.registry else f"{ref.repository}:{ref.tag}"
        try:
            details = ecr.describe_images(repositoryName=ref.repository,
                                          imageIds=[{"imageTag": ref.tag}], **owner)
            uri = self._uri(ecr, ref, region)
        except ClientError as exc:
            code = error_code(exc)
            if code == "RepositoryNotFoundException":
                why = (f"repository {ref.repository} does not exist yet (apply, push the image, "
                       "then run `mlform lock`)")
            elif code == "ImageNotFoundException":
                why = (f"no image is tagged {ref.tag} in {ref.repository} yet (push it, then "
                       "run `mlform lock`)")
            else:
                raise MlformError(f"{self._where(label)}: "
                                  f"{translate(exc, 'DescribeImages').message}") from None
            return ImagePin(uri=label, repository=ref.repository, tag=ref.tag, unpinned=why)
        digest = details["imageDetails"][0]["imageDigest"]
        return ImagePin(uri=f"{uri}:{ref.tag}", repository=ref.repository, tag=ref.tag,
                        digest=digest)

    def _uri(self, ecr: Any, ref: ImageRef, region: str) -> str:
        """The repository's URI, as ECR gives it (account, region and partition's domain)."""
        key = (region, ref.registry, str(ref.repository))
        if key not in self._uris:
            owner = {"registryId": ref.registry} if ref.registry else {}
            found = ecr.describe_repositories(repositoryNames=[ref.repository], **owner)
            self._uris[key] = found["repositories"][0]["repositoryUri"]
        return self._uris[key]

    # -- EKS --------------------------------------------------------------------------------

    def eks(self, component: str, used: Mapping[str, Any], before: EksPin | None) -> EksPin:
        """A GPU cluster's pins: the Kubernetes version when the config leaves it to EKS (the
        live cluster's, else EKS's default for a new one), mlform's AMI types, and what AWS
        chose that mlform cannot set (recorded)."""
        version = used.get("kubernetes_version")
        config_sets = self.stack.settings.get(component, {}).get("kubernetes_version")
        if version is None and not config_sets:
            live = self._cluster(component)
            version = live["version"] if live else self._default_version()[0]
        if before is not None and before.observed != EksObserved():
            observed = before.observed
        else:
            observed = self._observed(component, self._cluster(component))
        return EksPin(kubernetes_version=version, ami_types=dict(used.get("ami_types") or {}),
                      observed=observed)

    def _cluster_name(self, component: str) -> str | None:
        res = self.stack.resources.get(f"module.{component}.{CLUSTER}")
        name = res.template.get("name") if res is not None else None
        return name if isinstance(name, str) and "${" not in name else None

    def _cluster(self, component: str) -> dict[str, Any] | None:
        """The cluster as EKS describes it, or None when it does not exist (yet)."""
        if component not in self._clusters:
            self._clusters[component] = self._describe_cluster(component)
        return self._clusters[component]

    def _describe_cluster(self, component: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        from mlform.providers.aws.errors import is_not_found, translate

        name = self._cluster_name(component)
        if name is None:
            return None
        try:
            return dict(self.client("eks").describe_cluster(name=name)["cluster"])
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise MlformError(f"{self._where(component)}: "
                              f"{translate(exc, 'DescribeCluster').message}") from None

    def _default_version(self) -> tuple[str, str | None]:
        """(Kubernetes version, platform version) EKS gives a cluster made without one."""
        if self._default is None:
            self._default = self._describe_default()
        return self._default

    def _describe_default(self) -> tuple[str, str | None]:
        from botocore.exceptions import ClientError

        from mlform.providers.aws.errors import translate

        try:
            found = self.client("eks").describe_cluster_versions(
                defaultOnly=True)["clusterVersions"]
        except ClientError as exc:
            raise MlformError(f"{self._where('EKS')}: "
                              f"{translate(exc, 'DescribeClusterVersions').message}") from None
        default = next((v for v in found if v.get("defaultVersion")), found[0] if found else None)
        if default is None:
            raise MlformError(f"{self._where('EKS')}: DescribeClusterVersions named no default "
                              "Kubernetes version; set kubernetes_version in the config")
        return str(default["clusterVersion"]), default.get("defaultPlatformVersion")

    def _observed(self, component: str, live: dict[str, Any] | None) -> EksObserved:
        """The platform version (the live cluster's, else a new one's) and the AMI types EKS
        chose for node groups whose config leaves them unset (once they exist)."""
        if live is None:
            return EksObserved(platform_version=self._default_version()[1])
        groups = {r.name: r.template.get("node_group_name_prefix")
                  for r in self.stack.resources.values()
                  if r.component == component and r.type == "aws_eks_node_group"
                  and r.template.get("ami_type") is None}
        eks = self.client("eks")
        names = [n for page in eks.get_paginator("list_nodegroups").paginate(
            clusterName=live["name"]) for n in page["nodegroups"]]
        amis: dict[str, str] = {}
        for group, prefix in sorted(groups.items()):
            match = next((n for n in sorted(names)
                          if isinstance(prefix, str) and n.startswith(prefix)), None)
            if match is not None:
                found = eks.describe_nodegroup(clusterName=live["name"], nodegroupName=match)
                ami = found["nodegroup"].get("amiType")
                if ami:
                    amis[group] = ami
        return EksObserved(platform_version=live.get("platformVersion"), ami_types=amis)
