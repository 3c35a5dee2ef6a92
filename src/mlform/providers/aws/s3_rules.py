"""What S3 refuses in a lifecycle rule, in one place: the provider checks rules with it when a
config is loaded, and the sandbox refuses what AWS refuses with it.

From the S3 User Guide ("Transitioning objects using Amazon S3 Lifecycle", constraints) and the
API reference (`Transition.Days`): objects stay at least 30 days in S3 Standard before moving to
Standard-IA or One Zone-IA, and at least 30 days in those before moving on; storage classes are
passed through in one direction only; objects expire after their last transition.
"""

from __future__ import annotations

import itertools

# Storage class -> the classes a later transition of the same rule may move objects to.
NEXT = {
    "STANDARD_IA": ("INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER",
                    "DEEP_ARCHIVE"),
    "INTELLIGENT_TIERING": ("ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"),
    "ONEZONE_IA": ("GLACIER", "DEEP_ARCHIVE"),
    "GLACIER_IR": ("GLACIER", "DEEP_ARCHIVE"),
    "GLACIER": ("DEEP_ARCHIVE",),
    "DEEP_ARCHIVE": (),
}
INFREQUENT = ("STANDARD_IA", "ONEZONE_IA")  # 30 days' minimum stay, before and in them
MIN_DAYS = 30


def lifecycle_problems(transitions: list[tuple[int, str]], expiration: int | None) -> list[str]:
    """Why S3 would refuse a rule with these (days, storage class) transitions and expiration
    days; empty if it would not."""
    problems: list[str] = []
    ordered = sorted(transitions)
    classes = [c for _, c in ordered]
    for days, storage in ordered:
        if storage in INFREQUENT and days < MIN_DAYS:
            problems.append(f"a transition to {storage} must be at least {MIN_DAYS} days after "
                            f"creation, not {days}: S3 keeps objects {MIN_DAYS} days in "
                            "Standard first")
    twice = sorted({c for c in classes if classes.count(c) > 1})
    if twice:
        problems.append(f"each storage class can be a transition's target once: "
                        f"{', '.join(twice)} is more than once")
    for (days, storage), (later, target) in itertools.pairwise(ordered):
        if storage == target:
            continue
        if target not in NEXT.get(storage, ()):
            problems.append(f"S3 cannot move objects from {storage} to {target} (day {days} "
                            f"then day {later}): transitions go Standard-IA, Intelligent-"
                            "Tiering, One Zone-IA, Glacier IR, Glacier, Deep Archive, in that "
                            "order, and One Zone-IA moves only to Glacier or Deep Archive")
        elif days == later:
            problems.append(f"transitions to {storage} and {target} are both on day {days}: "
                            "each must come on a later day than the one before")
        elif storage in INFREQUENT and later - days < MIN_DAYS:
            problems.append(f"the transition to {target} (day {later}) must come at least "
                            f"{MIN_DAYS} days after the one to {storage} (day {days})")
    if expiration is not None and ordered and expiration <= ordered[-1][0]:
        problems.append(f"objects must expire after their last transition: expiration on day "
                        f"{expiration}, transition to {ordered[-1][1]} on day {ordered[-1][0]}")
    return problems
