"""Discovery and import on the sandbox: a platform built by hand with boto3 is discovered,
imported with generated config, and the next plan shows no changes; `mlform import ADDRESS ID`
and `import:` entries adopt single objects; `moved:` renames keep every object."""

from __future__ import annotations

import json
import random
import shutil
from typing import Any

import boto3
import yaml

from mlform.api import Workspace
from tests.cli.conftest import Cli

REGION = "eu-west-2"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def _account() -> str:
    """A sandbox account of the test's own: discovery sees only what the test made there."""
    return str(random.randrange(10**11, 10**12))


def _client(sandbox: Any, account: str, service: str) -> Any:
    client = boto3.client(service, endpoint_url=sandbox.url, region_name=REGION,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.meta.events.register(
        "before-send", lambda request, **_: request.headers.__setitem__("x-moto-account-id",
                                                                        account))
    return client


def _config(account: str, body: str = "") -> str:
    return (f"project: legacy\nenvironments:\n"
            f"  dev: {{target: sandbox, region: {REGION}, account: \"{account}\"}}\n" + body)


def _build_by_hand(sandbox: Any, account: str) -> dict[str, str]:
    """An ML platform clicked together: buckets, a registry, a role, a network, a secret and a
    model endpoint, each made with plain boto3 calls."""
    def c(service: str) -> Any:
        return _client(sandbox, account, service)

    s3, iam, ecr, ec2, sm = c("s3"), c("iam"), c("ecr"), c("ec2"), c("sagemaker")
    where = {"LocationConstraint": REGION}
    # Shaped like a dataset_store: versioned, encrypted, private, with housekeeping.
    s3.create_bucket(Bucket="legacy-datasets", CreateBucketConfiguration=where)
    s3.put_bucket_versioning(Bucket="legacy-datasets",
                             VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket="legacy-datasets", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                   "BucketKeyEnabled": False}]})
    private = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                             "RestrictPublicBuckets"), True)
    s3.put_public_access_block(Bucket="legacy-datasets", PublicAccessBlockConfiguration=private)
    s3.put_bucket_lifecycle_configuration(Bucket="legacy-datasets", LifecycleConfiguration={
        "Rules": [{"ID": "housekeeping", "Status": "Enabled", "Filter": {"Prefix": ""},
                   "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                   "NoncurrentVersionExpiration": {"NoncurrentDays": 60},
                   "Expiration": {"Days": 365}}]})
    # A plain bucket with only a tag.
    s3.create_bucket(Bucket="legacy-scratch", CreateBucketConfiguration=where)
    s3.put_bucket_tagging(Bucket="legacy-scratch",
                          Tagging={"TagSet": [{"Key": "team", "Value": "ml"}]})
    # Shaped like a container_registry keeping 10 images.
    ecr.create_repository(repositoryName="legacy-train",
                          imageScanningConfiguration={"scanOnPush": True})
    ecr.put_lifecycle_policy(repositoryName="legacy-train", lifecyclePolicyText=json.dumps({
        "rules": [{"rulePriority": 1, "description": "keep the last 10 images",
                   "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                 "countNumber": 10}, "action": {"type": "expire"}}]}))
    role = iam.create_role(RoleName="legacy-sagemaker",
                           AssumeRolePolicyDocument=json.dumps(TRUST),
                           Tags=[{"Key": "owner", "Value": "data-science"}])["Role"]
    iam.put_role_policy(RoleName="legacy-sagemaker", PolicyName="read-data",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                            "Effect": "Allow", "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::legacy-datasets/*"}]}))
    iam.attach_role_policy(RoleName="legacy-sagemaker",
                           PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24",
                               AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="legacy-endpoints", VpcId=vpc,
                                      Description="inference endpoints")["GroupId"]
    c("secretsmanager").create_secret(Name="legacy-api-key", SecretString="do-not-print-me")
    image = f"{account}.dkr.ecr.{REGION}.amazonaws.com/legacy-train:v3"
    sm.create_model(ModelName="legacy-fraud-v3", ExecutionRoleArn=role["Arn"],
                    PrimaryContainer={"Image": image})
    sm.create_endpoint_config(EndpointConfigName="legacy-fraud-v3", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "legacy-fraud-v3",
        "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="legacy-fraud", EndpointConfigName="legacy-fraud-v3")
    return {"vpc": vpc, "subnet": subnet, "group": group, "role_arn": role["Arn"]}


def test_a_platform_built_by_hand_is_imported_with_generated_config(
        cli: Cli, sandbox: Any) -> None:
    account = _account()
    made = _build_by_hand(sandbox, account)
    cli.write(_config(account))

    found = json.loads(cli.run("discover", "--json").out)
    ids = {(f["type"], f["id"]) for f in found}
    assert ("aws_vpc", made["vpc"]) in ids and ("aws_subnet", made["subnet"]) in ids
    assert ("aws_s3_bucket_versioning", "legacy-datasets") in ids
    assert ("aws_sagemaker_endpoint", "legacy-fraud") in ids
    assert len(found) == 20, "\n".join(map(str, sorted(ids)))  # AWS-made defaults are not
    assert not any(t == "aws_vpc" and i != made["vpc"] for t, i in ids)  # listed
    r = cli.run("discover", "--type", "aws_s3_bucket")
    assert r.code == 0 and r.out.splitlines()[:2] == [
        "aws_s3_bucket  legacy-datasets", "aws_s3_bucket  legacy-scratch"], r.out
    r = cli.run("discover", "--type", "aws_s3_buckt")
    assert r.code == 1 and "did you mean 'aws_s3_bucket'?" in r.err, r.err

    r = cli.run("import", "--discover", "--generate-config", "mlform.yaml")
    assert r.code == 0, r.err
    assert "Import successful! 20 object(s) recorded; mlform.yaml has 3 component(s) and " \
           "12 resource(s) for them." in r.out, r.out
    written = (cli.cwd / "mlform.yaml").read_text()
    assert "do-not-print-me" not in r.out + r.err + written
    config = yaml.safe_load((cli.cwd / "mlform.yaml").read_text())
    assert config["environments"]["dev"]["account"] == account  # the user's part is kept
    assert config["components"]["legacy-datasets"] == {
        "type": "dataset_store", "bucket": "legacy-datasets", "retention_days": 365,
        "noncurrent_version_days": 60,
        # made by hand without a bucket policy: codified as it is, so the plan adds none
        "enforce_tls": False}
    assert config["components"]["legacy-train"] == {
        "type": "container_registry", "name": "legacy-train", "keep_last": 10}
    assert config["components"]["legacy-api-key"] == {
        "type": "secret", "name": "legacy-api-key", "recovery_window_in_days": 30}
    resources = config["resources"]
    model = resources["aws_sagemaker_model.legacy-fraud-v3"]
    assert model["execution_role_arn"] == "${aws_iam_role.legacy-sagemaker.arn}"
    subnet = resources["aws_subnet." + made["subnet"]]
    assert subnet["vpc_id"] == "${aws_vpc." + made["vpc"] + ".id}"
    assert resources["aws_iam_role.legacy-sagemaker"]["assume_role_policy"] == TRUST

    assert {"to": "aws_subnet." + made["subnet"], "id": made["subnet"]} in config["import"]
    assert len(config["import"]) == 20

    r = cli.run("plan", "--detailed-exitcode")
    assert r.code == 0, r.out + r.err
    assert "No changes." in r.out
    assert cli.run("discover").out.startswith("Nothing unmanaged found in sandbox eu-west-2")
    # Had the process died after writing the config but before recording the objects, the
    # `import:` entries make the next plan import them rather than create them again.
    state_dir = cli.cwd / ".mlform"
    shutil.move(state_dir, cli.cwd / "saved-state")
    r = cli.run("plan")
    assert "Plan: 20 to import, 0 to add, 0 to change, 0 to destroy." in r.out, r.out + r.err
    shutil.rmtree(state_dir, ignore_errors=True)
    shutil.move(cli.cwd / "saved-state", state_dir)
    state = Workspace(cli.cwd / "mlform.yaml", offline=True).state()
    assert state.resources["aws_vpc." + made["vpc"]].id == made["vpc"]
    assert state.resources["aws_iam_role.legacy-sagemaker"].dependencies == []
    assert state.resources["aws_sagemaker_model.legacy-fraud-v3"].dependencies == [
        "aws_iam_role.legacy-sagemaker"]

    # Now managed: a change in the config is planned as a change of the same objects.
    text = (cli.cwd / "mlform.yaml").read_text().replace("keep_last: 10", "keep_last: 20")
    cli.write(text)
    r = cli.run("plan")
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.out, r.out


def test_generated_config_in_a_new_file_is_included_and_the_next_plan_is_empty(
        cli: Cli, sandbox: Any) -> None:
    account = _account()
    s3, iam = _client(sandbox, account, "s3"), _client(sandbox, account, "iam")
    s3.create_bucket(Bucket="legacy-logs", CreateBucketConfiguration={"LocationConstraint": REGION})
    iam.create_role(RoleName="legacy-batch", AssumeRolePolicyDocument=json.dumps(TRUST))
    mine = _config(account, "# kept as written\nresources:\n  mlform_data.note: {input: 1}\n")
    cli.write(mine)
    assert cli.run("apply", "--auto-approve").code == 0

    r = cli.run("import", "--discover", "--generate-config", "generated.yaml")
    assert r.code == 0, r.err
    assert "Import successful! 4 object(s) recorded; generated.yaml has 0 component(s) and " \
           "4 resource(s) for them." in r.out, r.out
    r = cli.run("plan", "--detailed-exitcode")
    assert (r.code, r.err) == (0, ""), r.out + r.err
    assert "No changes." in r.out
    # The config gains only the include; the new file holds only the generated entries.
    assert (cli.cwd / "mlform.yaml").read_text() == mine + "\ninclude:\n  - generated.yaml\n"
    generated = (cli.cwd / "generated.yaml").read_text()
    assert generated.startswith("# Imported by `mlform import --discover` on ")
    doc = yaml.safe_load(generated)
    assert set(doc) == {"resources", "import"}
    # The role comes with its (empty) policy lists, so a policy attached to it later is drift.
    assert set(doc["resources"]) == {
        "aws_s3_bucket.legacy-logs", "aws_iam_role.legacy-batch",
        "aws_iam_role_policy_attachments_exclusive.legacy-batch",
        "aws_iam_role_policies_exclusive.legacy-batch"}

    # A second run finds nothing and leaves both files alone.
    r = cli.run("import", "--discover", "--generate-config", "more.yaml")
    assert r.code == 0 and r.out.startswith("Nothing to import"), r.out + r.err
    assert not (cli.cwd / "more.yaml").exists()
    assert (cli.cwd / "mlform.yaml").read_text().count("generated.yaml") == 1


def test_import_address_id_adopts_one_object_without_changing_it(
        cli: Cli, sandbox: Any) -> None:
    account = _account()
    s3 = _client(sandbox, account, "s3")
    s3.create_bucket(Bucket="legacy-raw", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_tagging(Bucket="legacy-raw",
                          Tagging={"TagSet": [{"Key": "team", "Value": "research"}]})
    cli.write(_config(account, "resources:\n  aws_s3_bucket.raw:\n    bucket: legacy-raw\n"
                               "    tags: {team: ml}\n"))
    r = cli.run("import", "aws_s3_bucket.raw", "legacy-raw")
    assert r.code == 0, r.err
    assert "Import successful!" in r.out
    assert s3.get_bucket_tagging(Bucket="legacy-raw")["TagSet"] == [
        {"Key": "team", "Value": "research"}]  # nothing changed in the cloud
    r = cli.run("plan")
    assert "# aws_s3_bucket.raw will be updated in-place" in r.out
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.out, r.out

    r = cli.run("import", "aws_s3_bucket.raw", "legacy-raw")
    assert (r.code, r.err) == (1, "Error: aws_s3_bucket.raw is already managed (id "
                                  "legacy-raw); nothing was imported\n")
    r = cli.run("import", "aws_s3_bucket.rwa", "legacy-raw")
    assert r.code == 1 and "did you mean 'aws_s3_bucket.raw'?" in r.err
    assert "Traceback" not in r.err and len(r.err.splitlines()) == 1


def test_import_entries_are_planned_then_applied(cli: Cli, sandbox: Any) -> None:
    account = _account()
    iam = _client(sandbox, account, "iam")
    iam.create_role(RoleName="legacy-a", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_role(RoleName="legacy-b", AssumeRolePolicyDocument=json.dumps(TRUST),
                    Description="by hand")
    trust = json.dumps(TRUST)
    cli.write(_config(account, f"""resources:
  aws_iam_role.a: {{name: legacy-a, assume_role_policy: '{trust}'}}
  aws_iam_role.b: {{name: legacy-b, assume_role_policy: '{trust}'}}
import:
  - {{to: aws_iam_role.a, id: legacy-a}}
  - {{to: aws_iam_role.b, id: legacy-b}}
"""))
    r = cli.run("plan", "-out", "import.plan")
    assert r.code == 0, r.err
    assert "# aws_iam_role.a will be imported" in r.out
    assert "# aws_iam_role.b will be updated in-place" in r.out
    assert '# (imported from "legacy-b")' in r.out
    assert "Plan: 2 to import, 0 to add, 1 to change, 0 to destroy." in r.out, r.out
    doc = json.loads(cli.run("show", "--json", "import.plan").out)
    changes = {c["address"]: c["change"] for c in doc["resource_changes"]}
    assert changes["aws_iam_role.a"]["importing"] == {"id": "legacy-a"}
    assert changes["aws_iam_role.a"]["actions"] == ["no-op"]
    assert changes["aws_iam_role.b"]["actions"] == ["update"]

    r = cli.run("apply", "import.plan")
    assert r.code == 0, r.err
    assert iam.get_role(RoleName="legacy-b")["Role"].get("Description", "") == ""
    assert cli.run("plan", "--detailed-exitcode").code == 0  # done imports are skipped

    cli.write(_config(account, f"""resources:
  aws_iam_role.c: {{name: legacy-c, assume_role_policy: '{trust}'}}
import:
  - {{to: aws_iam_role.c, id: legacy-c}}
"""))
    r = cli.run("plan")
    assert r.code == 1 and "Traceback" not in r.err
    assert r.err.startswith("Error: mlform.yaml:7:5: import aws_iam_role.c: there is no "
                            "aws_iam_role with id 'legacy-c'"), r.err


TRUST_YAML = ('{Version: "2012-10-17", Statement: [{Effect: Allow, Action: "sts:AssumeRole", '
              'Principal: {Service: ec2.amazonaws.com}}]}')
MOVE_BEFORE = """project: moves-UID
environments:
  dev: {target: sandbox, region: us-east-1}
components:
  data: {type: dataset_store, force_destroy: true}
resources:
  aws_iam_role.reader:
    assume_role_policy: TRUST
  aws_iam_role.user:
    assume_role_policy: TRUST
    depends_on: [aws_iam_role.reader]
""".replace("TRUST", TRUST_YAML)


def test_moved_renames_keep_every_object(cli: Cli, sandbox: Any, uid: str) -> None:
    cli.write(MOVE_BEFORE.replace("UID", uid))
    assert cli.run("apply", "--auto-approve").code == 0
    before = {a: r.id for a, r in Workspace(cli.cwd / "mlform.yaml", offline=True)
              .state().resources.items()}
    renamed = (MOVE_BEFORE.replace("UID", uid).replace("  data:", "  datasets:")
               .replace("aws_iam_role.reader", "aws_iam_role.writer")
               + "moved:\n  - {from: aws_iam_role.reader, to: aws_iam_role.writer}\n"
                 "  - {from: module.data, to: module.datasets}\n")
    cli.write(renamed)
    r = cli.run("plan")
    assert r.code == 0, r.err
    assert "# aws_iam_role.reader has moved to aws_iam_role.writer" in r.out
    assert ("# module.data.aws_s3_bucket.this has moved to module.datasets.aws_s3_bucket.this"
            in r.out)
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in r.out, r.out
    assert cli.run("apply", "--auto-approve").code == 0
    after = Workspace(cli.cwd / "mlform.yaml", offline=True).state().resources
    moved = {a.replace("module.data.", "module.datasets.").replace(".reader", ".writer"): i
             for a, i in before.items()}
    assert {a: r.id for a, r in after.items()} == moved
    assert after["aws_iam_role.user"].dependencies == ["aws_iam_role.writer"]
    assert cli.run("plan", "--detailed-exitcode").code == 0
    assert cli.run("destroy", "--auto-approve").code == 0


def test_moved_entries_are_checked(cli: Cli) -> None:
    cli.write(MOVE_BEFORE.replace("UID", "x") + "moved:\n"
              "  - {from: aws_iam_role.old, to: aws_iam_role.writer}\n"
              "  - {from: module.data, to: aws_iam_role.user}\n"
              "  - {from: aws_iam_role.old2, to: aws_s3_bucket.user}\n")
    r = cli.run("validate")
    assert r.code == 1 and "Traceback" not in r.err
    assert r.err.splitlines() == [
        "Error: mlform.yaml:14:5: moved[1]: move a resource to a resource (`aws_iam_role.a` -> "
        "`aws_iam_role.b`) or a component to a component (`module.api` -> `module.serving`), "
        "not 'module.data' -> 'aws_iam_role.user'",
        "Error: mlform.yaml:15:5: moved[2]: 'aws_iam_role.old2' and 'aws_s3_bucket.user' are "
        "of different types; a move cannot change a resource's type",
        "Error: mlform.yaml:13:34: moved[0].to: no resource 'aws_iam_role.writer' in the "
        "config; resources of that type: aws_iam_role.reader, aws_iam_role.user",
    ], r.err
