"""What the sandbox adds to moto for this service (see the package docstring).

- EKS UpdateClusterVersion: moto has no route for it (HTTP 404). mlform upgrades a cluster's
  Kubernetes version in place; as on AWS, only to the next minor version.
- EKS UpdateClusterConfig: moto replaces the whole VPC configuration with the request's, so an
  endpoint access change dropped the cluster's subnets. AWS changes only the fields sent.
- EKS TagResource, UntagResource, ListTagsForResource: moto knows cluster ARNs only, so a node
  group's tags could not be changed.
- EKS node group versions: moto has no UpdateNodegroupVersion (HTTP 404), gives a new node group
  its own default version (1.19) instead of its cluster's, and takes one newer than the cluster.
  As on AWS, a node group starts at its cluster's version, moves to a version no newer than it,
  and never downgrades.
- EKS's default Kubernetes version: moto's is 1.19, which AWS no longer offers; the sandbox's is
  1.35, in EKS standard support until 27 March 2027, so a cluster made without `version` can be
  upgraded as on AWS.
- EKS DescribeClusterVersions: moto has no route for it (HTTP 404). `mlform lock` asks it which
  Kubernetes version (and platform version) a cluster made without `version` gets, to pin it;
  the sandbox offers its default and the minor version before it, as EKS lists them.
"""

from __future__ import annotations

from typing import Any

DEFAULT_VERSION = "1.35"
# The sandbox's versions, oldest first: the one before the default is in extended support.
VERSIONS = (("1.34", "EXTENDED_SUPPORT"), (DEFAULT_VERSION, "STANDARD_SUPPORT"))


def patch_eks() -> None:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.eks import urls
    from moto.eks.exceptions import InvalidParameterException
    from moto.eks.models import EKSBackend
    from moto.eks.responses import EKSResponse
    from moto.moto_api._internal import mock_random

    if getattr(EKSBackend, "_mlform_patched", False):
        return
    _patch_versions()
    _patch_cluster_versions()

    def update_cluster_version(self: Any, name: str, version: str) -> dict[str, Any]:
        cluster = self.describe_cluster(name)  # raises if missing
        try:
            have = [int(p) for p in cluster.version.split(".")]
            wanted = [int(p) for p in version.split(".")]
        except ValueError:
            have = wanted = []
        if len(have) != 2 or wanted != [have[0], have[1] + 1]:
            raise InvalidParameterException(
                clusterName=name, nodegroupName=None, addonName=None,
                message=f"Unsupported Kubernetes minor version update from {cluster.version} "
                        f"to {version}")
        cluster.version = version
        return {"id": str(mock_random.uuid4()), "status": "Successful", "type": "VersionUpdate",
                "params": [{"type": "Version", "value": version}], "createdAt": utcnow(),
                "errors": []}

    def update_cluster_version_response(self: Any) -> Any:
        return ActionResult({"update": self.eks_backend.update_cluster_version(
            name=self._get_param("name"), version=self._get_param("version"))})

    original_update_config = EKSBackend.update_cluster_config

    def update_cluster_config(self: Any, name: str, resources_vpc_config: dict[str, Any],
                              **kwargs: Any) -> Any:
        cluster = self.clusters.get(name)
        if cluster is not None and resources_vpc_config:
            resources_vpc_config = {**cluster.resources_vpc_config, **resources_vpc_config}
        return original_update_config(self, name, resources_vpc_config, **kwargs)

    def nodegroup(backend: Any, arn: str) -> Any:
        return next((group for cluster in backend.clusters.values()
                     for group in cluster.nodegroups.values() if group.arn == arn), None)

    original_tag = EKSBackend.tag_resource
    original_untag = EKSBackend.untag_resource
    original_list_tags = EKSBackend.list_tags_for_resource

    def tag_resource(self: Any, resource_arn: str, tags: dict[str, str]) -> None:
        group = nodegroup(self, resource_arn)
        if group is None:
            return original_tag(self, resource_arn, tags)
        group.tags.update(tags)
        return None

    def untag_resource(self: Any, resource_arn: str, tag_keys: Any) -> None:
        group = nodegroup(self, resource_arn)
        if group is None:
            return original_untag(self, resource_arn, tag_keys)
        for key in [tag_keys] if isinstance(tag_keys, str) else tag_keys:
            group.tags.pop(key, None)
        return None

    def list_tags_for_resource(self: Any, resource_arn: str) -> dict[str, str]:
        group = nodegroup(self, resource_arn)
        return original_list_tags(self, resource_arn) if group is None else dict(group.tags)

    # Routes are read when the EKS app is first built, which is after this runs.
    urls.url_paths["{0}/clusters/(?P<name>[^/]+)/updates$"] = urls.response.dispatch
    setattr(EKSBackend, "update_cluster_version", update_cluster_version)  # noqa: B010
    setattr(EKSResponse, "update_cluster_version", update_cluster_version_response)  # noqa: B010
    setattr(EKSBackend, "update_cluster_config", update_cluster_config)  # noqa: B010
    setattr(EKSBackend, "tag_resource", tag_resource)  # noqa: B010
    setattr(EKSBackend, "untag_resource", untag_resource)  # noqa: B010
    setattr(EKSBackend, "list_tags_for_resource", list_tags_for_resource)  # noqa: B010
    setattr(EKSBackend, "_mlform_patched", True)  # noqa: B010


