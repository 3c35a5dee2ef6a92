"""`experiment_tracker`: an MLflow tracking server with its artifact store and database.

- Artifacts: an S3 bucket made like a `dataset_store` (or `artifact_store:` an existing URI).
- Metadata: PostgreSQL on RDS, encrypted, in private subnets, backed up daily. Its password
  is created and kept by RDS itself in a Secrets Manager secret (`manage_master_user_password`):
  it never passes through mlform, its state or its plans.
- Server: MLflow on ECS Fargate (one task, no servers to patch). Fargate was chosen over an
  EC2 instance (patching, a single point of failure) and over App Runner (no VPC-only access to
  RDS without a connector): the task reads the database password from the secret at start, and
  its role may write only the artifact store.
- Front door: an application load balancer, internal by default (in the tracker's subnets,
  port 80, open to the VPC's CIDR only), so runs log to `url` without the task's address, which
  changes at every deployment. `public: true` makes it internet-facing, HTTPS only (443, with
  `certificate_arn`) and open only to `allowed_cidrs`: MLflow has no authentication of its own,
  so a public tracker without an allow-list would be anybody's. The task accepts port 5000 only
  from the load balancer's security group.
- Logs: the server's output goes through the awslogs driver to `/ecs/<tracker>`, a group kept
  `log_retention_days` (the driver makes no group by itself: without one the output would be
  lost); the task definition refers to it, so it exists before any task starts.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from mlform.components.base import ExpandContext, Expansion
from mlform.components.dataset_store import DatasetStore
from mlform.components.iam import LOGS, aws_policy, document, role_policies, s3_access, trust
from mlform.components.logs import LOG_GROUP, Logged
from mlform.components.network import (
    Endpoint,
    Nat,
    endpoints_field,
    nat_field,
    private_network,
)

DB = "aws_db_instance.this"
PORT = 5000
LISTENER = "aws_lb_listener.this"
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"  # TLS 1.2 and 1.3 only
EXECUTION_POLICY = "service-role/AmazonECSTaskExecutionRolePolicy"


class ExperimentTracker(Logged):
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
    vpc_cidr: str = Field("10.43.0.0/16", description="CIDR of the VPC made without subnets, "
                          "or of the VPC of subnet_ids (the internal load balancer admits it).")
    vpc_id: str | None = Field(None, description="The VPC of subnet_ids (required with them).")
    nat: Nat = nat_field()
    endpoints: list[Endpoint] = endpoints_field()
    public: bool = Field(False, description="Serve the tracker on the internet (HTTPS only, "
                         "to allowed_cidrs) instead of inside the VPC.")
    allowed_cidrs: list[str] = Field(
        default_factory=list, description="IPv4 CIDR blocks allowed to reach a public tracker "
                                          "(required with public: true).")
    certificate_arn: str | None = Field(
        None, description="ACM certificate of a public tracker's HTTPS listener (required "
                          "with public: true).")

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        out = []
        for cidr in value:
            try:
                out.append(str(ipaddress.IPv4Network(cidr.strip())))
            except ValueError as exc:
                raise ValueError(f"not an IPv4 CIDR block: {exc}") from None
        return sorted(set(out))

    @model_validator(mode="after")
    def _reachable_as_asked(self) -> ExperimentTracker:
        if self.public and not self.allowed_cidrs:
            raise ValueError("allowed_cidrs: a public tracker needs the CIDR blocks that may "
                             "reach it (MLflow has no login); or leave public: false")
        if self.public and not self.certificate_arn:
            raise ValueError("certificate_arn: a public tracker is served over HTTPS only: give "
                             "the ACM certificate of its name; or leave public: false")
        if not self.public and self.certificate_arn:
            raise ValueError("certificate_arn: an internal tracker is served over HTTP inside "
                             "the VPC; certificate_arn goes with public: true")
        if self.subnet_ids is not None and self.vpc_id is None:
            raise ValueError("vpc_id: with subnet_ids, give their VPC (the load balancer's "
                             "target group and security group are made in it)")
        return self

    image_fields: ClassVar[tuple[str, ...]] = ("image",)
    outputs: ClassVar[dict[str, str]] = {
        "artifact_store": "S3 URI where runs' artifacts go",
        "database_endpoint": "host:port of the metadata database",
        "database_secret_arn": "The secret RDS keeps the database password in",
        "cluster": "The ECS cluster's name",
        "service": "The ECS service's ARN",
        "tracking_port": "Port of the MLflow server inside the VPC",
        "url": "The tracking URI: http://<load balancer> (internal) or https:// (public)",
    }

    def expand(self, ctx: ExpandContext) -> Expansion:
        out = Expansion()
        artifacts = self.artifact_store
        if artifacts is None:
            store = DatasetStore(type="dataset_store", tags=self.tags).expand(ctx)
            out.resources.update(store.resources)
            artifacts = str(store.outputs["uri"]) + "/mlflow"
        subnets, groups, public_subnets = self._network(ctx, out)
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
        self.log_group(out, ctx, f"/ecs/{ctx.default_name()}")
        out.add("aws_ecs_task_definition.this", cpu=self.cpu, memory=self.memory,
                network_mode="awsvpc", requires_compatibilities=["FARGATE"],
                execution_role_arn=ctx.ref("aws_iam_role.execution", "arn"),
                task_role_arn=ctx.ref("aws_iam_role.task", "arn"),
                container_definitions=self._container(ctx, artifacts, secret), tags=self.tags)
        url = self._load_balancer(ctx, out, public_subnets if self.public else subnets)
        service = out.add(
            "aws_ecs_service.this", cluster=ctx.ref("aws_ecs_cluster.this", "arn"),
            task_definition=ctx.ref("aws_ecs_task_definition.this", "arn"),
            desired_count=1, launch_type="FARGATE",
            network_configuration={"subnets": subnets, "security_groups": self._task_groups(
                ctx, out, groups), "assign_public_ip": False},
            load_balancer=[{"target_group_arn": ctx.ref("aws_lb_target_group.this", "arn"),
                            "container_name": "mlflow", "container_port": PORT}],
            tags=self.tags)
        # AWS refuses a target group that no listener forwards to yet.
        service.depends_on.append(LISTENER)
        service.depends_on.extend(policies)  # the tasks start with their permissions in place
        out.outputs = {
            "artifact_store": artifacts,
            "database_endpoint": ctx.ref(DB, "endpoint"), "database_secret_arn": secret,
            "cluster": ctx.ref("aws_ecs_cluster.this", "name"),
            "service": ctx.ref("aws_ecs_service.this", "arn"), "tracking_port": PORT,
            "url": url,
        }
        return out

    def _vpc(self, ctx: ExpandContext) -> str:
        return self.vpc_id if self.vpc_id is not None else ctx.ref("aws_vpc.this", "id")

    def _load_balancer(self, ctx: ExpandContext, out: Expansion, subnets: Any) -> str:
        """The load balancer, its security group, target group and listener; the URL."""
        port = 443 if self.public else 80
        sources = self.allowed_cidrs if self.public else [self.vpc_cidr]
        out.add("aws_security_group.alb", description=f"Load balancer of tracker {ctx.name}",
                vpc_id=self._vpc(ctx),
                ingress=[{"from_port": port, "to_port": port, "protocol": "tcp",
                          "cidr_blocks": sources, "description": "MLflow clients"}],
                egress=[{"from_port": PORT, "to_port": PORT, "protocol": "tcp",
                         "cidr_blocks": [self.vpc_cidr], "description": "to the MLflow tasks"}],
                tags=self.tags)
        out.add("aws_lb.this", internal=not self.public, load_balancer_type="application",
                security_groups=[ctx.ref("aws_security_group.alb", "id")], subnets=subnets,
                tags=self.tags)
        out.add("aws_lb_target_group.this", port=PORT, protocol="HTTP", vpc_id=self._vpc(ctx),
                target_type="ip", health_check={"path": "/health", "matcher": "200"},
                tags=self.tags)
        listener: dict[str, Any] = {
            "load_balancer_arn": ctx.ref("aws_lb.this", "arn"), "port": port,
            "protocol": "HTTPS" if self.public else "HTTP",
            "default_action": [{"type": "forward",
                                "target_group_arn": ctx.ref("aws_lb_target_group.this", "arn")}],
            "tags": self.tags}
        if self.public:
            listener.update(certificate_arn=self.certificate_arn, ssl_policy=SSL_POLICY)
        out.add(LISTENER, **listener)
        scheme = "https" if self.public else "http"
        return f"{scheme}://{ctx.ref('aws_lb.this', 'dns_name')}"

    def _task_groups(self, ctx: ExpandContext, out: Expansion, groups: list[Any]) -> list[Any]:
        """The task's groups: with a network of its own, the tracker's group admits port 5000
        from the load balancer's group already; with subnet_ids, a group of its own does."""
        if self.subnet_ids is None:
            return groups
        out.add("aws_security_group.task", description=f"MLflow tasks of tracker {ctx.name}",
                vpc_id=self._vpc(ctx), ingress=[self._from_load_balancer(ctx)],
                egress=[{"from_port": 0, "to_port": 0, "protocol": "-1",
                         "cidr_blocks": ["0.0.0.0/0"], "description": "all out"}],
                tags=self.tags)
        return [*groups, ctx.ref("aws_security_group.task", "id")]

    @staticmethod
    def _from_load_balancer(ctx: ExpandContext) -> dict[str, Any]:
        return {"from_port": PORT, "to_port": PORT, "protocol": "tcp",
                "security_groups": [ctx.ref("aws_security_group.alb", "id")],
                "description": "MLflow from the load balancer"}

    def _network(self, ctx: ExpandContext, out: Expansion) -> tuple[Any, list[Any], Any]:
        """(private subnets, security groups, public subnets): a public load balancer goes in
        the public subnets of the tracker's own network, or in `subnet_ids` when given."""
        if self.subnet_ids is not None:
            return self.subnet_ids, list(self.security_group_ids), self.subnet_ids
        net = private_network(
            out, ctx, self.vpc_cidr, self.tags, purpose=f"MLflow tracker {ctx.name}",
            nat=self.nat, endpoints=self.endpoints,
            ingress=[
                {"from_port": 5432, "to_port": 5432, "protocol": "tcp", "self": True,
                 "description": "server to database"},
                self._from_load_balancer(ctx),
            ])
        return net.private_subnets, [net.security_group], net.public_subnets

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
            # The execution role's managed policy lets the driver write the streams.
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": ctx.ref(LOG_GROUP, "name"),
                "awslogs-region": ctx.stack.region, "awslogs-stream-prefix": "mlflow"}},
        }])
