"""`include:`: entries from other files, read as if written in the config, every error naming
the file it is in."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlform.config.stack import Stack, load_stack
from mlform.errors import ConfigError

MAIN = """\
project: demo
include: [generated.yaml]
resources:
  mlform_data.a: {input: 1}
"""


def write(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path / "mlform.yaml"


def load(tmp_path: Path, files: dict[str, str]) -> Stack:
    return load_stack(write(tmp_path, files), offline=True)


def problems(tmp_path: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, files)
    return [str(p).replace(str(tmp_path) + "/", "") for p in err.value.problems]


def test_included_entries_join_the_config(tmp_path: Path) -> None:
    stack = load(tmp_path, {"mlform.yaml": MAIN, "generated.yaml": (
        "components:\n  features: {type: dataset_store}\n"
        "resources:\n  mlform_data.b: {input: '${mlform_data.a.output}'}\n"
        "outputs:\n  b: ${mlform_data.b.output}\n"
        "import:\n  - {to: mlform_data.b, id: b-1}\n"
        "moved:\n  - {from: mlform_data.old, to: mlform_data.b}\n"
        "removed:\n  - {from: mlform_data.gone, destroy: false}\n")})
    assert {"mlform_data.a", "mlform_data.b", "module.features.aws_s3_bucket.this"} <= set(
        stack.resources)
    assert stack.resources["mlform_data.b"].depends_on == ("mlform_data.a",)
    assert list(stack.outputs) == ["b"]
    assert list(stack.imports) == ["mlform_data.b"]
    assert [(m.source, m.target) for m in stack.moves] == [("mlform_data.old", "mlform_data.b")]
    assert [(r.source, r.destroy) for r in stack.removed] == [("mlform_data.gone", False)]
    assert stack.includes == [tmp_path / "generated.yaml"]
    pos = stack.resources["mlform_data.b"].pos
    assert pos is not None and (pos.file, pos.line) == (str(tmp_path / "generated.yaml"), 4)


def test_glob_patterns_are_sorted_and_may_match_nothing(tmp_path: Path) -> None:
    stack = load(tmp_path, {
        "mlform.yaml": "project: demo\ninclude: ['parts/*.yaml', 'none/*.yaml']\n",
        "parts/b.yaml": "import:\n  - {to: mlform_data.b, id: b}\n",
        "parts/a.yaml": "resources:\n  mlform_data.a: {}\n  mlform_data.b: {}\n"
                        "import:\n  - {to: mlform_data.a, id: a}\n"})
    assert list(stack.imports) == ["mlform_data.a", "mlform_data.b"]
    assert stack.includes == [tmp_path / "parts/a.yaml", tmp_path / "parts/b.yaml"]


def test_errors_in_an_included_file_name_that_file(tmp_path: Path) -> None:
    assert problems(tmp_path, {"mlform.yaml": MAIN, "generated.yaml": (
        "resources:\n  mlform_data.b:\n    inptu: 1\n"
        "  mlform_data.c: {input: '${mlform_data.nope.output}'}\n"
        "import:\n  - {to: mlform_data.z, id: z}\n")}) == [
        "generated.yaml:3:5: mlform_data.b.inptu: unknown key 'inptu'; did you mean 'input'?",
        "generated.yaml:4:26: mlform_data.c.input: ${mlform_data.nope.output} refers to no "
        "resource 'mlform_data.nope'; resources: mlform_data.a, mlform_data.b, mlform_data.c",
        "generated.yaml:6:10: import[0].to: no resource 'mlform_data.z' in the config (write "
        "the resource first, then import into it); resources: mlform_data.a, mlform_data.b, "
        "mlform_data.c",
    ]


def test_yaml_errors_in_an_included_file_name_that_file(tmp_path: Path) -> None:
    assert problems(tmp_path, {"mlform.yaml": MAIN,
                               "generated.yaml": "resources:\n\tmlform_data.b: {}\n"}) == [
        "generated.yaml:2:1: a tab character is used for indentation; YAML allows only spaces"]


def test_an_entry_defined_in_two_files_names_both(tmp_path: Path) -> None:
    assert problems(tmp_path, {
        "mlform.yaml": MAIN + "components:\n  features: {type: dataset_store}\n",
        "generated.yaml": "resources:\n  mlform_data.a: {input: 2}\n"
                          "components:\n  features: {type: dataset_store}\n"}) == [
        "generated.yaml:2:3: resources.mlform_data.a: resource 'mlform_data.a' is defined "
        "twice: at mlform.yaml:4:3 and here",
        "generated.yaml:4:3: components.features: component 'features' is defined twice: at "
        "mlform.yaml:6:3 and here",
    ]


def test_an_included_file_holds_only_entries(tmp_path: Path) -> None:
    assert problems(tmp_path, {"mlform.yaml": MAIN, "generated.yaml": (
        "project: other\nvariables: {v: {default: 1}}\ninclude: [more.yaml]\n"
        "resources: [mlform_data.b]\n")}) == [
        "generated.yaml:1:1: project: an included file may hold only `components:`, "
        "`resources:`, `outputs:`, `import:`, `moved:` and `removed:`; `project:` belongs in "
        "mlform.yaml",
        "generated.yaml:2:1: variables: an included file may hold only `components:`, "
        "`resources:`, `outputs:`, `import:`, `moved:` and `removed:`; `variables:` belongs "
        "in mlform.yaml",
        "generated.yaml:3:1: include: nested includes are not supported: list every file in "
        "the `include:` of mlform.yaml",
        "generated.yaml:4:12: resources: expected a mapping",
    ]


def test_a_missing_file_is_an_error_where_it_is_named(tmp_path: Path) -> None:
    assert problems(tmp_path, {"mlform.yaml": "project: demo\ninclude:\n  - generated.yaml\n"
                                              "  - mlform.yaml\n"}) == [
        "mlform.yaml:3:5: include[0]: no file generated.yaml",
        "mlform.yaml:4:5: include[1]: a config cannot include itself",
    ]
    assert problems(tmp_path, {"mlform.yaml": "project: demo\ninclude: generated.yaml\n"}) == [
        "mlform.yaml:2:10: include: expected a list of file paths, relative to this file "
        "(glob patterns allowed), such as [generated.yaml]"]


def test_a_pattern_never_includes_the_config_itself(tmp_path: Path) -> None:
    stack = load(tmp_path, {"mlform.yaml": "project: demo\ninclude: ['*.yaml']\n",
                            "extra.yaml": "resources:\n  mlform_data.x: {}\n"})
    assert list(stack.resources) == ["mlform_data.x"]