def _past_al2(version: str | None) -> bool:
    """Whether Kubernetes `version` comes after the last with Amazon Linux 2 node images."""
    from mlform.providers.aws.eks import LAST_AL2  # the rule the plan checks, shared

    return _minor(version) >= LAST_AL2


def _al2_too_new(ami_type: str | None, version: str | None) -> bool:
    return bool(ami_type) and str(ami_type).startswith("AL2_") and _past_al2(version)


def _al2_message(ami_type: str | None, version: str | None) -> str:
    return (f"AMI Type {ami_type} is only supported for kubernetes versions 1.32 or earlier; "
            f"Kubernetes {version} runs AL2023 (AL2023_x86_64_STANDARD, AL2023_x86_64_NVIDIA, "
            "...) or Bottlerocket AMI types")


def _minor(version: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in (version or "").split("."))
    except ValueError:
        return ()


def _patch_versions() -> None:
    """Kubernetes versions: the default, node groups at their cluster's, UpdateNodegroupVersion."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.eks import models as eks_models
    from moto.eks import urls
    from moto.eks.exceptions import InvalidParameterException
    from moto.eks.models import EKSBackend
    from moto.eks.responses import EKSResponse
    from moto.moto_api._internal import mock_random

    eks_models.DEFAULT_KUBERNETES_VERSION = DEFAULT_VERSION
    minor = _minor

    def refuse(cluster: str, group: str | None, message: str) -> Exception:
        return InvalidParameterException(clusterName=cluster, nodegroupName=group,
                                         addonName=None, message=message)

    original_create_nodegroup = EKSBackend.create_nodegroup

    def create_nodegroup(self: Any, **kwargs: Any) -> Any:
        cluster = self.clusters.get(kwargs["cluster_name"])
        if cluster is not None:
            kwargs["version"] = kwargs.get("version") or cluster.version
            if minor(kwargs["version"]) > minor(cluster.version):
                raise refuse(cluster.name, kwargs["nodegroup_name"],
                             f"Requested Nodegroup version {kwargs['version']} is newer than "
                             f"cluster version {cluster.version}")
            ami = kwargs.get("ami_type")
            if ami is None and _past_al2(kwargs["version"]):
                kwargs["ami_type"] = "AL2023_x86_64_STANDARD"  # EKS's default from 1.33 on
            elif _al2_too_new(ami, kwargs["version"]):
                raise refuse(cluster.name, kwargs["nodegroup_name"], _al2_message(
                    ami, kwargs["version"]))
        return original_create_nodegroup(self, **kwargs)

    def update_nodegroup_version(self: Any, cluster_name: str, nodegroup_name: str,
                                 version: str | None) -> dict[str, Any]:
        group = self.describe_nodegroup(cluster_name, nodegroup_name)  # raises if missing
        cluster = self.clusters[cluster_name]
        version = version or cluster.version
        if minor(version) > minor(cluster.version):
            raise refuse(cluster_name, nodegroup_name,
                         f"Requested Nodegroup version {version} is newer than cluster "
                         f"version {cluster.version}")
        if minor(version) < minor(group.version):
            raise refuse(cluster_name, nodegroup_name,
                         f"Nodegroup {nodegroup_name} cannot be downgraded from "
                         f"{group.version} to {version}")
        if _al2_too_new(group.ami_type, version):
            raise refuse(cluster_name, nodegroup_name, _al2_message(group.ami_type, version))
        group.version = version
        return {"id": str(mock_random.uuid4()), "status": "Successful", "type": "VersionUpdate",
                "params": [{"type": "Version", "value": version}], "createdAt": utcnow(),
                "errors": []}

    def update_nodegroup_version_response(self: Any) -> Any:
        return ActionResult({"update": self.eks_backend.update_nodegroup_version(
            cluster_name=self._get_param("name"),
            nodegroup_name=self._get_param("nodegroupName"),
            version=self._get_param("version"))})

    urls.url_paths["{0}/clusters/(?P<name>[^/]+)/node-groups/(?P<nodegroupName>[^/]+)"
                   "/update-version$"] = urls.response.dispatch
    setattr(EKSBackend, "create_nodegroup", create_nodegroup)  # noqa: B010
    setattr(EKSBackend, "update_nodegroup_version", update_nodegroup_version)  # noqa: B010
    setattr(EKSResponse, "update_nodegroup_version",  # noqa: B010
            update_nodegroup_version_response)


def _patch_cluster_versions() -> None:
    """DescribeClusterVersions: the sandbox's versions, its default marked."""
    from moto.core.responses import ActionResult
    from moto.eks import models as eks_models
    from moto.eks import urls
    from moto.eks.responses import EKSResponse

    def describe_cluster_versions(self: Any) -> Any:
        default_only = str(self._get_param("defaultOnly", "false")).lower() == "true"
        wanted = self.querystring.get("clusterVersions") or []
        found = [{"clusterVersion": version, "clusterType": "eks",
                  "defaultPlatformVersion": eks_models.DEFAULT_PLATFORM_VERSION,
                  "defaultVersion": version == DEFAULT_VERSION, "status": status,
                  "versionStatus": status}
                 for version, status in reversed(VERSIONS)
                 if (not default_only or version == DEFAULT_VERSION)
                 and (not wanted or version in wanted)]
        return ActionResult({"clusterVersions": found})

    urls.url_paths["{0}/cluster-versions$"] = urls.response.dispatch
    setattr(EKSResponse, "describe_cluster_versions", describe_cluster_versions)  # noqa: B010
