"""`removed:` entries: parsed into `Stack.removed`, every mistake reported where it is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlform.config.adopt import Removal
from mlform.config.stack import load_stack
from mlform.errors import ConfigError

BASE = """\
project: demo
components:
  features: {type: dataset_store}
resources:
  mlform_data.kept: {input: 1}
"""


def load(tmp_path: Path, text: str) -> list[Removal]:
    path = tmp_path / "mlform.yaml"
    path.write_text(text)
    return load_stack(path, offline=True).removed


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "mlform.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_stack(path, offline=True)
    return [str(p).replace(str(tmp_path) + "/", "") for p in err.value.problems]


def test_entries_are_parsed_with_destroy_defaulting_to_true(tmp_path: Path) -> None:
    removed = load(tmp_path, BASE + "removed:\n"
                   "  - from: aws_s3_bucket.raw\n"
                   "    destroy: false\n"
                   "  - {from: module.old}\n"
                   "  - {from: module.api.aws_iam_role.this, destroy: true}\n")
    assert [(r.source, r.destroy) for r in removed] == [
        ("aws_s3_bucket.raw", False), ("module.old", True),
        ("module.api.aws_iam_role.this", True)]
    assert removed[0].pos is not None and (removed[0].pos.line, removed[0].pos.column) == (7, 5)


def test_a_removal_matches_its_address_or_everything_in_its_component() -> None:
    whole = Removal("module.old")
    assert whole.matches("module.old.aws_s3_bucket.this")
    assert not whole.matches("module.older.aws_s3_bucket.this")
    one = Removal("aws_s3_bucket.raw")
    assert one.matches("aws_s3_bucket.raw")
    assert not one.matches("aws_s3_bucket.raw2")
    assert not Removal("module.api.aws_iam_role.this").matches("module.api.aws_iam_role.that")


def test_bad_forms_are_located(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE + "removed:\n  - {from: raw}\n  - {from: 'module.x.y'}\n"
                    "  - {frm: aws_s3_bucket.a}\n  - {from: aws_s3_bucket.b, destroy: maybe}\n"
                    ) == [
        "mlform.yaml:9:5: removed[2]: missing required key 'from'",
        "mlform.yaml:9:6: removed[2].frm: unknown key 'frm'; did you mean 'from'?",
        "mlform.yaml:10:38: removed[3].destroy: expected a valid boolean, unable to interpret "
        "input, got a string ('maybe')",
    ]
    assert problems(tmp_path, BASE + "removed:\n  - {from: raw}\n  - {from: 'module.x.y'}\n") == [
        "mlform.yaml:7:12: removed[0].from: 'raw' is neither a resource address "
        "(`aws_s3_bucket.raw`, `module.x.aws_s3_bucket.this`) nor a component (`module.x`)",
        "mlform.yaml:8:12: removed[1].from: 'module.x.y' is neither a resource address "
        "(`aws_s3_bucket.raw`, `module.x.aws_s3_bucket.this`) nor a component (`module.x`)",
    ]


def test_what_is_still_in_the_config_cannot_be_removed(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE + "removed:\n  - {from: mlform_data.kept}\n"
                    "  - {from: module.features}\n") == [
        "mlform.yaml:7:12: removed[0].from: 'mlform_data.kept' is still in the config; "
        "remove it from `resources:` first",
        "mlform.yaml:8:12: removed[1].from: component 'features' is still in the config; "
        "remove it from `components:` first",
    ]
    assert problems(tmp_path, BASE + "removed:\n"
                    "  - {from: module.features.aws_s3_bucket.this, destroy: false}\n") == [
        "mlform.yaml:7:12: removed[0].from: 'module.features.aws_s3_bucket.this' is part of "
        "component 'features', which is still in the config; remove the component from "
        "`components:` first (a component's resources are removed with it)"]


def test_an_address_is_removed_once(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE + "removed:\n  - {from: aws_s3_bucket.raw}\n"
                    "  - {from: aws_s3_bucket.raw, destroy: false}\n"
                    "  - {from: module.old.aws_s3_bucket.this}\n  - {from: module.old}\n") == [
        "mlform.yaml:8:12: removed[1].from: 'aws_s3_bucket.raw' is removed twice (also by an "
        "earlier entry, 'aws_s3_bucket.raw')",
        "mlform.yaml:10:12: removed[3].from: 'module.old' is removed twice (also by an earlier "
        "entry, 'module.old.aws_s3_bucket.this')",
    ]


def test_an_address_is_moved_or_removed_not_both(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE + "moved:\n  - {from: mlform_data.old, to: mlform_data.kept}\n"
                    "removed:\n  - {from: mlform_data.old}\n") == [
        "mlform.yaml:9:12: removed[0].from: 'mlform_data.old' is also moved ('mlform_data.old' "
        "-> 'mlform_data.kept'); an address is either moved or removed"]
