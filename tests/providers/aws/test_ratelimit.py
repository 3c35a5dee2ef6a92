"""Per-service token buckets, on a fake clock (no test here waits or times anything)."""

from __future__ import annotations

import pytest

from mlform.providers.aws.ratelimit import AWS_RATES, RateLimits, TokenBucket, parse_rates


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_bucket_lets_a_burst_through_then_spaces_calls_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=5, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()
    assert clock.slept == []  # the burst
    for _ in range(5):
        bucket.acquire()
    assert clock.slept == pytest.approx([0.2] * 5)  # then 5 calls a second
    clock.now += 10  # idle: the bucket refills, but never beyond its burst
    for _ in range(5):
        bucket.acquire()
    assert len(clock.slept) == 5
    bucket.acquire()
    assert clock.slept[-1] == pytest.approx(0.2)


def test_limits_per_target_and_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFORM_API_RATE", raising=False)
    assert RateLimits.for_target("sandbox").bucket("iam") is None  # no throttling to avoid
    aws = RateLimits.for_target("aws")
    iam = aws.bucket("iam")
    assert iam is not None and iam.rate == AWS_RATES["iam"]
    assert aws.bucket("iam") is iam  # one bucket per service, shared by every thread
    monkeypatch.setenv("MLFORM_API_RATE", "iam=2, *=0")
    limits = RateLimits.for_target("sandbox")
    assert limits.bucket("iam").rate == 2  # type: ignore[union-attr]
    assert limits.bucket("s3") is None


@pytest.mark.parametrize("text", ["iam", "iam=fast", "=3", "iam=-1"])
def test_bad_rates_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="is not SERVICE=CALLS_PER_SECOND"):
        parse_rates(text)


def test_global_services_share_one_bucket_across_regions(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFORM_API_RATE", raising=False)
    singapore, tokyo = RateLimits.for_target("aws"), RateLimits.for_target("aws")  # 2 sessions
    assert singapore.bucket("iam") is tokyo.bucket("iam")  # IAM: one limit per account
    assert singapore.bucket("sagemaker") is not tokyo.bucket("sagemaker")  # per region
