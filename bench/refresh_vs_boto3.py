"""Refresh cost: mlform reading examples/ml-platform in three regions vs direct boto3 reads.

    python bench/refresh_vs_boto3.py             # 3 regions, median of 5 rounds
    python bench/refresh_vs_boto3.py --rounds 9 --markdown

The example is applied on a private sandbox once per region (eu-west-1, us-east-1, us-west-2;
each copy under its own project name, as S3 and IAM names are global). Then, side by side in
alternating order, each round times:

- mlform: `Workspace.drift()` for each region (what `mlform drift` and `mlform refresh` do: load
  the state, open a session, read every managed object, compare), counting API calls;
- boto3: the minimal direct read of the same objects, one Describe/Get call per object
  (`describe_endpoint`, `get_role`, `get_bucket_versioning`...), with a fresh session and the same
  parallelism (10 threads), which is the least any tool can do without batching.

Prints objects, API calls and wall time of each side, and the ratios the refresh work is held
to: API calls under 3 x the object count, time at most 1.5 x the boto3 reads. Not a test:
nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ml-platform" / "mlform.yaml"
REGIONS = ("eu-west-1", "us-east-1", "us-west-2")
THREADS = 10

A = dict[str, Any]
# One minimal read per type: (service, call(client, id, attributes)).
READS: dict[str, tuple[str, Callable[[Any, str, A], Any]]] = {
    "aws_s3_bucket": ("s3", lambda c, i, a: c.head_bucket(Bucket=i)),
    "aws_s3_bucket_versioning": ("s3", lambda c, i, a: c.get_bucket_versioning(Bucket=i)),
    "aws_s3_bucket_server_side_encryption_configuration": (
        "s3", lambda c, i, a: c.get_bucket_encryption(Bucket=i)),
    "aws_s3_bucket_public_access_block": (
        "s3", lambda c, i, a: c.get_public_access_block(Bucket=i)),
    "aws_s3_bucket_lifecycle_configuration": (
        "s3", lambda c, i, a: c.get_bucket_lifecycle_configuration(Bucket=i)),
    "aws_iam_role": ("iam", lambda c, i, a: c.get_role(RoleName=i)),
    "aws_ecr_repository": ("ecr", lambda c, i, a: c.describe_repositories(
        repositoryNames=[i])),
    "aws_ecr_lifecycle_policy": ("ecr", lambda c, i, a: c.get_lifecycle_policy(
        repositoryName=i)),
    "aws_vpc": ("ec2", lambda c, i, a: c.describe_vpcs(VpcIds=[i])),
    "aws_subnet": ("ec2", lambda c, i, a: c.describe_subnets(SubnetIds=[i])),
    "aws_security_group": ("ec2", lambda c, i, a: c.describe_security_groups(GroupIds=[i])),
    "aws_eks_cluster": ("eks", lambda c, i, a: c.describe_cluster(name=i)),
    "aws_eks_node_group": ("eks", lambda c, i, a: c.describe_nodegroup(
        clusterName=a["cluster_name"], nodegroupName=a["node_group_name"])),
    "aws_ecs_cluster": ("ecs", lambda c, i, a: c.describe_clusters(clusters=[i])),
    "aws_ecs_service": ("ecs", lambda c, i, a: c.describe_services(
        cluster=a["cluster"], services=[a["name"]])),
    "aws_ecs_task_definition": ("ecs", lambda c, i, a: c.describe_task_definition(
        taskDefinition=a.get("arn", i))),
    "aws_db_instance": ("rds", lambda c, i, a: c.describe_db_instances(
        DBInstanceIdentifier=i)),
    "aws_db_subnet_group": ("rds", lambda c, i, a: c.describe_db_subnet_groups(
        DBSubnetGroupName=i)),
    "aws_secretsmanager_secret": ("secretsmanager", lambda c, i, a: c.describe_secret(
        SecretId=i)),
    "aws_sagemaker_model": ("sagemaker", lambda c, i, a: c.describe_model(ModelName=i)),
    "aws_sagemaker_endpoint_configuration": ("sagemaker", lambda c, i, a: (
        c.describe_endpoint_config(EndpointConfigName=i))),
    "aws_sagemaker_endpoint": ("sagemaker", lambda c, i, a: c.describe_endpoint(
        EndpointName=i)),
    "aws_sagemaker_pipeline": ("sagemaker", lambda c, i, a: c.describe_pipeline(
        PipelineName=i)),
    "aws_sagemaker_feature_group": ("sagemaker", lambda c, i, a: c.describe_feature_group(
        FeatureGroupName=i)),
    "aws_sagemaker_notebook_instance": ("sagemaker", lambda c, i, a: (
        c.describe_notebook_instance(NotebookInstanceName=i))),
    "aws_sagemaker_notebook_instance_lifecycle_configuration": ("sagemaker", lambda c, i, a: (
        c.describe_notebook_instance_lifecycle_config(
            NotebookInstanceLifecycleConfigName=i))),
    "aws_appautoscaling_target": ("application-autoscaling", lambda c, i, a: (
        c.describe_scalable_targets(
            ServiceNamespace=a["service_namespace"], ResourceIds=[a["resource_id"]],
            ScalableDimension=a["scalable_dimension"]))),
    "aws_appautoscaling_policy": ("application-autoscaling", lambda c, i, a: (
        c.describe_scaling_policies(
            ServiceNamespace=a["service_namespace"], PolicyNames=[a["name"]],
            ResourceId=a["resource_id"]))),
}


def boto3_reads(url: str, region: str, objects: list[tuple[str, str, A]]) -> float:
    """Wall time of one minimal read per object, fresh session, THREADS threads."""
    start = time.perf_counter()
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y",
                                    region_name=region)
    clients = {service: session.client(service, endpoint_url=url)
               for service in {READS[t][0] for t, _, _ in objects}}

    def read(obj: tuple[str, str, A]) -> None:
        service, call = READS[obj[0]]
        call(clients[service], obj[1], obj[2])

    with ThreadPoolExecutor(THREADS) as ex:
        list(ex.map(read, objects))
    return time.perf_counter() - start


def apply_example(home: str) -> list[tuple[str, Path]]:
    """The example applied once per region, each under its own project name."""
    work = Path(home) / "work"
    text = EXAMPLE.read_text()
    configs = []
    for n, region in enumerate(REGIONS, 1):
        folder = work / region
        folder.mkdir(parents=True)
        body = text.replace("project: fraud", f"project: fraud{n}")
        body = re.sub(r"dev:  \{target: sandbox, region: [a-z0-9-]+\}",
                      f"dev:  {{target: sandbox, region: {region}}}", body)
        (folder / "mlform.yaml").write_text(body)
        subprocess.run([sys.executable, "-m", "mlform", "apply", "--auto-approve"],
                       cwd=folder, check=True, stdout=subprocess.DEVNULL)
        configs.append((region, folder / "mlform.yaml"))
    return configs


def mlform_refresh(configs: list[tuple[str, Path]]) -> tuple[float, int, int]:
    """(seconds, API calls, objects read) of `Workspace.drift()` in every region."""
    from mlform.api import Workspace

    total, calls, read = 0.0, 0, 0
    for _, path in configs:
        start = time.perf_counter()
        report = Workspace(path, offline=True).drift()
        total += time.perf_counter() - start
        calls += sum(report.api_calls.values())
        read += report.read
        if report.has_drift:
            raise SystemExit(f"unexpected drift: {report.to_json()}")
    return total, calls, read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--markdown", action="store_true", help="Print a README table too.")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="mlform-bench-")
    os.environ.update({"MLFORM_HOME": home, "NO_COLOR": "1", "MLFORM_SANDBOX_PORT": "0"})
    from mlform.api import Workspace
    from mlform.sandbox import lifecycle

    info = lifecycle.start(home)
    try:
        configs = apply_example(home)
        objects = {region: [(r.type, r.id, r.attributes) for r in
                            Workspace(path, offline=True).state().resources.values()]
                   for region, path in configs}
        mlform_s: list[float] = []
        boto_s: list[float] = []
        calls = read = 0
        for i in range(args.rounds):  # alternate which side goes first
            for side in (("mlform", "boto3") if i % 2 == 0 else ("boto3", "mlform")):
                if side == "boto3":
                    boto_s.append(sum(boto3_reads(info.url, region, objects[region])
                                      for region, _ in configs))
                else:
                    seconds, calls, read = mlform_refresh(configs)
                    mlform_s.append(seconds)
    finally:
        lifecycle.stop(home)
        shutil.rmtree(home, ignore_errors=True)
    m, b = statistics.median(mlform_s), statistics.median(boto_s)
    count = sum(len(o) for o in objects.values())
    print(f"examples/ml-platform in {len(REGIONS)} regions: {count} objects "
          f"({count // len(REGIONS)} per region), median of {args.rounds} rounds")
    print(f"API calls: mlform {calls} ({calls / read:.2f} per object; limit 3)   "
          f"boto3 {count} (one per object)")
    print(f"time:      mlform {m:.3f}s   boto3 {b:.3f}s   ratio {m / b:.2f}x (limit 1.5x)")
    if args.markdown:
        print(f"\n| 3 regions, {count} objects | mlform drift/refresh | direct boto3 reads | "
              "ratio |\n|---|---:|---:|---:|")
        print(f"| API calls | {calls} | {count} | {calls / count:.2f}x |")
        print(f"| wall time (median of {args.rounds}) | {m:.2f} s | {b:.2f} s | {m / b:.2f}x |")


if __name__ == "__main__":
    main()
