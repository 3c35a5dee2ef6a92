"""Randomized crash campaign: SIGKILL and Ctrl-C mlform at random moments, then check that the
next command leaves no orphan, no duplicate and no unloadable state.

    python bench/crash_campaign.py                          # 50 SIGKILL + 20 SIGINT trials
    python bench/crash_campaign.py --seed 7 --scenario replace --trials-kill 10 --trials-int 0
    python bench/crash_campaign.py --markdown               # the table for the README
    python bench/crash_campaign.py --seed 7 --only 12,30    # repeat trials 12 and 30 of seed 7

Scenarios: `apply` from empty; `destroy` of an applied stack; `replace`, a create-before-destroy
replacement (endpoint configuration and subnet); `import` of a hand-made bucket, role and VPC by
`import:` entries in an apply, or by `mlform import ADDRESS ID`. The stack has a bucket (with
versioning), a role, a VPC, a subnet, a security group, a SageMaker model and an endpoint
configuration (`bench/crash_stack.py`).

Each scenario first runs once uninterrupted, to learn how long the command takes and how many
progress lines it prints. Each trial then interrupts it at a seeded random moment: a delay
uniform in [0, duration], right after a random progress line, right after a given
resource's create started, or as soon as the journal records the intent to create it (the
window between a create call and its record); SIGKILL
of the process group, or SIGINT once or twice. Then: the state must load (the files, and
`mlform state list`); the finishing `apply` (or `destroy`) must succeed, and a plan after it
must show no changes; nothing tagged for the stack may be missing from the state (orphan), no
two objects may carry the same address tag (duplicate), no hand-made object may be lost; and
after a destroy nothing of the stack may remain. Trials run `--jobs` at a time, each in its own
sandbox account. Not a test: it prints counts, and exits 1 if any trial found a problem.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crash_trials import (  # bench/ is not a package: found through sys.path
    SCENARIOS,
    Calibration,
    Context,
    Moment,
    TrialResult,
    TrialSpec,
    run_trial,
)

# Resources whose create (or replacement) a `start` moment aims at, per scenario: for the
# types whose ids AWS assigns, the window between the call and its record is what matters.
TARGETS = {
    "apply": ("aws_vpc.main", "aws_subnet.a", "aws_security_group.endpoints",
              "aws_s3_bucket.data", "aws_sagemaker_endpoint_configuration.fraud"),
    "destroy": ("aws_vpc.main", "aws_subnet.a", "aws_s3_bucket.data", "aws_iam_role.sagemaker"),
    "replace": ("aws_subnet.a", "aws_sagemaker_endpoint_configuration.fraud"),
    "import": ("aws_subnet.a", "aws_security_group.endpoints", "aws_s3_bucket.data"),
}
COLUMNS = ("trials", "landed", "mid-change", "pending left", "made, unrecorded", "orphans",
           "duplicates", "unloadable", "lost", "left after destroy", "finishing failed",
           "bad exits")


def plan_trials(seed: int, kills: int, ints: int,
                scenarios: Iterable[str] = SCENARIOS) -> list[TrialSpec]:
    """The trials of a campaign, from the seed alone: scenarios in turn within each signal,
    Ctrl-C alternately once and twice, moments at random. The first SIGKILL of `apply` and
    of `replace` lands while the subnet's create call is under way."""
    rng = random.Random(seed)
    names = list(scenarios)
    drafts: list[tuple[str, str]] = [(names[i % len(names)], "KILL") for i in range(kills)]
    drafts += [(names[i % len(names)], "INT" if i % 2 == 0 else "INT2") for i in range(ints)]
    specs = []
    forced: set[str] = set()
    for scenario, sig in drafts:
        via = "import" if scenario == "import" and rng.random() < 0.25 else "apply"
        if sig == "KILL" and scenario in ("apply", "replace") and scenario not in forced:
            forced.add(scenario)
            # Soon enough after the intent that the create call has reached the sandbox
            # (CreateSubnet is its first call), and before its reads record the result.
            moment = Moment("intent", address="aws_subnet.a", lag=rng.uniform(0.005, 0.025))
        else:
            moment = _random_moment(rng, scenario, via)
        specs.append(TrialSpec(0, scenario, sig, moment, via=via,
                               second_int_after=rng.uniform(0.0, 0.3)))
    rng.shuffle(specs)
    return [TrialSpec(n, s.scenario, s.signal, s.moment, s.via, s.second_int_after)
            for n, s in enumerate(specs, 1)]


