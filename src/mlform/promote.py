"""Promotion: make one environment serve what another runs (`mlform promote staging prod`).

What is promoted is what makes the target differ from the source without the config saying
it should (`mlform parity`'s unsanctioned differences), in three kinds:

- variables whose value differs between the two (`model_version: {staging: v2}`), when
  giving the target the source's value removes unsanctioned differences and undoes no allowed
  one: `model_version` is promoted, `replicas_per_country` (allowed) is not;
- component settings written per environment (`replicas: {staging: 1, prod: 3}`) whose
  difference is unsanctioned;
- image digests: the target's `mlform.lock` pins each image the source pins to the source's
  digest, in the target's own repository of each region, which must hold it (push or
  replicate it first): the target then serves exactly the bytes the source was tested with.

The promotion is written where a person would write it, in `mlform.yaml` (the target's
per-environment values) and `mlform.lock`, so the next plan keeps it; then the target is
planned and applied as `mlform apply` does. If the plan is declined, both files are put back.
Each promotion is recorded in the target's `promotions.jsonl`, beside its state.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlform.config.lockfile import ImagePin, LockData, lock_path, read_lock, write_lock
from mlform.config.stack import DEFAULT_CONFIG, Stack, load_stack, state_dir
from mlform.config.write import set_environment_value
from mlform.errors import MlformError
from mlform.parity import ALLOWED, SETTING, UNSANCTIONED, Column, ParityReport, compare
from mlform.providers.registry import Registry, default_registry
from mlform.state.models import now_iso


@dataclass
class Promotion:
    """What promoting `source` to `target` changes, and the files that say it."""

    source: str
    target: str
    config: Path
    variables: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name: (old, new)
    settings: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # comp.setting: ...
    # region -> `component.setting` -> (old digest, new digest)
    images: dict[str, dict[str, tuple[str | None, str]]] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)  # differences left alone, and why
    config_text: str = ""  # mlform.yaml as promoted
    lock: LockData | None = None  # mlform.lock as promoted

    @property
    def empty(self) -> bool:
        return not (self.variables or self.settings or any(self.images.values()))

    def lines(self) -> list[str]:
        """What is promoted, a line each."""
        out = [f"  var.{n}: {json.dumps(old)} -> {json.dumps(new)}"
               for n, (old, new) in self.variables.items()]
        out += [f"  {p}: {json.dumps(old)} -> {json.dumps(new)}"
                for p, (old, new) in self.settings.items()]
        for region, moves in self.images.items():
            out += [f"  [{region}] {p}: {old or '(not pinned)'} -> {new}"
                    for p, (old, new) in moves.items()]
        return out

    def to_json(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target,
                "variables": {n: {"old": o, "new": v} for n, (o, v) in self.variables.items()},
                "settings": {p: {"old": o, "new": v} for p, (o, v) in self.settings.items()},
                "images": {r: {p: {"old": o, "new": v} for p, (o, v) in m.items()}
                           for r, m in self.images.items()}}


class _Loader:
    """Stacks of the config, loaded the way parity loads them (no lock), with overrides."""

    def __init__(self, config: Path, variables: Mapping[str, Any] | None,
                 var_files: Sequence[str | os.PathLike[str]], registry: Registry,
                 home: str | None) -> None:
        self.config, self.variables, self.var_files = config, dict(variables or {}), var_files
        self.registry, self.home = registry, home

    def columns(self, environment: str, overrides: Mapping[str, Any] | None = None,
                ) -> dict[Column, Stack]:
        values = {**self.variables, **(overrides or {})}

        def load(region: str | None) -> Stack:
            return load_stack(self.config, environment, values, var_files=self.var_files,
                              registry=self.registry, home=self.home, region=region)

        first = load(None)
        out = {Column(environment, first.context.region): first}
        for region in first.env.region_names[1:]:
            out[Column(environment, region)] = load(region)
        return out


def plan_promotion(
    config: str | os.PathLike[str] = DEFAULT_CONFIG,
    source: str = "staging",
    target: str = "prod",
    *,
    variables: Mapping[str, Any] | None = None,
    var_files: Sequence[str | os.PathLike[str]] = (),
    registry: Registry | None = None,
    home: str | None = None,
    session: Any = None,
) -> Promotion:
    """What promoting `source` to `target` would write, without writing it. `session(stack)`
    opens the AWS session a target region's digest check uses (default: the stack's own)."""
    if source == target:
        raise MlformError(f"promote {source} {target}: name two different environments")
    path = Path(config)
    loader = _Loader(path, variables, var_files, registry or default_registry(), home)
    sources = loader.columns(source)
    targets = loader.columns(target)
    promo = Promotion(source, target, path, config_text=path.read_text(encoding="utf-8"))
    baseline = compare({**sources, **targets})
    src, tgt = next(iter(sources.values())), next(iter(targets.values()))

    overrides: dict[str, Any] = {}
    report = baseline
    for name in sorted(src.variables):
        old, new = tgt.variables.get(name), src.variables[name]
        if old == new:
            continue
        trial = compare({**sources, **loader.columns(target, {**overrides, name: new})})
        settled = _settled(report, trial)
        allowed = [p for p, status in settled.items() if status == ALLOWED]
        if allowed:
            promo.kept.append(f"var.{name}: it makes an allowed difference "
                              f"({', '.join(allowed)})")
        elif UNSANCTIONED in settled.values():
            overrides[name] = new
            promo.variables[name] = (old, new)
            report = trial
    for name, (_, new) in promo.variables.items():
        promo.config_text = set_environment_value(promo.config_text, ("variables", name),
                                                  target, new)
    _promote_settings(promo, report, src)
    _promote_images(promo, sources, targets, session)
    return promo


def _settled(before: ParityReport, after: ParityReport) -> dict[str, str]:
    """The differences of `before` that `after` no longer has, with their status."""
    left = {d.path for d in after.differences}
    return {d.path: d.status for d in before.differences if d.path not in left}


def _promote_settings(promo: Promotion, report: ParityReport, src: Stack) -> None:
    """Unsanctioned differences of a component setting written per environment."""
    from mlform.config.yamlpos import load_yaml

    raw, _ = load_yaml(promo.config_text, str(promo.config))
    components = raw.get("components") or {}
    for d in report.differences:
        if d.kind != SETTING or d.status != UNSANCTIONED:
            continue
        component, setting = d.path.split(".", 1)
        written = (components.get(component) or {}).get(setting)
        if not isinstance(written, dict) or not written or not set(written) <= {
                *src.environments, "default"}:
            promo.kept.append(f"{d.path}: it is not written per environment (change it "
                              "through a variable or per-environment value to promote it)")
            continue
        value = written.get(promo.source, written.get("default"))
        old = written.get(promo.target, written.get("default"))
        promo.config_text = set_environment_value(promo.config_text,
                                                  ("components", component, setting),
                                                  promo.target, value)
        promo.settings[d.path] = (old, value)


def _promote_images(promo: Promotion, sources: Mapping[Column, Stack],
                    targets: Mapping[Column, Stack], session: Any) -> None:
    """The target's lock entries take the source's digests (the source region of the same
    name, else its first), each checked in the target region's repository."""
    found = read_lock(lock_path(promo.config))
    if found is None:
        return
    data = found.data.model_copy(deep=True)
    src_regions = [c.region for c in sources]
    for column, stack in targets.items():
        region = column.region if column.region in src_regions else src_regions[0]
        src_pins = data.region(promo.source, region)
        tgt_pins = data.region(promo.target, column.region)
        if src_pins is None or not src_pins.images:
            continue
        if tgt_pins is None:
            raise MlformError(f"mlform.lock has no entry for {promo.target} in {column.region}:"
                              f" run `mlform lock -e {promo.target}` first")
        moves: dict[str, tuple[str | None, str]] = {}
        for component, settings in src_pins.images.items():
            for setting, pin in settings.items():
                have = tgt_pins.images.get(component, {}).get(setting)
                if pin.digest is None or have is None or have.repository is None:
                    continue
                if have.digest == pin.digest:
                    continue
                _check_digest(stack, session, have, pin, column.region)
                uri = have.uri
                if have.tag and pin.tag and uri.endswith(f":{have.tag}"):
                    uri = f"{uri[: -len(have.tag)]}{pin.tag}"
                tgt_pins.images[component][setting] = ImagePin(
                    uri=uri, repository=have.repository, tag=pin.tag, digest=pin.digest)
                moves[f"{component}.{setting}"] = (have.digest, pin.digest)
        if moves:
            promo.images[column.region] = moves
    promo.lock = data


