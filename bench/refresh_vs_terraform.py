"""Refresh side by side with Terraform: the same objects, read by each tool, on the sandbox.

    python bench/refresh_vs_terraform.py              # N = 10 sets of 5 objects
    python bench/refresh_vs_terraform.py --n 20 --rounds 5 --markdown

Each set is an S3 bucket with versioning, an IAM role with an inline policy, an ECR repository
and a Secrets Manager secret. Terraform (with the hashicorp/aws provider) makes its copy and
mlform its own, on a private sandbox; then, alternating which goes first, each round times
`terraform plan -refresh-only` against `mlform refresh`: both whole processes, start-up
included, with their default parallelism (10 on both sides). API calls are counted from
mlform's report and from Terraform's debug log ("HTTP Request Sent"), in one extra run each.

Terraform needs its AWS provider: from the registry, or from a filesystem mirror at
$TF_PLUGIN_MIRROR (default /opt/tf-plugins) when there is one. Without the `terraform` binary or
the provider the Terraform side is skipped. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REGION = "us-west-1"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]}
POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def terraform_config(n: int, url: str, tag: str) -> str:
    endpoints = "\n".join(f"    {s} = \"{url}\"" for s in
                          ("s3", "iam", "ecr", "sts", "secretsmanager"))
    return f"""terraform {{
  required_providers {{ aws = {{ source = "hashicorp/aws" }} }}
}}
provider "aws" {{
  region                      = "{REGION}"
  access_key                  = "bench"
  secret_key                  = "bench"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  endpoints {{
{endpoints}
  }}
}}
resource "aws_s3_bucket" "b" {{
  count  = {n}
  bucket = "tf-{tag}-${{count.index}}"
}}
resource "aws_s3_bucket_versioning" "b" {{
  count  = {n}
  bucket = aws_s3_bucket.b[count.index].id
  versioning_configuration {{ status = "Enabled" }}
}}
resource "aws_iam_role" "r" {{
  count              = {n}
  name               = "tf-{tag}-${{count.index}}"
  assume_role_policy = {json.dumps(json.dumps(TRUST))}
  inline_policy {{
    name   = "read"
    policy = {json.dumps(json.dumps(POLICY))}
  }}
}}
resource "aws_ecr_repository" "e" {{
  count = {n}
  name  = "tf-{tag}-${{count.index}}"
}}
resource "aws_secretsmanager_secret" "s" {{
  count                   = {n}
  name                    = "tf-{tag}-${{count.index}}"
  recovery_window_in_days = 0
}}
"""


def mlform_config(n: int, tag: str) -> str:
    lines = ["project: bench", f"environments: {{refresh: {{target: sandbox, region: {REGION}}}}}",
             "resources:"]
    for i in range(n):
        name = f"ml-{tag}-{i}"
        lines += [
            f"  aws_s3_bucket.b{i}: {{bucket: {name}}}",
            f"  aws_s3_bucket_versioning.b{i}: {{bucket: '${{aws_s3_bucket.b{i}.id}}', "
            "versioning_configuration: {status: Enabled}}",
            f"  aws_iam_role.r{i}: {{name: {name}, assume_role_policy: '{json.dumps(TRUST)}', "
            f"inline_policy: [{{name: read, policy: '{json.dumps(POLICY)}'}}]}}",
            f"  aws_ecr_repository.e{i}: {{name: {name}}}",
            f"  aws_secretsmanager_secret.s{i}: {{name: {name}, recovery_window_in_days: 0}}",
        ]
    return "\n".join(lines) + "\n"


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def terraform_env(work: Path) -> dict[str, str]:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    mirror = Path(os.environ.get("TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
    if (mirror / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        rc = work / "terraform.rc"
        rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n'
                      '    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n'
                      '  direct { exclude = ["registry.terraform.io/hashicorp/aws"] }\n}\n')
        env["TF_CLI_CONFIG_FILE"] = str(rc)
    return env


def terraform_calls(folder: Path, env: dict[str, str]) -> int:
    out = subprocess.run(["terraform", "plan", "-refresh-only", "-no-color", "-input=false"],
                         cwd=folder, env={**env, "TF_LOG": "DEBUG"}, capture_output=True,
                         text=True, check=True)
    return (out.stdout + out.stderr).count("HTTP Request Sent")


def report_results(args: argparse.Namespace, times: dict[str, list[float]], ml_calls: int,
                   tf_calls: int | None) -> None:
    objects = 5 * args.n
    m = statistics.median(times["mlform"])
    print(f"{objects} objects ({args.n} x bucket, versioning, role, repository, secret), "
          f"median of {args.rounds}")
    print(f"mlform refresh:               {m:6.2f}s  {ml_calls:5d} API calls")
    if tf_calls is not None:
        t = statistics.median(times["terraform"])
        print(f"terraform plan -refresh-only: {t:6.2f}s  {tf_calls:5d} API calls")
        print(f"mlform is {t / m:.1f}x faster and makes {tf_calls / ml_calls:.1f}x fewer calls")
        if args.markdown:
            print(f"\n| {objects} objects | mlform refresh | terraform plan -refresh-only | "
                  "ratio |\n|---|---:|---:|---:|")
            print(f"| wall time (median of {args.rounds}) | {m:.2f} s | {t:.2f} s | "
                  f"{t / m:.1f}x faster |")
            print(f"| API calls | {ml_calls} | {tf_calls} | {tf_calls / ml_calls:.1f}x fewer |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10, help="sets of 5 objects")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="mlform-bench-")
    os.environ.update({"MLFORM_HOME": home, "NO_COLOR": "1", "MLFORM_SANDBOX_PORT": "0"})
    from mlform.sandbox import lifecycle

    info = lifecycle.start(home)
    tag = os.urandom(3).hex()
    work = Path(home)
    env = {**os.environ}
    mlform = [sys.executable, "-m", "mlform"]
    times: dict[str, list[float]] = {"mlform": [], "terraform": []}
    try:
        ml_dir, tf_dir = work / "mlform", work / "terraform"
        ml_dir.mkdir()
        tf_dir.mkdir()
        (ml_dir / "mlform.yaml").write_text(mlform_config(args.n, tag))
        run([*mlform, "apply", "--auto-approve"], ml_dir, env)
        report = json.loads(subprocess.run([*mlform, "refresh", "--json"], cwd=ml_dir, env=env,
                                           capture_output=True, text=True, check=True).stdout)
        ml_calls = report["api_calls"]["total"]
        tf_env = terraform_env(work)
        have_tf = shutil.which("terraform") is not None
        if have_tf:
            (tf_dir / "main.tf").write_text(terraform_config(args.n, info.url, tag))
            try:
                run(["terraform", "init", "-input=false", "-no-color"], tf_dir, tf_env)
                run(["terraform", "apply", "-auto-approve", "-input=false", "-no-color"],
                    tf_dir, tf_env)
            except subprocess.CalledProcessError:
                print("Terraform skipped: `terraform init` or `apply` failed (is the "
                      "hashicorp/aws provider reachable?)")
                have_tf = False
        for i in range(args.rounds):
            order = ("mlform", "terraform") if i % 2 == 0 else ("terraform", "mlform")
            for side in order:
                if side == "mlform":
                    times["mlform"].append(run([*mlform, "refresh"], ml_dir, env))
                elif have_tf:
                    times["terraform"].append(run(
                        ["terraform", "plan", "-refresh-only", "-no-color", "-input=false"],
                        tf_dir, tf_env))
        tf_calls = terraform_calls(tf_dir, tf_env) if have_tf else 0
    finally:
        lifecycle.stop(home)
        shutil.rmtree(home, ignore_errors=True)
    report_results(args, times, ml_calls, tf_calls if have_tf else None)

if __name__ == "__main__":
    main()
