"""The AWS provider: one module per service, resource types named as in Terraform's provider.

Adding a resource type: write its class in the service's module and list it below.
"""

from mlform.providers.aws.ecr import EcrRepository
from mlform.providers.aws.session import open_session
from mlform.providers.registry import ProviderSpec

PROVIDER = ProviderSpec(
    name="aws",
    resource_types=(
        EcrRepository,
    ),
    open_session=open_session,
    terraform_provider="registry.terraform.io/hashicorp/aws",
)
