"""Plans as data: each file in plan_cases/ is config + recorded state + live changes -> the
actions the plan must contain. Cloud cases run against the real sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlform.api import Workspace
from mlform.errors import ConfigError
from mlform.state.local import LocalBackend
from mlform.state.models import ResourceState, State

CASES = sorted((Path(__file__).parent / "plan_cases").glob("*.yaml"))


def _load(path: Path, uid: str) -> dict[str, Any]:
    return yaml.safe_load(path.read_text().replace("{uid}", uid))  # type: ignore[no-any-return]


@pytest.mark.parametrize("case_file", CASES, ids=[c.stem for c in CASES])
def test_plan_case(case_file: Path, tmp_path: Path, uid: str, request: pytest.FixtureRequest,
                   mlform_home: Path) -> None:
    case = _load(case_file, uid)
    config = tmp_path / "mlform.yaml"
    if "applied" in case:
        request.getfixturevalue("sandbox")
        config.write_text(case["applied"])
        outcome = Workspace(config, home=str(mlform_home)).apply()
        assert outcome.result is not None and outcome.result.ok, outcome.result
    config.write_text(case["config"])
    if "state" in case:
        ws = Workspace(config)
        state = State(project=ws.context.project, environment=ws.context.environment)
        for address, raw in case["state"].items():
            state.resources[address] = ResourceState.from_json(raw)
        for address, objects in case.get("deposed", {}).items():
            state.deposed[address] = [ResourceState.from_json(r) for r in objects]
        LocalBackend(ws.stack.state_dir, state.project, state.environment).commit(state)
    for service, method, kwargs in case.get("live", []):
        getattr(request.getfixturevalue("boto")(service), method)(**kwargs)
    ws = Workspace(config, home=str(mlform_home))
    if "error" in case:
        with pytest.raises(ConfigError) as err:
            ws.plan(**case.get("options", {}))
        assert case["error"] in str(err.value)
        return
    plan = ws.plan(**case.get("options", {}))
    actions = {c.key: c.action.value for c in plan.changes}
    assert actions == case["expect"]
    for address, fields in case.get("replace_because", {}).items():
        change = next(c for c in plan.changes if c.address == address)
        assert change.replace_because == fields
    for address, expected in case.get("create_before_destroy", {}).items():
        change = next(c for c in plan.changes if c.address == address)
        assert change.create_before_destroy is expected
    if "notes" in case:
        assert list(plan.notes) == case["notes"]
    if "outputs" in case:
        assert {n: repr(o.after) if o.after is not None and not isinstance(
            o.after, (str, int, float, bool, dict, list)) else o.after
            for n, o in plan.outputs.items()} == case["outputs"]


def test_nested_force_new_fields_force_replacement() -> None:
    from pydantic import BaseModel

    from mlform.providers.aws.ecr import EcrRepositoryArgs
    from mlform.providers.schema import forced_paths

    before = EcrRepositoryArgs.model_validate({"name": "repo"}).model_dump(mode="json")
    kms = {**before, "encryption_configuration": {"encryption_type": "KMS", "kms_key": "k"}}
    assert forced_paths(EcrRepositoryArgs, before, kms) == [("encryption_configuration",)]
    scan = {**before, "image_scanning_configuration": {"scan_on_push": True}}
    assert forced_paths(EcrRepositoryArgs, before, scan) == []

    from typing import Annotated

    from mlform.providers.base import ArgsModel, ForceNew

    class Inner(ArgsModel):
        fixed: Annotated[str, ForceNew()] = "a"
        free: str = "x"

    class Outer(ArgsModel):
        block: Inner = Inner()
        items: list[Inner] = []

    base = Outer().model_dump()
    assert forced_paths(Outer, base, {**base, "block": {"fixed": "b", "free": "x"}}) == [
        ("block", "fixed")]
    assert forced_paths(Outer, base, {**base, "block": {"fixed": "a", "free": "y"}}) == []
    one = {**base, "items": [{"fixed": "a", "free": "x"}]}
    assert forced_paths(Outer, one, {**base, "items": [{"fixed": "z", "free": "x"}]}) == [
        ("items", 0, "fixed")]
    assert forced_paths(Outer, one, base) == [("items",)]  # a block removed
    assert isinstance(Outer(), BaseModel)
