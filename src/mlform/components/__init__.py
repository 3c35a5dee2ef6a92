"""ML components: building blocks that expand into provider resources.

Adding a component type: write its module (a `ComponentModel` subclass with a
`type: Literal[...]` and `expand`) and list it below.
"""

from __future__ import annotations

from functools import cache

from mlform.components.base import ComponentModel


@cache
def component_types() -> dict[str, type[ComponentModel]]:
    """Every component type by its `type:` name (imported on first use)."""
    from mlform.components.container_registry import ContainerRegistry
    from mlform.components.dataset_store import DatasetStore
    from mlform.components.experiment_tracker import ExperimentTracker
    from mlform.components.feature_store import FeatureStore
    from mlform.components.gpu_cluster import GpuCluster
    from mlform.components.model_endpoint import ModelEndpoint
    from mlform.components.model_registry import ModelRegistry
    from mlform.components.notebook import Notebook
    from mlform.components.secret import Secret
    from mlform.components.training_pipeline import TrainingPipeline

    types: tuple[type[ComponentModel], ...] = (
        DatasetStore,
        ContainerRegistry,
        ModelEndpoint,
        Notebook,
        TrainingPipeline,
        FeatureStore,
        GpuCluster,
        ExperimentTracker,
        Secret,
        ModelRegistry,
    )
    return {t.model_fields["type"].annotation.__args__[0]: t for t in types}  # type: ignore[union-attr]
