"""The AWS provider: one module per service, resource types named as in Terraform's provider.

Adding a resource type: write its class in the service's module and list it below.
"""

from mlform.providers.aws.appautoscaling import AppautoscalingPolicy, AppautoscalingTarget
from mlform.providers.aws.ec2 import Subnet, Vpc
from mlform.providers.aws.ec2_endpoint import VpcEndpoint
from mlform.providers.aws.ec2_gateway import Eip, InternetGateway, NatGateway
from mlform.providers.aws.ec2_route import RouteTable, RouteTableAssociation
from mlform.providers.aws.ec2_security_group import SecurityGroup
from mlform.providers.aws.ec2_security_group_rule import SecurityGroupRule
from mlform.providers.aws.ecr import EcrRepository
from mlform.providers.aws.ecr_lifecycle import EcrLifecyclePolicy
from mlform.providers.aws.ecs import EcsCluster, EcsService
from mlform.providers.aws.ecs_task_definition import EcsTaskDefinition
from mlform.providers.aws.efs import EfsFileSystem, EfsMountTarget
from mlform.providers.aws.eks import EksCluster
from mlform.providers.aws.eks_node_group import EksNodeGroup
from mlform.providers.aws.elbv2 import Lb
from mlform.providers.aws.elbv2_listener import LbListener, LbTargetGroup
from mlform.providers.aws.iam import IamRole
from mlform.providers.aws.iam_exclusive import (
    IamRolePoliciesExclusive,
    IamRolePolicyAttachmentsExclusive,
)
from mlform.providers.aws.iam_policies import IamInstanceProfile, IamPolicy
from mlform.providers.aws.iam_role_policies import IamRolePolicy, IamRolePolicyAttachment
from mlform.providers.aws.kms import KmsAlias, KmsKey
from mlform.providers.aws.logs import CloudwatchLogGroup
from mlform.providers.aws.rds import DbInstance, DbSubnetGroup
from mlform.providers.aws.s3 import S3Bucket
from mlform.providers.aws.s3_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketPublicAccessBlock,
    S3BucketServerSideEncryptionConfiguration,
    S3BucketVersioning,
)
from mlform.providers.aws.s3_policy import S3BucketPolicy
from mlform.providers.aws.sagemaker import (
    SagemakerEndpoint,
    SagemakerEndpointConfiguration,
    SagemakerModel,
)
from mlform.providers.aws.sagemaker_mlops import SagemakerFeatureGroup, SagemakerPipeline
from mlform.providers.aws.sagemaker_platform import (
    SagemakerNotebookInstance,
    SagemakerNotebookInstanceLifecycleConfiguration,
)
from mlform.providers.aws.sagemaker_registry import (
    SagemakerModelPackageGroup,
    SagemakerModelPackageGroupPolicy,
)
from mlform.providers.aws.sagemaker_studio import SagemakerDomain, SagemakerUserProfile
from mlform.providers.aws.secretsmanager import SecretsmanagerSecret, SecretsmanagerSecretVersion
from mlform.providers.aws.session import open_session
from mlform.providers.aws.ssm import SsmParameter
from mlform.providers.registry import ProviderSpec

PROVIDER = ProviderSpec(
    name="aws",
    resource_types=(
        S3Bucket,
        S3BucketVersioning,
        S3BucketServerSideEncryptionConfiguration,
        S3BucketPublicAccessBlock,
        S3BucketLifecycleConfiguration,
        IamRole,
        EcrRepository,
        EcrLifecyclePolicy,
        SagemakerModel,
        SagemakerEndpointConfiguration,
        SagemakerEndpoint,
        SecretsmanagerSecret,
        SecretsmanagerSecretVersion,
        AppautoscalingTarget,
        AppautoscalingPolicy,
        EksCluster,
        EksNodeGroup,
        SagemakerNotebookInstance,
        SagemakerNotebookInstanceLifecycleConfiguration,
        SagemakerPipeline,
        SagemakerFeatureGroup,
        Vpc,
        Subnet,
        SecurityGroup,
        InternetGateway,
        Eip,
        NatGateway,
        RouteTable,
        RouteTableAssociation,
        VpcEndpoint,
        SecurityGroupRule,
        DbSubnetGroup,
        DbInstance,
        EcsCluster,
        EcsTaskDefinition,
        EcsService,
        SagemakerModelPackageGroup,
        SagemakerModelPackageGroupPolicy,
        SagemakerDomain,
        SagemakerUserProfile,
        EfsFileSystem,
        EfsMountTarget,
        Lb,
        LbTargetGroup,
        LbListener,
        IamPolicy,
        IamRolePolicy,
        IamRolePolicyAttachment,
        IamInstanceProfile,
        KmsKey,
        KmsAlias,
        SsmParameter,
        CloudwatchLogGroup,
        S3BucketPolicy,
        IamRolePolicyAttachmentsExclusive,
        IamRolePoliciesExclusive,
    ),
    open_session=open_session,
    terraform_provider="registry.terraform.io/hashicorp/aws",
)
