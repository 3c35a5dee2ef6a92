"""The crash campaign of `bench/crash_campaign.py`, short and seeded: seven trials that SIGKILL or
Ctrl-C the real CLI during apply, destroy, a create-before-destroy replacement and an import,
each followed by the finishing command and a count of orphans, duplicates, lost objects and
unloadable states in the trial's own sandbox account."""

from __future__ import annotations

import random
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from crash_campaign import (  # bench/ is not a package: found through sys.path
    SCENARIOS,
    calibrate,
    ensure_ctrl_c_reaches_children,
    plan_trials,
    report_line,
    run_all,
)
from crash_trials import Context, TrialResult, TrialSpec

SEED = 4
TRIALS = plan_trials(SEED, kills=4, ints=3)


@pytest.fixture(scope="module")
def campaign(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[int, TrialResult]:
    """Every trial's result by number (run two at a time), after the uninterrupted runs that
    calibrate the moments, which must find nothing wrong either."""
    ensure_ctrl_c_reaches_children()
    ctx = Context(sandbox.url, tmp_path_factory.mktemp("crash"), uuid.uuid4().hex[:4])
    accounts = random.Random()  # fresh accounts: the sandbox is shared with other tests
    calibrations, baseline = calibrate(ctx, TRIALS, accounts)
    for result in baseline:
        assert not result.problems, (report_line(result), result.problems)
    return {r.spec.number: r for r in run_all(ctx, TRIALS, calibrations, accounts, jobs=2)}


def test_the_trials_cover_every_scenario_signal_and_a_vpc_or_subnet_create(
        campaign: dict[int, TrialResult]) -> None:
    assert {s.scenario for s in TRIALS} == set(SCENARIOS)
    assert {s.signal for s in TRIALS} >= {"KILL", "INT", "INT2"}
    assert sum(r.killed.mid_change for r in campaign.values()) >= 4, [
        report_line(r) for r in campaign.values()]
    # A SIGKILL between a VPC's or subnet's create call and its record: the state has a
    # pending create that only the lookup by tags can settle.
    assert any(r.spec.moment.kind == "intent" and r.spec.moment.address in r.pending_left
               and r.spec.moment.address.startswith(("aws_vpc.", "aws_subnet."))
               for r in campaign.values()), [report_line(r) for r in campaign.values()]


@pytest.mark.parametrize("spec", TRIALS, ids=[f"{s.number}-{s.scenario}-{s.signal}"
                                              for s in TRIALS])
def test_nothing_is_orphaned_duplicated_lost_or_unloadable(
        campaign: dict[int, TrialResult], spec: TrialSpec) -> None:
    result = campaign[spec.number]
    assert result.problems == [], (
        f"seed {SEED}: {report_line(result)}\n  interrupted command's stderr: "
        f"{result.killed.stderr[-800:]}")
