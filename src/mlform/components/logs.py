"""Log groups components make for what they run, with a retention.

SageMaker, ECS's awslogs driver and EKS create the log groups they write to on first use, and a
group made that way keeps its events forever: logs are then the one cost of a component that
only grows. A component that runs something makes the group itself first, with
`log_retention_days` (30 by default), and whatever writes there depends on the group, so the
service never gets to make it without a retention.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from mlform.components.base import ComponentModel
from mlform.providers.aws.logs import RETENTION_DAYS

if TYPE_CHECKING:
    from mlform.components.base import ExpandContext, Expansion

LOG_GROUP = "aws_cloudwatch_log_group.this"
# 0 ("never expire") is what a service's own group already does: not a choice here.
RETENTIONS = tuple(d for d in RETENTION_DAYS if d)


class Logged(ComponentModel):
    """The settings of a component whose workloads write logs."""

    log_retention_days: int = Field(
        30, description="Days CloudWatch Logs keeps what the component's workloads log: "
                        + ", ".join(map(str, RETENTIONS)) + ".")

    @field_validator("log_retention_days")
    @classmethod
    def _cloudwatch_accepts(cls, value: int) -> int:
        if value not in RETENTIONS:
            # (the message goes on with ", got an integer (31)")
            raise ValueError(f"CloudWatch Logs keeps events {', '.join(map(str, RETENTIONS[:-1]))}"
                             f" or {RETENTIONS[-1]} days")
        return value

    def log_group(self, out: Expansion, ctx: ExpandContext, name: str) -> str:
        """Add the component's log group `name`; return its local address, for the
        `depends_on` of whatever writes there."""
        out.add(LOG_GROUP, name=name, retention_in_days=self.log_retention_days,
                tags=self.tags)
        return LOG_GROUP


def write_logs(ctx: ExpandContext) -> list[dict[str, Any]]:
    """A role's permission to write into the component's own log group (its streams, which
    is what the group's ARN with `:*` names) and to publish metrics, which have no resource
    to narrow to. Not CreateLogGroup: the group is made by the component."""
    return [
        {"Sid": "Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
         "Resource": ctx.ref(LOG_GROUP, "arn") + ":*"},
        {"Sid": "Metrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData",
         "Resource": "*"},
    ]
