"""Messages for the YAML mistakes people make most: exact text, file:line:column first."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlform.config.stack import load_stack
from mlform.errors import ConfigError


def problems(tmp_path: Path, text: str, environment: str | None = None) -> list[str]:
    path = tmp_path / "mlform.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_stack(path, environment, offline=True)
    return [str(p).replace(str(tmp_path) + "/", "") for p in err.value.problems]




def test_unknown_key_suggestion_uses_the_alias(tmp_path: Path) -> None:
    assert problems(tmp_path, "project: demo\nimprot: []\n") == [
        "mlform.yaml:2:1: improt: unknown key 'improt'; did you mean 'import'?"]


def test_valid_keys_listed_with_their_aliases(tmp_path: Path) -> None:
    assert problems(tmp_path, "project: demo\nmoved:\n  - {from: a.b, to: a.c, by: x}\n") == [
        "mlform.yaml:3:26: moved[0].by: unknown key 'by'; valid keys: from, to"]


VERSIONED = """\
project: demo
environments:
  dev: {}
  prod: {}
variables:
  model_version:
    default: yes
    prod: 1.10
resources:
  mlform_data.model:
    input: "model-${var.model_version}"
"""


def test_yaml_boolean_written_into_text_says_to_quote_it(tmp_path: Path) -> None:
    assert problems(tmp_path, VERSIONED, "dev") == [
        'mlform.yaml:7:14: variables.model_version.default: expected a string, got the '
        'boolean true (YAML reads yes as a boolean); quote it: "yes"']


def test_yaml_float_written_into_text_says_to_quote_it(tmp_path: Path) -> None:
    assert problems(tmp_path, VERSIONED, "prod") == [
        'mlform.yaml:8:11: variables.model_version.prod: expected a string, got the number '
        '1.1 (YAML reads 1.10 as a number); quote it: "1.10"']


def test_quoted_or_harmless_values_pass(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_text(VERSIONED.replace("yes", '"yes"').replace("1.10", "3"))
    assert load_stack(path, "dev").resources["mlform_data.model"].template == {
        "input": "model-yes"}
    # 3 reads back as "3": nothing is lost, nothing to report.
    assert load_stack(path, "prod").resources["mlform_data.model"].template == {
        "input": "model-3"}


@pytest.mark.parametrize(("written", "message"), [
    ("on", 'the boolean true (YAML reads on as a boolean); quote it: "on"'),
    ("off", 'the boolean false (YAML reads off as a boolean); quote it: "off"'),
    ("no", 'the boolean false (YAML reads no as a boolean); quote it: "no"'),
    ("3.0", 'the number 3.0 (YAML reads 3.0 as a number); quote it: "3.0"'),
])
def test_yaml_scalar_where_a_string_is_expected(tmp_path: Path, written: str,
                                                message: str) -> None:
    assert problems(tmp_path, f"project: demo\nresources:\n  aws_s3_bucket.b:\n"
                              f"    bucket: {written}\n") == [
        f"mlform.yaml:4:13: aws_s3_bucket.b.bucket: expected a string, got {message}"]


def test_tab_in_indentation_is_named(tmp_path: Path) -> None:
    assert problems(tmp_path, "project: demo\nresources:\n  aws_s3_bucket.b:\n"
                              "\tbucket: x\n") == [
        "mlform.yaml:4:1: a tab character is used for indentation; YAML allows only spaces"]


def test_tab_after_spaces_in_indentation_is_named(tmp_path: Path) -> None:
    assert problems(tmp_path, "project: demo\nresources:\n  aws_s3_bucket.b:\n"
                              "    bucket: x\n  \tforce_destroy: true\n") == [
        "mlform.yaml:5:3: a tab character is used for indentation; YAML allows only spaces"]


TRIGGERS = """\
project: demo
resources:
  mlform_data.a: {input: 1}
  mlform_data.b:
    lifecycle:
      replace_triggered_by: [mlform_data.z.input, "${mlform_data.a.input}", mlform_data.b]
"""


def test_replace_triggered_by_names_resources_of_the_config(tmp_path: Path) -> None:
    assert problems(tmp_path, TRIGGERS) == [
        "mlform.yaml:6:30: mlform_data.b.lifecycle.replace_triggered_by[0]: "
        "${mlform_data.z.input} refers to no resource 'mlform_data.z'; resources: "
        "mlform_data.a, mlform_data.b",
        "mlform.yaml:6:51: mlform_data.b.lifecycle.replace_triggered_by[1]: "
        "'${mlform_data.a.input}' is not a resource address or a resource's attribute (write "
        "it as `aws_x.name` or `aws_x.name.attribute`, without ${})",
        "mlform.yaml:6:77: mlform_data.b.lifecycle.replace_triggered_by[2]: 'mlform_data.b' "
        "refers to the resource itself"]