def _random_moment(rng: random.Random, scenario: str, via: str) -> Moment:
    draw = rng.random()
    if via == "import" or draw < 0.35:  # `mlform import` prints no progress lines
        return Moment("delay", fraction=rng.random())
    if draw < 0.65:
        return Moment("line", fraction=rng.random(), lag=rng.uniform(0.0, 0.03))
    address = rng.choice(TARGETS[scenario])
    if draw < 0.85 or scenario == "destroy":
        return Moment("start", address=address, lag=rng.uniform(0.0, 0.03))
    return Moment("intent", address=address, lag=rng.uniform(0.0, 0.05))


def new_account(rng: random.Random) -> str:
    return str(rng.randrange(10**11, 10**12))


def calibrate(ctx: Context, specs: list[TrialSpec], accounts: random.Random,
              jobs: int = 2) -> tuple[dict[str, Calibration], list[TrialResult]]:
    """One uninterrupted run (checked like a trial) per scenario whose trials need its
    duration or its number of progress lines, after one that warms the sandbox up (its first
    calls to each service are slow)."""
    keys = sorted({s.key for s in specs if s.moment.kind in ("delay", "line")})
    if not keys:
        return {}, []
    warm_up = run_all(ctx, [TrialSpec(999, "replace", "KILL", Moment("none"))], {}, accounts, 1)
    runs = [TrialSpec(1000 + i, key.split("/")[0], "KILL", Moment("none"),
                      via=key.split("/")[1] if "/" in key else "apply")
            for i, key in enumerate(keys)]
    results = run_all(ctx, runs, {}, accounts, jobs)
    return ({r.spec.key: Calibration(r.killed.duration, r.killed.lines) for r in results},
            warm_up + results)


def run_all(ctx: Context, specs: list[TrialSpec], calibrations: dict[str, Calibration],
            accounts: random.Random, jobs: int,
            on_result: Callable[[TrialResult], None] | None = None) -> list[TrialResult]:
    planned = [(spec, new_account(accounts)) for spec in specs]

    def one(item: tuple[TrialSpec, str]) -> TrialResult:
        spec, account = item
        result = run_trial(ctx, spec, account, calibrations.get(spec.key))
        if on_result is not None:
            on_result(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, planned))


def counts(results: list[TrialResult]) -> dict[str, int]:
    return {
        "trials": len(results),
        "landed": sum(r.killed.landed for r in results),
        "mid-change": sum(r.killed.mid_change for r in results),
        "pending left": sum(bool(r.pending_left) for r in results),
        "made, unrecorded": sum(bool(r.unrecorded) for r in results),
        "orphans": sum(len(r.orphans) for r in results),
        "duplicates": sum(len(r.duplicates) for r in results),
        "unloadable": sum(bool(r.unloadable) for r in results),
        "lost": sum(len(r.lost) for r in results),
        "left after destroy": sum(len(r.left_after_destroy) for r in results),
        "finishing failed": sum(bool(r.finishing) for r in results),
        "bad exits": sum(bool(r.bad_exit) for r in results),
    }


SIGNAL_NAMES = {"KILL": "SIGKILL", "INT": "SIGINT", "INT2": "SIGINT x2"}


def table(results: list[TrialResult], markdown: bool) -> str:
    groups: dict[tuple[str, str], list[TrialResult]] = {}
    for r in sorted(results, key=lambda r: (SCENARIOS.index(r.spec.scenario), r.spec.signal)):
        groups.setdefault((r.spec.scenario, SIGNAL_NAMES[r.spec.signal]), []).append(r)
    rows = [[scenario, sig, *map(str, counts(rs).values())]
            for (scenario, sig), rs in groups.items()]
    for sig in ("SIGKILL", "SIGINT"):
        chosen = [r for r in results if SIGNAL_NAMES[r.spec.signal].startswith(sig)]
        if chosen:
            rows.append([f"all, {sig}", "", *map(str, counts(chosen).values())])
    rows.append(["total", "", *map(str, counts(results).values())])
    header = ["scenario", "signal", *COLUMNS]
    if markdown:
        lines = ["| " + " | ".join(header) + " |",
                 "|---|---|" + "---:|" * len(COLUMNS)]
        lines += ["| " + " | ".join(f"**{c}**" if row[0] == "total" and c else c for c in row)
                  + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*row) for row in [header, *rows])


