"""Real Terraform on the sandbox, for the tests that compare mlform's plan JSON with its.

Terraform runs offline: its AWS provider comes from a filesystem mirror (TF_PLUGIN_MIRROR,
default /opt/tf-plugins, as bench/refresh_vs_terraform.py uses it) and every endpoint points
at the sandbox on loopback. Without the binary or the mirror the tests skip, unless
MLFORM_REQUIRE_TERRAFORM is set (CI sets it), in which case they fail: a comparison that
silently never runs proves nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

MIRROR = Path(os.environ.get("TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
SERVICES = ("s3", "iam", "ecr", "sts")


def require_terraform() -> str:
    """The terraform binary, or skip (fail under MLFORM_REQUIRE_TERRAFORM)."""
    binary = shutil.which("terraform")
    aws = MIRROR / "registry.terraform.io" / "hashicorp" / "aws"
    if binary is not None and aws.is_dir():
        return binary
    why = f"terraform ({binary or 'not on PATH'}) and its AWS provider mirror ({aws})"
    if os.environ.get("MLFORM_REQUIRE_TERRAFORM"):
        pytest.fail(f"MLFORM_REQUIRE_TERRAFORM is set but {why} are missing")
    pytest.skip(f"needs {why}")


def provider_block(url: str, region: str = "us-east-1") -> str:
    endpoints = "\n".join(f'    {s} = "{url}"' for s in SERVICES)
    return f"""terraform {{
  required_providers {{ aws = {{ source = "hashicorp/aws" }} }}
}}
provider "aws" {{
  region                      = "{region}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  endpoints {{
{endpoints}
  }}
}}
"""


class Terraform:
    """A Terraform working directory driven through the CLI."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary, self.folder = binary, folder
        rc = folder / "terraform.rc"
        rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n'
                      '    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n'
                      '  direct { exclude = ["registry.terraform.io/hashicorp/aws"] }\n}\n')
        self.env = {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "CHECKPOINT_DISABLE": "1",
                    "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}

    def run(self, *args: str) -> str:
        proc = subprocess.run([self.binary, *args, "-no-color"], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, f"terraform {args[0]}: {proc.stdout[-3000:]}{proc.stderr}"
        return proc.stdout

    def init(self) -> None:
        self.run("init")

    def plan_json(self) -> dict[str, Any]:
        self.run("plan", "-out=tf.plan")
        out = subprocess.run([self.binary, "show", "-json", "tf.plan"], cwd=self.folder,
                             env=self.env, capture_output=True, text=True, timeout=300,
                             check=True)
        doc: dict[str, Any] = json.loads(out.stdout)
        return doc

    def apply(self) -> None:
        self.run("apply", "-auto-approve")

    def destroy(self) -> None:
        self.run("destroy", "-auto-approve")
