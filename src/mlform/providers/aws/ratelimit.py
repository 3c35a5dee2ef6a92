"""Per-service client-side rate limits: a token bucket per AWS service, shared by every thread.

botocore's adaptive retry mode already slows down after AWS throttles a call; these limits keep
a large refresh or apply from being throttled in the first place, and keep one busy service
from using the account's whole budget. They apply to `target: aws` by default (AWS publishes no
single figure: the defaults below are conservative shares of the documented per-account
limits); `MLFORM_API_RATE="iam=5,sagemaker=20,*=50"` sets calls per second per service on any
target, `*` for the rest, 0 for none.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping

# Calls per second on AWS, per service (others: DEFAULT_RATE).
AWS_RATES: dict[str, float] = {"iam": 10.0, "sagemaker": 20.0, "eks": 10.0, "rds": 20.0}
DEFAULT_RATE = 50.0
# Services with one endpoint and one limit for the whole account, whatever the region: the
# sessions of an environment's regions share one bucket for each (three regions must not send
# IAM three times its rate; sessions of another account in the same process share it too, which
# can only be slower than AWS allows, never faster). Regional services' limits are per region,
# as their buckets.
GLOBAL_SERVICES = frozenset({"iam", "organizations", "route53", "cloudfront"})
_GLOBAL: dict[tuple[str, float], TokenBucket] = {}
_GLOBAL_LOCK = threading.Lock()


class TokenBucket:
    """`rate` calls per second on average, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.tokens = self.burst
        self._clock, self._sleep = clock, sleep
        self._last = clock()
        self._lock = threading.Lock()

    def wait_time(self) -> float:
        """Take a token: how long the caller must wait before its call (0: go now)."""
        with self._lock:
            now = self._clock()
            self.tokens = min(self.burst, self.tokens + (now - self._last) * self.rate)
            self._last = now
            self.tokens -= 1
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def acquire(self) -> None:
        delay = self.wait_time()
        if delay > 0:
            self._sleep(delay)


def parse_rates(text: str) -> dict[str, float]:
    """`iam=5,*=50` -> {"iam": 5.0, "*": 50.0}; ValueError says what is wrong."""
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        service, sep, value = part.partition("=")
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not sep or not service.strip() or rate < 0:
            raise ValueError(f"MLFORM_API_RATE: '{part}' is not SERVICE=CALLS_PER_SECOND")
        rates[service.strip()] = rate
    return rates


class RateLimits:
    """One bucket per service, made on first use."""

    def __init__(self, rates: Mapping[str, float], default: float | None) -> None:
        self.rates = dict(rates)
        self.default = default
        self._buckets: dict[str, TokenBucket | None] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_target(cls, target: str) -> RateLimits:
        text = os.environ.get("MLFORM_API_RATE", "")
        if text:
            rates = parse_rates(text)
            return cls(rates, rates.pop("*", None))
        if target == "aws":
            return cls(AWS_RATES, DEFAULT_RATE)
        return cls({}, None)

    def bucket(self, service: str) -> TokenBucket | None:
        if service not in self._buckets:
            with self._lock:
                rate = self.rates.get(service, self.default)
                if not rate:
                    made = None
                elif service in GLOBAL_SERVICES:  # one for every session of the process
                    with _GLOBAL_LOCK:
                        made = _GLOBAL.setdefault((service, rate), TokenBucket(rate))
                else:
                    made = TokenBucket(rate)
                self._buckets.setdefault(service, made)
        return self._buckets[service]

    def acquire(self, service: str) -> None:
        bucket = self.bucket(service)
        if bucket is not None:
            bucket.acquire()
