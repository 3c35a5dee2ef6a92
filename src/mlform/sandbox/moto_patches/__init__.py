"""Gaps in moto that the sandbox fills, so that what works here works on AWS the same way.

Each patch makes moto answer as AWS does where mlform depends on it: an operation moto lacks,
or one whose answer differs from AWS's (moto replacing an object AWS would refuse to replace).
One module per service; each patch says which gap it fills and why mlform needs it. Applied
once, in the sandbox server process (and by tests that start a moto server of their own).
"""

from __future__ import annotations


def apply_patches() -> None:
    from mlform.sandbox.moto_patches import (
        appautoscaling,
        ec2,
        ec2_network,
        ecr,
        ecs,
        efs,
        eks,
        elbv2,
        iam,
        logs,
        rds,
        s3,
        sagemaker,
        sagemaker_studio,
    )

    sagemaker.patch_sagemaker()
    sagemaker.patch_sagemaker_notebooks()
    sagemaker.patch_sagemaker_feature_groups()
    sagemaker.patch_sagemaker_feature_additions()
    eks.patch_eks()
    ec2.patch_ec2()
    ec2_network.patch_ec2_network()
    appautoscaling.patch_application_autoscaling()
    rds.patch_rds()
    ecs.patch_ecs()
    s3.patch_s3()
    s3.patch_s3_conditional_writes()
    ecr.patch_ecr()
    sagemaker_studio.patch_sagemaker_registry()
    sagemaker_studio.patch_sagemaker_studio()
    efs.patch_efs()
    elbv2.patch_elbv2()
    iam.patch_iam()
    logs.patch_logs()
