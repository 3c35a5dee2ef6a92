"""`mlform parity` in a subprocess: the text report and its exit codes, `--json`, errors, and
the `--html` page as a real headless browser renders it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli
from tests.test_parity import CONFIG

# No GPU: nothing is looked up, so these run in a moment.
SMALL = """project: parity
environments:
  dev: {target: sandbox, region: ap-southeast-1}
  prod: {target: sandbox, account: "333333333333", regions: [ap-southeast-1, ap-south-1]}
components:
  fraud-api:
    type: model_endpoint
    image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud:v1
    instance_type: {default: ml.m5.large, prod: ml.m5.xlarge}
    replicas: {dev: 1, prod: 3}
resources:
  aws_s3_bucket.logs:
    tags: {env: "${mlform.environment}", region: "${mlform.region}"}
parity:
  allow:
    - {path: fraud-api.replicas, reason: prod takes real traffic}
"""
ALLOW_INSTANCE = "    - {path: fraud-api.instance_type, reason: prod answers in under 50 ms}\n"


def test_an_unsanctioned_difference_exits_2_and_is_named(cli: Cli, sandbox: Any) -> None:
    cli.write(CONFIG)
    r = cli.run("parity", "dev", "staging", "prod")
    assert r.code == 2, r.err
    lines = r.out.splitlines()
    assert lines[0] == ("Compared 5 environment/region(s): dev/ap-southeast-1, "
                        "staging/ap-southeast-1, prod/ap-southeast-1, prod/ap-northeast-1, "
                        "prod/ap-south-1")
    at = lines.index("unsanctioned  fraud-api.instance_type  (setting)")
    assert lines[at + 1:at + 3] == ['    dev, staging  "ml.m5.large"',
                                    '    prod          "ml.m5.xlarge"']
    at = lines.index("allowed       fraud-api.replicas  (setting)")
    assert lines[at + 4] == "    reason: prod takes real traffic"
    at = lines.index("region        module.trainer.aws_eks_node_group.gpu.instance_types  "
                     "(argument)")
    assert lines[at + 1:at + 3] == [
        '    dev, staging, prod/ap-southeast-1     ["p4de.24xlarge"]',
        '    prod/ap-northeast-1, prod/ap-south-1  ["p4d.24xlarge"]']
    assert "  *.gone: nothing matches this one  (matched nothing)" in lines
    assert lines[-1].startswith("1 unsanctioned, 2 allowed, ")
    assert "bucket" not in r.out and "aws_iam_role.ci" not in r.out  # derived names: alike


def test_allowed_differences_pass_with_their_reasons(cli: Cli, sandbox: Any) -> None:
    cli.write(SMALL + ALLOW_INSTANCE)
    r = cli.run("parity", "--json")
    assert r.code == 0, r.out + r.err
    doc = json.loads(r.out)
    assert [c["id"] for c in doc["columns"]] == ["dev/ap-southeast-1", "prod/ap-southeast-1",
                                                 "prod/ap-south-1"]
    assert doc["ok"] is True and doc["counts"] == {"unsanctioned": 0, "allowed": 2,
                                                   "region": 0}
    assert [(d["path"], d["status"], d["reason"]) for d in doc["differences"]] == [
        ("fraud-api.instance_type", "allowed", "prod answers in under 50 ms"),
        ("fraud-api.replicas", "allowed", "prod takes real traffic")]
    assert doc["differences"][1]["values"] == {"dev/ap-southeast-1": 1,
                                               "prod/ap-southeast-1": 3, "prod/ap-south-1": 3}
    r = cli.run("parity", "dev", "prod")
    assert r.code == 0
    assert r.out.splitlines()[-1] == "0 unsanctioned, 2 allowed, 0 explained by the region."


def test_var_and_var_file_set_a_value_in_every_column(cli: Cli, sandbox: Any) -> None:
    cli.write(SMALL.replace("instance_type: {default: ml.m5.large, prod: ml.m5.xlarge}",
                            "instance_type: ${var.size}")
              + "variables:\n  size: {default: ml.m5.large, prod: ml.m5.xlarge}\n")
    assert cli.run("parity").code == 2
    assert cli.run("parity", "--var", "size=ml.m5.large").code == 0
    cli.write("size: ml.m5.2xlarge\n", "vars.yaml")
    assert cli.run("parity", "--var-file", "vars.yaml").code == 0


def test_errors_are_one_located_line(cli: Cli) -> None:
    cli.write(SMALL)
    r = cli.run("parity", "dev", "prd")
    assert (r.code, r.out) == (1, "")
    assert r.err == "Error: mlform.yaml:2:1: unknown environment 'prd'; did you mean 'prod'?\n"
    cli.write(SMALL + "    - {path: '*.nodes'}\n")
    r = cli.run("parity")
    assert r.code == 1
    assert r.err == "Error: mlform.yaml:17:7: parity.allow[1]: missing required key 'reason'\n"


class _Rows(HTMLParser):
    """The rendered page's table rows: their attributes and text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[dict[str, str], list[str]]] = []
        self.inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append(({k: v or "" for k, v in attrs}, []))
            self.inside = True

    def handle_endtag(self, tag: str) -> None:
        self.inside = self.inside and tag != "tr"

    def handle_data(self, data: str) -> None:
        if self.inside and data.strip():
            self.rows[-1][1].append(data.strip())


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_html_page_renders_with_the_difference_marked(cli: Cli, sandbox: Any,
                                                          tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary to render the page (apt-get install chromium)")
    cli.write(SMALL)
    r = cli.run("parity", "--html", "parity.html")
    assert r.code == 2 and r.out.splitlines()[-1] == "Wrote parity.html."
    page = cli.cwd / "parity.html"
    assert "<script" not in page.read_text() and "http" not in page.read_text()
    # Offline: no proxy reaches anything, no name resolves, no background requests.
    flags = ["--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update",
             "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
             f"--user-data-dir={tmp_path / 'profile'}"]
    if os.geteuid() == 0:
        flags.append("--no-sandbox")
    proc = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    parser = _Rows()
    parser.feed(proc.stdout)
    rows = {a.get("data-path"): (a.get("class", "").split(), text) for a, text in parser.rows}
    classes, text = rows["fraud-api.instance_type"]
    assert "unsanctioned" in classes
    assert text[:3] == ["fraud-api.instance_type", "unsanctioned", '"ml.m5.large"']
    classes, text = rows["fraud-api.replicas"]
    assert "allowed" in classes and text[-1] == "prod takes real traffic"
    # The matrix: the component's row carries its worst status; the bucket is everywhere.
    assert "unsanctioned" in rows["fraud-api"][0]
    assert rows["aws_s3_bucket.logs"][1] == ["aws_s3_bucket.logs", "✓", "✓", "✓"]
