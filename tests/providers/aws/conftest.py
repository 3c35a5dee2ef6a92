"""An in-process moto server for tests that reach into moto's backends to stage states the
sandbox would rarely show (a deployment in progress, an endpoint failing): one per module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mlform.providers.base import StackContext


@pytest.fixture(scope="module")
def cloud() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from mlform.sandbox.moto_patches import apply_patches

    apply_patches()  # as the sandbox server does
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def cloud_session(cloud: str, stack_context: StackContext) -> Any:
    from mlform.providers.aws.session import AwsSession

    return AwsSession(stack_context, endpoint_url=cloud)
