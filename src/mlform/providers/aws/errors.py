"""AWS errors -> ProviderError, with the cloud's own code and message."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from mlform.errors import ProviderError
from mlform.sensitive import redact

log = logging.getLogger("mlform.aws")

# Long enough for any real message; moto lists whole enums in some (every instance type).
MAX_MESSAGE = 300


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def error_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Message", "")) or str(exc)
    return str(exc)


NOT_FOUND_CODES = frozenset({"NoSuchEntity", "ResourceNotFoundException", "NotFound", "404",
                             "NoSuchBucket", "RepositoryNotFoundException"})


def is_not_found(exc: BaseException, *codes: str) -> bool:
    """True if `exc` says the object does not exist (common codes, an HTTP 404, or `codes`)."""
    code = error_code(exc)
    if code in NOT_FOUND_CODES or code in codes:
        return True
    response = getattr(exc, "response", None)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") if response else None
    return bool(status == 404)


# botocore's own list of the codes that mean "slow down" (the request was refused, not done).
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
    "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException"})


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return 0
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_throttled(exc: BaseException) -> bool:
    """True if AWS refused the call to slow the caller down: it did nothing, and the same call
    may be made again after a wait."""
    return error_code(exc) in THROTTLING_CODES or _status(exc) == 429


def outcome_unknown(exc: BaseException) -> bool:
    """True if the call that raised `exc` may have taken effect although it failed: the request
    may have reached AWS, and no answer says what happened (a 5xx answer, a connection closed
    or timed out after sending). Errors AWS answered with, a throttle, a request that never
    left (invalid parameters, no connection) are definite."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ParamValidationError,
    )

    if isinstance(exc, ClientError):
        return _status(exc) >= 500 and not is_throttled(exc)
    return not isinstance(exc, (ParamValidationError, EndpointConnectionError,
                                ConnectTimeoutError, NoCredentialsError))


def _shorten(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    return message[:MAX_MESSAGE] + f"... ({len(message) - MAX_MESSAGE} more characters)"


def translate(exc: BaseException, operation: str) -> ProviderError:
    """A botocore error as ProviderError('Operation: Code: message'); raise it `from exc`,
    marked `outcome_unknown` when the call may have taken effect (see `outcome_unknown`)."""
    code = error_code(exc)
    message = redact(error_message(exc))  # a service may echo a value it was given
    log.debug("%s failed: %s", operation, message)
    text = f"{operation}: {code}: {_shorten(message)}" if code else f"{operation}: {message}"
    return ProviderError(text, outcome_unknown=outcome_unknown(exc))


@contextmanager
def aws_call(service: str, operation: str) -> Iterator[None]:
    """Turn botocore errors raised inside into ProviderError('Operation: Code: message')."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, operation) from exc
