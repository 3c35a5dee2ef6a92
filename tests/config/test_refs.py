from __future__ import annotations

import pytest

from mlform.config.refs import Ref, RefSyntaxError, iter_refs, parse_template, substitute
from mlform.values import UNKNOWN


def test_parse_template_splits_literals_and_references() -> None:
    pieces = parse_template("${aws_ecr_repository.r.repository_url}:${var.tag}")
    assert [str(p) if isinstance(p, Ref) else p for p in pieces] == [
        "${aws_ecr_repository.r.repository_url}", ":", "${var.tag}"]
    ref = pieces[0]
    assert isinstance(ref, Ref)
    assert ref.address == "aws_ecr_repository.r"
    assert ref.attr_path == ("repository_url",)


def test_indexes_and_escapes() -> None:
    text = "${aws_sagemaker_endpoint_configuration.c.production_variants[0].variant_name}"
    (ref,) = parse_template(text)
    assert isinstance(ref, Ref)
    assert ref.attr_path == ("production_variants", 0, "variant_name")
    assert parse_template("cost: $${not.a.ref}") == ("cost: ${not.a.ref}",)


@pytest.mark.parametrize("text", ["${}", "${one}", "${a b}", "${aws_s3_bucket.x}", "${a..b}"])
def test_bad_references_are_rejected(text: str) -> None:
    with pytest.raises(RefSyntaxError):
        parse_template(text)


def test_whole_reference_keeps_type_and_embedded_renders() -> None:
    values = {"var.n": 3, "var.tags": {"a": "b"}, "var.flag": True}

    def resolve(ref: Ref) -> object:
        return values[".".join(map(str, ref.parts))]

    assert substitute("${var.n}", resolve) == 3
    assert substitute("n=${var.n} f=${var.flag}", resolve) == "n=3 f=true"
    assert substitute({"k": ["${var.tags}"]}, resolve) == {"k": [{"a": "b"}]}


def test_unknown_spreads_to_the_whole_string() -> None:
    assert substitute("x-${a.b.c}", lambda r: UNKNOWN) is UNKNOWN
    assert substitute("${a.b.c}", lambda r: UNKNOWN) is UNKNOWN


def test_static_pass_leaves_resource_references_and_escapes_values() -> None:
    def resolve(ref: Ref) -> object:
        assert ref.is_static
        return "has ${dollar}"

    out = substitute("${var.x}/${aws_s3_bucket.b.arn}", resolve, only_static=True)
    assert out == "has $${dollar}/${aws_s3_bucket.b.arn}"
    assert substitute(out, lambda r: "ARN") == "has ${dollar}/ARN"
    assert [str(r) for _, r in iter_refs({"a": [out]})] == ["${aws_s3_bucket.b.arn}"]
