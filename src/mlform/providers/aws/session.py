"""boto3 clients for one stack: AWS itself, or the local sandbox.

Every client uses botocore's adaptive retry mode (client-side rate limiting plus exponential
backoff on throttling and transient errors), so no resource module writes a retry loop for those.
The exception is the create call of a type whose ids AWS assigns: a retry after a lost answer
would make a second object, so it goes through a client that makes it once (`retries=False`).
For `target: sandbox` every client points at the sandbox on loopback with fixed dummy
credentials: nothing can reach a real AWS endpoint by accident.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from typing import Any

from mlform import __version__
from mlform.errors import ProviderError
from mlform.providers.aws.ratelimit import RateLimits
from mlform.providers.base import StackContext

SANDBOX_CREDENTIALS = ("mlform-sandbox", "mlform-sandbox")  # moto accepts any
SANDBOX_ACCOUNT_HEADER = "x-moto-account-id"
MAX_ATTEMPTS = 10


@functools.cache
def _shared_loader() -> Any:
    """botocore's data loader (service models, endpoints), made once for the process; its
    caches are filled on first use and only read afterwards (two threads filling one at the
    same moment both parse the same file: harmless)."""
    from botocore.loaders import create_loader

    return create_loader()


class AwsSession:
    """Thread-safe factory of cached boto3 clients for one account and region."""

    def __init__(self, ctx: StackContext, *, endpoint_url: str | None = None) -> None:
        import boto3
        import botocore.config

        self.context = ctx
        self.region = ctx.region
        self.endpoint_url = endpoint_url
        if ctx.target == "sandbox" and endpoint_url is None:
            from mlform.sandbox.lifecycle import ensure_running

            self.endpoint_url = ensure_running(ctx.home).url
        if self.endpoint_url is not None:
            self._session = boto3.session.Session(
                region_name=ctx.region, aws_access_key_id=SANDBOX_CREDENTIALS[0],
                aws_secret_access_key=SANDBOX_CREDENTIALS[1])
        else:
            from botocore.exceptions import ProfileNotFound

            try:
                self._session = boto3.session.Session(profile_name=ctx.profile,
                                                      region_name=ctx.region)
            except ProfileNotFound as exc:
                raise ProviderError(
                    f"environment '{ctx.environment}': {exc} (profiles come from ~/.aws/config "
                    "and ~/.aws/credentials)") from None
        # Every session of the process reads the service models through one loader: parsing
        # them (EC2's is megabytes of JSON) cost each new session about half a second of CPU,
        # several times over in an environment of several regions.
        self._session._session.register_component("data_loader", _shared_loader())
        self._config = botocore.config.Config(
            retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
            connect_timeout=10, read_timeout=60,
            user_agent_extra=f"mlform/{__version__}",
        )
        # For calls that must not be retried blindly (see `client`).
        self._single_shot = self._config.merge(botocore.config.Config(
            retries={"mode": "adaptive", "total_max_attempts": 1}))
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        # API operations called, per service (retries of one call count once): refresh and
        # drift report them, and the benchmarks compare them with direct boto3 reads.
        self.api_calls: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        try:
            self.limits = RateLimits.for_target(ctx.target)
        except ValueError as exc:
            raise ProviderError(str(exc)) from None
        self._session.events.register("before-call", self._count)
        if self.endpoint_url is not None and ctx.account:
            self._session.events.register("before-send", self._in_account)

    def _in_account(self, request: Any, **_: Any) -> None:
        # moto's server keeps one world per account and picks it by this header.
        request.headers[SANDBOX_ACCOUNT_HEADER] = self.context.account

    def _count(self, model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        with self._count_lock:
            self.api_calls[service] += 1
        self.limits.acquire(service)  # waits here, in the calling thread, when over the rate

    @property
    def is_sandbox(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str, region: str | None = None, *,
               retries: bool = True) -> Any:
        """A client for `service` in the stack's region (or in `region`, for lookups).

        `retries=False`: a client that makes each call once, for a create whose retry after
        a lost answer would make a second object (AWS assigns the id, and the call takes no
        client token). Its caller decides what a throttle or a lost answer means."""
        key = f"{service}@{region}/{retries}"
        found = self._clients.get(key)
        if found is not None:
            return found
        with self._lock:  # boto3 sessions are not thread-safe; clients are
            if key not in self._clients:
                factory: Any = self._session  # the stubs only type literal service names
                self._clients[key] = factory.client(
                    service, config=self._config if retries else self._single_shot,
                    endpoint_url=self.endpoint_url, region_name=region or self.region)
            return self._clients[key]

    def check_credentials(self) -> None:
        """Raise a ProviderError that says what to do when no AWS credentials can be found."""
        from botocore.exceptions import BotoCoreError

        try:
            found = self._session.get_credentials()
        except BotoCoreError as exc:
            found, reason = None, str(exc)
        else:
            reason = "none were found"
        if found is None:
            raise ProviderError(
                f"environment '{self.context.environment}' targets AWS, but no AWS credentials "
                f"are available ({reason}). Set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, run `aws configure` or `aws sso login`, or set "
                "`profile:` for this environment in mlform.yaml")

    def check_account(self, expected: str) -> None:
        """Raise a ProviderError unless the credentials belong to AWS account `expected` (the
        environment's `account_id`): one STS GetCallerIdentity call, which changes nothing."""
        from mlform.providers.aws.errors import aws_call

        with aws_call("sts", "GetCallerIdentity"):
            identity = self.client("sts").get_caller_identity()
        actual = str(identity["Account"])
        if actual != expected:
            raise ProviderError(
                f"environment '{self.context.environment}' expects AWS account {expected}, but "
                f"the credentials in use belong to {actual} ({self._credentials_source()}, "
                f"{identity['Arn']})")

    def _credentials_source(self) -> str:
        """Where the credentials came from, in the words a user would look for."""
        found = self._session.get_credentials()
        method = getattr(found, "method", "")
        sources = {"env": "AWS_ACCESS_KEY_ID from the environment",
                   "iam-role": "the instance's role", "container-role": "the container's role",
                   "assume-role-with-web-identity": "the web identity role (AWS_ROLE_ARN)"}
        return sources.get(method, f"profile '{self._session.profile_name}'")

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"


def open_session(ctx: StackContext) -> AwsSession:
    """The AWS provider's session factory (see `ProviderSpec.open_session`).

    On AWS, credentials are checked once here, so that missing ones are one clear error rather
    than one per resource, and so is their account when the environment names the one it
    expects (`account_id`)."""
    if ctx.target not in ("aws", "sandbox"):
        raise ProviderError(f"the AWS provider cannot run on target '{ctx.target}'")
    session = AwsSession(ctx)
    if not session.is_sandbox:
        session.check_credentials()
        if ctx.account_id is not None:
            session.check_account(ctx.account_id)
    return session
