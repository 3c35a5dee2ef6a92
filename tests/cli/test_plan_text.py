"""The plan as people read it: exact text of changes inside JSON documents and lists."""

from __future__ import annotations

from typing import Any

from tests.cli.conftest import Cli

ROLE = """project: plantext-{uid}
resources:
  aws_iam_role.runner:
    assume_role_policy:
      Version: "2012-10-17"
      Statement:
        - {{Effect: Allow, Action: "sts:AssumeRole", Principal: {{Service: {service}}}}}
    inline_policy:
      - name: read-data
        policy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: [{actions}]
              Resource: "arn:aws:s3:::plantext-{uid}/*"
      - name: write-logs
        policy:
          Version: "2012-10-17"
          Statement:
            - {{Effect: Allow, Action: "logs:PutLogEvents", Resource: "*"}}
"""


def _body(out: str, address: str) -> str:
    """The block of one resource change, as printed."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  # {address} "))
    end = next(i for i in range(start, len(lines)) if lines[i] == "    }")
    return "\n".join(lines[start:end + 1])


def test_a_policy_change_is_shown_inside_the_document(cli: Cli, sandbox: Any, uid: str) -> None:
    cli.write(ROLE.format(uid=uid, service="ec2.amazonaws.com", actions='"s3:GetObject"'))
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    cli.write(ROLE.format(uid=uid, service="sagemaker.amazonaws.com",
                          actions='"s3:GetObject", "s3:ListBucket"'))
    r = cli.run("plan")
    assert r.code == 0, r.err
    # (it was `~ assume_role_policy = "{\"Statement\":...}" -> "{\"Statement\":...}"`)
    assert _body(r.out, "aws_iam_role.runner") == f"""\
  # aws_iam_role.runner will be updated in-place
  ~ resource "aws_iam_role" "runner" {{
      ~ assume_role_policy = jsonencode(
          ~ {{
              ~ Statement = [
                  ~ [0] = {{
                      ~ Principal = {{
                          ~ Service = "ec2.amazonaws.com" -> "sagemaker.amazonaws.com"
                        }}
                        # (2 unchanged elements hidden)
                    }}
                ]
                # (1 unchanged element hidden)
            }}
        )
      ~ inline_policy      = [
          ~ "read-data" = {{
              ~ policy = jsonencode(
                  ~ {{
                      ~ Statement = [
                          ~ [0] = {{
                              ~ Action = [
                                  + "s3:ListBucket",
                                    # (1 unchanged element hidden)
                                ]
                                # (2 unchanged elements hidden)
                            }}
                        ]
                        # (1 unchanged element hidden)
                    }}
                )
                # (1 unchanged element hidden)
            }}
            # (1 unchanged element hidden)
        ]
        id                 = "plantext-{uid}-default-runner"
        # (12 unchanged attributes hidden)
    }}"""


PIPELINE = """project: plantext-{uid}
resources:
  aws_iam_role.pipeline:
    assume_role_policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: "sts:AssumeRole"
          Principal: {{Service: sagemaker.amazonaws.com}}
  aws_sagemaker_pipeline.train:
    role_arn: ${{aws_iam_role.pipeline.arn}}
    pipeline_definition:
      Version: "2020-12-01"
      Parameters: [{{Name: Epochs, Type: Integer, DefaultValue: 10}}]
      Steps:
        - Name: Prepare
          Type: Processing
          Arguments:
            ProcessingResources:
              ClusterConfig: {{InstanceType: ml.m5.large, InstanceCount: 1, VolumeSizeInGB: 30}}
        - Name: Train
          Type: Training
          Arguments:
            ResourceConfig: {{InstanceType: {instance}, InstanceCount: 1, VolumeSizeInGB: 50}}
  aws_sagemaker_feature_group.features:
    record_identifier_feature_name: id
    event_time_feature_name: at
    role_arn: ${{aws_iam_role.pipeline.arn}}
    online_store_config: {{enable_online_store: true}}
    feature_definition:
      - {{feature_name: id, feature_type: String}}
      - {{feature_name: at, feature_type: String}}
      - {{feature_name: amount, feature_type: {amount}}}
"""


def test_a_pipeline_step_change_names_the_step(cli: Cli, sandbox: Any, uid: str) -> None:
    cli.write(PIPELINE.format(uid=uid, instance="ml.m5.xlarge", amount="Integral"))
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    cli.write(PIPELINE.format(uid=uid, instance="ml.g5.xlarge", amount="Fractional"))
    r = cli.run("plan")
    assert r.code == 0, r.err
    assert _body(r.out, "aws_sagemaker_pipeline.train") == f"""\
  # aws_sagemaker_pipeline.train will be updated in-place
  ~ resource "aws_sagemaker_pipeline" "train" {{
      ~ pipeline_definition = jsonencode(
          ~ {{
              ~ Steps = [
                  ~ "Train" = {{
                      ~ Arguments = {{
                          ~ ResourceConfig = {{
                              ~ InstanceType = "ml.m5.xlarge" -> "ml.g5.xlarge"
                                # (2 unchanged elements hidden)
                            }}
                        }}
                        # (2 unchanged elements hidden)
                    }}
                    # (1 unchanged element hidden)
                ]
                # (2 unchanged elements hidden)
            }}
        )
        id                  = "plantext-{uid}-default-train"
        # (7 unchanged attributes hidden)
    }}"""
    # A list of blocks: the changed feature is named (it was `~  = {`, or the whole list as
    # one line when its length changed).
    features = _body(r.out, "aws_sagemaker_feature_group.features").splitlines()
    assert features[3:10] == [
        '      ~ feature_definition = [ # forces replacement',
        '          ~ "amount" = {',
        '              ~ feature_type = "Integral" -> "Fractional"',
        '                # (1 unchanged element hidden)',
        '            }',
        '            # (2 unchanged elements hidden)',
        '        ]']


DATA = """project: plantext
resources:
  mlform_data.steps:
    input: {steps}
"""


def test_list_elements_are_labelled_by_position(cli: Cli) -> None:
    cli.write(DATA.format(steps="[{run: prepare, cpu: 1}, {run: train, cpu: 4}]"))
    r = cli.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    cli.write(DATA.format(steps="[{run: prepare, cpu: 1}, {run: train, cpu: 8}, "
                                "{run: evaluate}]"))
    r = cli.run("plan")
    assert r.code == 0, r.err
    assert _body(r.out, "mlform_data.steps").splitlines()[2:12] == [
        "      ~ input  = [",
        "          ~ [1] = {",
        "              ~ cpu = 4 -> 8",
        "                # (1 unchanged element hidden)",
        "            }",
        "          + [2] = {",
        '              + run = "evaluate"',
        "            }",
        "            # (1 unchanged element hidden)",
        "        ]"]
