"""`mlform_data`: a resource with no cloud object, like Terraform's `terraform_data`.

It stores `input` and echoes it as `output`; changing `triggers_replace` replaces it. Useful to
hang ordering on, in tests, and to measure the engine without a cloud in the way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import Field

from mlform.providers.base import (
    ArgsModel,
    AttrsModel,
    Discoverable,
    Discovered,
    ForceNew,
    ResourceMeta,
    ResourceType,
)
from mlform.values import UNKNOWN


class DataArgs(ArgsModel):
    input: Any = Field(None, description="Any value; stored and echoed as `output`.")
    triggers_replace: Annotated[Any, ForceNew()] = Field(
        None, description="Any value; when it changes the resource is replaced."
    )


class DataAttrs(AttrsModel):
    output: Any = Field(None, description="The `input` value after apply.")


class MlformData(ResourceType[DataArgs], Discoverable):
    type_name: ClassVar[str] = "mlform_data"
    reads_remote: ClassVar[bool] = False
    Args = DataArgs
    Attrs = DataAttrs

    @classmethod
    def plan_attributes(
        cls, args: Mapping[str, Any], prior: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        return {"id": prior["id"] if prior else UNKNOWN, "output": args.get("input")}

    def create(self, args: DataArgs, meta: ResourceMeta) -> dict[str, Any]:
        return self.attributes(args, id=str(uuid.uuid4()), output=args.input)

    def read(self, id: str, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        return dict(prior)

    def update(
        self, id: str, prior: Mapping[str, Any], args: DataArgs, meta: ResourceMeta
    ) -> dict[str, Any]:
        return self.attributes(args, id=id, output=args.input)

    def delete(self, id: str, prior: Mapping[str, Any]) -> None:
        return None

    def list(self) -> Iterator[Discovered]:
        return iter(())

    def find(self, args: ArgsModel, meta: ResourceMeta) -> dict[str, Any] | None:
        return None  # creating one has no effect outside the state, so nothing is left over
