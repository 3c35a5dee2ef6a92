"""`experiment_tracker`: an MLflow tracking server with its artifact store and database.

- Artifacts: an S3 bucket made like a `dataset_store` (or `artifact_store:` an existing URI).
- Metadata: PostgreSQL on RDS, encrypted, in private subnets, backed up daily. Its password
  is created and kept by RDS itself in a Secrets Manager secret (`manage_master_user_password`):
  it never passes through mlform, its state or its plans.
- Server: MLflow on ECS Fargate (one task, no servers to patch). Fargate was chosen over an
  EC2 instance (patching, a single point of failure) and over App Runner (no VPC-only access to
  RDS without a connector): the task reads the database password from the secret at start, and
  its role may write only the artifact store.
The server is reachable inside the VPC on port 5000; a load balancer and a DNS name are not
made yet (`tracking_port` and the service's network are outputs to put one in front).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import Field

from mlform.components.base import ComponentModel, ExpandContext, Expansion
from mlform.components.dataset_store import DatasetStore
from mlform.components.iam import LOGS, aws_policy, document, role_policies, s3_access, trust
from mlform.components.network import private_network

DB = "aws_db_instance.this"
PORT = 5000
EXECUTION_POLICY = "service-role/AmazonECSTaskExecutionRolePolicy"


class ExperimentTracker(ComponentModel):
    type: Literal["experiment_tracker"]
    image: str = Field(
        "ghcr.io/mlflow/mlflow:v2.17.2",
        description="MLflow server image; it needs psycopg2 and boto3 installed (build one "
                    "FROM the official image with `pip install psycopg2-binary boto3`).")
    artifact_store: str | None = Field(
        None, description="S3 URI for artifacts (default: a bucket made for the tracker).")
    db_instance_class: str = Field("db.t4g.micro", description="RDS instance class.")
    db_storage_gb: int = Field(20, ge=20, description="Database storage, in GiB.")
    db_multi_az: bool = Field(False, description="Keep a standby database in another zone.")
    keep_final_snapshot: bool = Field(
        True, description="Snapshot the database when the tracker is destroyed.")
    cpu: str = Field("512", description="Fargate CPU units of the server task.")
    memory: str = Field("1024", description="Fargate memory (MiB) of the server task.")
    subnet_ids: list[str] | None = Field(
        None, description="Private subnets (two availability zones) of an existing network; "
                          "without them a VPC is made.")
    security_group_ids: list[str] = Field(
        default_factory=list, description="Security groups, with subnet_ids.")
    vpc_cidr: str = Field("10.43.0.0/16", description="CIDR of the VPC made without subnets.")

    image_fields: ClassVar[tuple[str, ...]] = ("image",)
    outputs: ClassVar[dict[str, str]] = {
        "artifact_store": "S3 URI where runs' artifacts go",
        "database_endpoint": "host:port of the metadata database",
        "database_secret_arn": "The secret RDS keeps the database password in",
        "cluster": "The ECS cluster's name",
        "service": "The ECS service's ARN",
        "tracking_port": "Port of the MLflow server inside the VPC",
    }

    def expand(self, ctx: ExpandContext) -> Expansion:
        out = Expansion()
        artifacts = self.artifact_store
        if artifacts is None:
            store = DatasetStore(type="dataset_store", tags=self.tags).expand(ctx)
            out.resources.update(store.resources)
            artifacts = str(store.outputs["uri"]) + "/mlflow"
        subnets, groups = self._network(ctx, out)
        out.add("aws_db_subnet_group.this", description=f"Database of tracker {ctx.name}",
                subnet_ids=subnets, tags=self.tags)
        db: dict[str, Any] = {
            "engine": "postgres", "instance_class": self.db_instance_class,
            "allocated_storage": self.db_storage_gb, "storage_encrypted": True,
            "db_name": "mlflow", "username": "mlflow", "manage_master_user_password": True,
            "db_subnet_group_name": ctx.ref("aws_db_subnet_group.this", "name"),
            "vpc_security_group_ids": groups, "multi_az": self.db_multi_az,
            "backup_retention_period": 7, "skip_final_snapshot": not self.keep_final_snapshot,
            "tags": self.tags,
        }
        if self.keep_final_snapshot:
            db["final_snapshot_identifier"] = ctx.default_name("final")
        out.add(DB, **db)
        secret = ctx.ref(DB, "master_user_secret[0].secret_arn")
        out.add("aws_iam_role.execution", assume_role_policy=trust("ecs-tasks.amazonaws.com"),
                description=f"Starts the MLflow server of {ctx.name}", tags=self.tags)
        policies = role_policies(
            out, ctx, "aws_iam_role.execution",
            managed=[aws_policy(EXECUTION_POLICY, ctx.partition)],
            inline={"database-password": document([
                {"Sid": "ReadPassword", "Effect": "Allow",
                 "Action": "secretsmanager:GetSecretValue", "Resource": secret}])})
        out.add("aws_iam_role.task", assume_role_policy=trust("ecs-tasks.amazonaws.com"),
                description=f"Runs the MLflow server of {ctx.name}", tags=self.tags)
        policies += role_policies(out, ctx, "aws_iam_role.task", inline={"artifacts": document(
            [*s3_access("Artifacts", [artifacts], write=True, partition=ctx.partition),
             LOGS])})
        out.add("aws_ecs_cluster.this", tags=self.tags)
        out.add("aws_ecs_task_definition.this", cpu=self.cpu, memory=self.memory,
                network_mode="awsvpc", requires_compatibilities=["FARGATE"],
                execution_role_arn=ctx.ref("aws_iam_role.execution", "arn"),
                task_role_arn=ctx.ref("aws_iam_role.task", "arn"),
                container_definitions=self._container(ctx, artifacts, secret), tags=self.tags)
        service = out.add("aws_ecs_service.this", cluster=ctx.ref("aws_ecs_cluster.this", "arn"),
                task_definition=ctx.ref("aws_ecs_task_definition.this", "arn"),
                desired_count=1, launch_type="FARGATE",
                network_configuration={"subnets": subnets, "security_groups": groups,
                                       "assign_public_ip": False},
                tags=self.tags)
        service.depends_on = policies  # the tasks start with their permissions in place
        out.outputs = {
            "artifact_store": artifacts,
            "database_endpoint": ctx.ref(DB, "endpoint"), "database_secret_arn": secret,
            "cluster": ctx.ref("aws_ecs_cluster.this", "name"),
            "service": ctx.ref("aws_ecs_service.this", "arn"), "tracking_port": PORT,
        }
        return out

    def _network(self, ctx: ExpandContext, out: Expansion) -> tuple[Any, list[Any]]:
        if self.subnet_ids is not None:
            return self.subnet_ids, list(self.security_group_ids)
        subnets, group = private_network(
            out, ctx, self.vpc_cidr, self.tags, purpose=f"MLflow tracker {ctx.name}",
            ingress=[
                {"from_port": 5432, "to_port": 5432, "protocol": "tcp", "self": True,
                 "description": "server to database"},
                {"from_port": PORT, "to_port": PORT, "protocol": "tcp",
                 "cidr_blocks": [self.vpc_cidr], "description": "MLflow from the VPC"},
            ])
        return subnets, [group]

    def _container(self, ctx: ExpandContext, artifacts: str, secret: str) -> str:
        host = ctx.ref(DB, "address")
        # The password arrives as an environment variable from the secret (never in state);
        # the shell puts it into the URI MLflow wants.
        command = (f"mlflow server --host 0.0.0.0 --port {PORT} "
                   f"--backend-store-uri postgresql://mlflow:$DB_PASSWORD@{host}:5432/mlflow "
                   f"--artifacts-destination {artifacts} --serve-artifacts")
        return json.dumps([{
            "name": "mlflow", "image": self.image, "essential": True,
            "entryPoint": ["sh", "-c"], "command": [command],
            "portMappings": [{"containerPort": PORT, "protocol": "tcp"}],
            "secrets": [{"name": "DB_PASSWORD", "valueFrom": f"{secret}:password::"}],
        }])
