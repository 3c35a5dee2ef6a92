"""Adding generated entries to a user's config keeps everything already written."""

from __future__ import annotations

import pytest
import yaml

from mlform.config.write import add_entries
from mlform.errors import MlformError

CONFIG = """# the team's platform
project: p
resources:
  # hand-written
  aws_s3_bucket.a: {bucket: a}

outputs: {}
"""


def test_entries_join_an_existing_section_at_its_indentation() -> None:
    out = add_entries(CONFIG, "resources", {"aws_s3_bucket.b": {"bucket": "b"}}, "imported")
    assert out.startswith("# the team's platform\nproject: p\nresources:\n  # hand-written\n")
    assert "  # imported\n  aws_s3_bucket.b:\n    bucket: b\n" in out
    assert yaml.safe_load(out) == {"project": "p", "outputs": {}, "resources": {
        "aws_s3_bucket.a": {"bucket": "a"}, "aws_s3_bucket.b": {"bucket": "b"}}}


def test_a_missing_section_is_appended_and_lists_keep_one_item_a_line() -> None:
    out = add_entries(CONFIG, "import", [{"to": "aws_s3_bucket.a", "id": "a"}], "imported")
    assert out.endswith("outputs: {}\n\n# imported\nimport:\n  - {to: aws_s3_bucket.a, id: a}\n")
    again = add_entries("project: p\nimport:\n- {to: x.y, id: x}\nresources: {}\n", "import",
                        [{"to": "x.z", "id": "z"}])
    assert yaml.safe_load(again)["import"] == [{"to": "x.y", "id": "x"}, {"to": "x.z", "id": "z"}]


def test_a_flow_style_section_is_not_rewritten() -> None:
    with pytest.raises(MlformError, match="written in flow style"):
        add_entries("project: p\nresources: {aws_s3_bucket.a: {bucket: a}}\n", "resources",
                    {"aws_s3_bucket.b": {}})


def test_add_include_appends_to_a_block_or_flow_list_or_starts_one() -> None:
    from mlform.config.write import add_include

    assert add_include("# mine\nproject: p\n", "generated.yaml") == (
        "# mine\nproject: p\n\ninclude:\n  - generated.yaml\n")
    block = "project: p\ninclude:\n  - a.yaml  # theirs\nresources: {}\n"
    assert add_include(block, "generated.yaml") == (
        "project: p\ninclude:\n  - a.yaml  # theirs\n  - generated.yaml\nresources: {}\n")
    assert add_include("project: p\ninclude: [a.yaml]  # x\n", "g.yaml") == (
        "project: p\ninclude: [a.yaml, g.yaml]  # x\n")
    assert add_include("project: p\ninclude: []\n", "g.yaml") == "project: p\ninclude: [g.yaml]\n"


def test_add_include_leaves_a_file_already_listed_or_matched() -> None:
    from mlform.config.write import add_include

    for text in ("project: p\ninclude: [g.yaml]\n", "project: p\ninclude: ['*.yaml']\n"):
        assert add_include(text, "g.yaml") == text