def report_line(result: TrialResult) -> str:
    k = result.killed
    where = ("did not land (the command had ended)" if not k.landed else
             "landed mid-change" + (f", in flight: {', '.join(k.in_flight)}"
                                    if k.in_flight else "") if k.mid_change else
             "landed before any change started")
    status = "ok" if not result.problems else f"{len(result.problems)} PROBLEM(S)"
    pending = f"; left pending: {', '.join(result.pending_left)}" if result.pending_left else ""
    if result.unrecorded:
        pending += f"; made, unrecorded: {', '.join(result.unrecorded)}"
    return f"{result.spec.describe()}: {where}; exit {k.code}{pending} -> {status}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one")
    parser.add_argument("--trials-kill", type=int, default=50)
    parser.add_argument("--trials-int", type=int, default=20)
    parser.add_argument("--scenario", action="append", choices=SCENARIOS,
                        help="only this scenario (repeat for more); default: all")
    parser.add_argument("--jobs", type=int, default=2, help="trials at once (default 2)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--keep", action="store_true", help="keep the trials' folders")
    parser.add_argument("--only", type=lambda v: {int(n) for n in v.split(",")}, default=None,
                        help="run only these trials of the seed's campaign: --only 39,63")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    specs = plan_trials(seed, args.trials_kill, args.trials_int, args.scenario or SCENARIOS)
    if args.only:
        specs = [s for s in specs if s.number in args.only]
    ensure_ctrl_c_reaches_children()

    work = Path(tempfile.mkdtemp(prefix="mlform-crash-"))
    os.environ.update({
        "MLFORM_HOME": str(work / "home"), "MLFORM_SANDBOX_PORT": "0",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "NO_COLOR": "1"})
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "MLFORM_ENV", "MLFORM_CONFIG"):
        os.environ.pop(name, None)
    from mlform.errors import MlformError
    from mlform.sandbox import lifecycle

    info = lifecycle.start(str(work / "home"))
    started = time.monotonic()
    accounts = random.Random(seed)
    try:
        ctx = Context(info.url, work, uuid.uuid4().hex[:4])
        print(f"seed {seed}: {len(specs)} trials, sandbox {info.url}, work in {work}",
              file=sys.stderr)
        calibrations, baseline = calibrate(ctx, specs, accounts, args.jobs)
        for r in baseline:
            label = "warm-up" if r.spec.number == 999 else "calibration"
            print(f"{label} {r.spec.key}: {r.killed.duration:.2f}s, {r.killed.lines} progress "
                  "lines"
                  + ("" if not r.problems else f" PROBLEMS: {r.problems}"), file=sys.stderr)
        results = run_all(ctx, specs, calibrations, accounts, args.jobs,
                          on_result=lambda r: print(report_line(r), file=sys.stderr))
    finally:
        try:
            lifecycle.stop(str(work / "home"))
        except MlformError as exc:  # a slow final snapshot must not lose the results
            print(f"warning: {exc}", file=sys.stderr)
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    results.sort(key=lambda r: r.spec.number)
    failed = [r for r in [*baseline, *results] if r.problems]
    for r in failed:
        print(f"\n{report_line(r)}\n  seed {seed}, account folder t{r.spec.number:03d}")
        for problem in r.problems:
            print(f"  - {problem}")
        if r.killed.stderr.strip():
            print(f"  interrupted command's stderr: {r.killed.stderr.strip()[-800:]}")
    print(f"\nseed {seed}, {len(results)} trials in {time.monotonic() - started:.0f}s "
          f"(python bench/crash_campaign.py --seed {seed} to repeat)\n")
    print(table(results, args.markdown))
    sys.exit(1 if failed else 0)


def ensure_ctrl_c_reaches_children() -> None:
    """A shell starts background jobs with SIGINT ignored, and children inherit that: give
    this process a handler, so the mlform processes it starts get Python's default one."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":
    main()