def _check_digest(stack: Stack, session: Any, have: ImagePin, pin: ImagePin,
                  region: str) -> None:
    """The target repository must hold the digest the source serves."""
    from botocore.exceptions import ClientError

    if session is None:
        from mlform.providers.registry import default_registry

        session = default_registry().provider_for("aws_ecr_repository").open_session
    ecr = session(stack.context).client("ecr", region)
    try:
        ecr.describe_images(repositoryName=have.repository,
                            imageIds=[{"imageDigest": pin.digest}])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise MlformError(
            f"{pin.digest} ({pin.uri}) is not in {have.repository} in {region} for "
            f"{stack.context.environment} ({code}): push or replicate the image there first, "
            "then promote again") from None


def write_promotion(promo: Promotion) -> tuple[str, str | None]:
    """Write the promoted config and lock; the previous texts, to put back."""
    config_before = promo.config.read_text(encoding="utf-8")
    path = lock_path(promo.config)
    lock_before = path.read_text(encoding="utf-8") if path.exists() else None
    _replace(promo.config, promo.config_text)
    if promo.lock is not None:
        write_lock(path, promo.lock)
    return config_before, lock_before


def restore(promo: Promotion, before: tuple[str, str | None]) -> None:
    """Put back what `write_promotion` replaced."""
    _replace(promo.config, before[0])
    if before[1] is not None:
        _replace(lock_path(promo.config), before[1])


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def record(promo: Promotion, stack: Stack, regions: Mapping[str, str]) -> Path:
    """Append the promotion and what became of it in each region to the target's
    `promotions.jsonl` (beside its state: `.mlform/state/<target>/`)."""
    folder = state_dir(stack.config_path, stack.env, promo.target, stack.context.region)
    if stack.env.regions is not None:
        folder = folder.parent
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "promotions.jsonl"
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = f"uid {os.getuid()}"
    entry = {"at": now_iso(), "by": who, **promo.to_json(), "regions": dict(regions)}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return path
