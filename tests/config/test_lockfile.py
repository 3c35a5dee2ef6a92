"""mlform.lock as a file: what it can pin, its bytes, its errors, and what a load of the
config does with it (no cloud: the CLI tests in tests/cli/test_lock.py use the sandbox)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlform import __version__
from mlform.api import Workspace
from mlform.config.lockfile import (
    HEADER,
    GpuPin,
    ImagePin,
    LockData,
    RegionPins,
    image_ref,
    moved,
    read_lock,
    render_lock,
    write_lock,
)
from mlform.cost.catalog import load_catalog
from mlform.errors import ConfigError, MlformError

REPO = "module.registry.aws_ecr_repository.this"
DIGEST = "sha256:" + "ab" * 32


def test_what_an_image_names() -> None:
    repos = {REPO: "demo-dev-registry"}
    ref = image_ref("${" + REPO + ".repository_url}:v3", repos)
    assert (ref.repository, ref.tag, ref.reason) == ("demo-dev-registry", "v3", None)
    assert ref.base == "${" + REPO + ".repository_url}"
    outright = image_ref("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api:1.2", {})
    assert (outright.repository, outright.tag, outright.registry, outright.region) == (
        "team/api", "1.2", "123456789012", "eu-west-1")
    assert image_ref("docker.io/library/python:3.12", {}).reason == (
        "not an ECR image (mlform pins ECR tags only)")
    assert image_ref(f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/api@{DIGEST}",
                     {}).reason == "pinned in the config"
    unnamed = image_ref("${" + REPO + ".repository_url}:v3", {REPO: "${var.x}"})
    assert unnamed.reason == f"the name of {REPO} is known only after apply"


def _data() -> LockData:
    pins = RegionPins(
        images={"api": {"image": ImagePin(uri="r:v3", repository="r", tag="v3", digest=DIGEST)}},
        gpu={"trainer": GpuPin(request="A100:8", instance_type="p4de.24xlarge")})
    return LockData(mlform="0.1.0", catalog="sha256:0", environments={
        "prod": {"ap-southeast-1": pins, "ap-south-1": RegionPins()}})


def test_the_file_is_sorted_headed_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "mlform.lock"
    write_lock(path, _data())
    text = path.read_text()
    assert text == HEADER + f"""catalog: sha256:0
environments:
  prod:
    ap-south-1: {{}}
    ap-southeast-1:
      gpu:
        trainer:
          instance_type: p4de.24xlarge
          request: A100:8
      images:
        api:
          image:
            digest: {DIGEST}
            repository: r
            tag: v3
            uri: r:v3
mlform: 0.1.0
"""
    lock = read_lock(path)
    assert lock is not None and lock.data == _data()
    assert read_lock(tmp_path / "none.lock") is None


def test_a_damaged_lock_is_one_located_error(tmp_path: Path) -> None:
    path = tmp_path / "mlform.lock"
    path.write_text(render_lock(_data()).replace(DIGEST, "sha256:abc"))
    with pytest.raises(ConfigError) as err:
        read_lock(path)
    assert str(err.value) == (
        f"{path}:16:21: environments.prod.ap-southeast-1.images.api.image.digest: String "
        "should match pattern '^sha256:[0-9a-f]{64}$' (run `mlform lock` to write it again)")


def test_what_moved() -> None:
    new = _data()
    new.environments["prod"]["ap-southeast-1"].images["api"]["image"] = ImagePin(
        uri="r:v3", repository="r", tag="v3", digest="sha256:" + "cd" * 32)
    new.environments["prod"]["ap-southeast-1"].gpu["trainer"] = GpuPin(
        request="A100:8", instance_type="p4d.24xlarge")
    new.environments["prod"]["ap-south-1"].images["api"] = {
        "image": ImagePin(uri="r:v3", repository="r", tag="v3", unpinned="no image")}
    assert moved(_data(), new) == [
        f"[prod/ap-southeast-1] api.image (r:v3): {DIGEST} -> sha256:{'cd' * 32}",
        "[prod/ap-southeast-1] trainer.gpu A100:8: p4de.24xlarge -> p4d.24xlarge",
    ]
    assert moved(new, _data()) == [
        "[prod/ap-south-1] api.image (r:v3): (not pinned) (removed)",
        f"[prod/ap-southeast-1] api.image (r:v3): sha256:{'cd' * 32} -> {DIGEST}",
        "[prod/ap-southeast-1] trainer.gpu A100:8: p4d.24xlarge -> p4de.24xlarge",
    ]


CONFIG = """project: lockfile
environments:
  dev: {}
resources:
  mlform_data.a: {input: 1}
"""


def test_frozen_needs_a_lock_of_this_mlform(tmp_path: Path) -> None:
    config = tmp_path / "mlform.yaml"
    config.write_text(CONFIG)
    with pytest.raises(ConfigError) as err:
        Workspace(config, frozen=True)
    assert str(err.value) == (f"--frozen: there is no mlform.lock beside {config}; run "
                              "`mlform lock` and commit it")
    catalog = load_catalog().version
    data = LockData(mlform="0.0.1", catalog=catalog, environments={"dev": {"us-east-1": {}}})
    write_lock(tmp_path / "mlform.lock", data)
    assert Workspace(config).stack.lock_notes == [
        f"mlform.lock written by mlform 0.0.1, this is {__version__}"]
    with pytest.raises(MlformError) as failed:
        Workspace(config, frozen=True)
    assert str(failed.value) == (
        f"{tmp_path / 'mlform.lock'}:8:1: mlform.lock written by mlform 0.0.1, this is "
        f"{__version__} (--frozen); run `mlform lock --update`")
    data.mlform = __version__
    write_lock(tmp_path / "mlform.lock", data)
    assert Workspace(config, frozen=True).stack.lock_notes == []
