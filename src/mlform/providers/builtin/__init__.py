"""The `mlform` provider: resources that live only in mlform's state."""

from mlform.providers.builtin.data import MlformData
from mlform.providers.registry import ProviderSpec

PROVIDER = ProviderSpec(
    name="mlform",
    resource_types=(MlformData,),
    open_session=lambda ctx: None,
    terraform_provider="mlform.dev/builtin/mlform",
)
