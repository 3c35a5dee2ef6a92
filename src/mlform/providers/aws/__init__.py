"""The AWS provider: one module per service, resource types named as in Terraform's provider.

Adding a resource type: write its class in the service's module and list it below.
"""

from mlform.providers.aws.ecr import EcrRepository
from mlform.providers.aws.iam import IamRole
from mlform.providers.aws.s3 import S3Bucket
from mlform.providers.aws.s3_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketPublicAccessBlock,
    S3BucketServerSideEncryptionConfiguration,
    S3BucketVersioning,
)
from mlform.providers.aws.sagemaker import (
    SagemakerEndpoint,
    SagemakerEndpointConfiguration,
    SagemakerModel,
)
from mlform.providers.aws.secretsmanager import SecretsmanagerSecret
from mlform.providers.aws.session import open_session
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
        SagemakerModel,
        SagemakerEndpointConfiguration,
        SagemakerEndpoint,
        SecretsmanagerSecret,
    ),
    open_session=open_session,
    terraform_provider="registry.terraform.io/hashicorp/aws",
)
