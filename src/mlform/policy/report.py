"""The result of checking a plan against policies, as every consumer reads it.

A `Finding` is one policy's verdict on one resource (or on the whole plan, `address=None`).
Outcomes are Terraform-world verdicts plus one more: `unknown`, when the value a policy needs is
known only after apply (mlform checks those again just before the resource is created).
Levels follow Sentinel: `advisory` never blocks, `soft-mandatory` blocks unless overridden with
a reason, `hard-mandatory` blocks unless a waiver in the config covers the resource.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["pass", "fail", "unknown", "warn"]
Level = Literal["advisory", "soft-mandatory", "hard-mandatory"]
LEVELS: tuple[Level, ...] = ("advisory", "soft-mandatory", "hard-mandatory")


@dataclass
class Finding:
    policy: str  # the policy id: `mlform.no-public-buckets`, `rego:main.deny`, `py:owner_tag`
    outcome: Outcome
    level: Level
    message: str
    address: str | None = None  # the resource, or None for the plan as a whole
    source: str = ""  # where the policy is written: `builtin`, `policies/s3.rego:12`
    waiver: dict[str, Any] | None = None  # the config's waiver that lets this failure through
    override: dict[str, Any] | None = None  # `--override POLICY --reason TEXT` that did

    @property
    def blocking(self) -> bool:
        """A failure that stops the plan: mandatory, and neither waived nor overridden."""
        if self.outcome != "fail" or self.waiver or self.override:
            return False
        return self.level != "advisory"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        return cls(**data)


@dataclass
class PolicyReport:
    """Every finding of one plan, with the hash of the policies that made them."""

    findings: list[Finding] = field(default_factory=list)
    bundle_hash: str = ""  # sha256 of the policy files and the config's `policy:`/`waivers:`
    overrides: list[dict[str, str]] = field(default_factory=list)  # [{policy, reason}]

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    @property
    def unknown(self) -> list[Finding]:
        return [f for f in self.findings if f.outcome == "unknown"]

    def summary(self) -> dict[str, int]:
        """Counts by outcome, with waived and overridden failures counted apart."""
        counts = {"pass": 0, "fail": 0, "unknown": 0, "warn": 0, "waived": 0, "overridden": 0}
        for f in self.findings:
            if f.outcome == "fail" and f.waiver:
                counts["waived"] += 1
            elif f.outcome == "fail" and f.override:
                counts["overridden"] += 1
            else:
                counts[f.outcome] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {"bundle_hash": self.bundle_hash, "overrides": list(self.overrides),
                "summary": self.summary(), "findings": [f.to_json() for f in self.findings]}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> PolicyReport:
        if not data:
            return cls()
        return cls([Finding.from_json(f) for f in data.get("findings", [])],
                   data.get("bundle_hash", ""), list(data.get("overrides", [])))
