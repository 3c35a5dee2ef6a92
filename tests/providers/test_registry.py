"""The provider registry loads a provider once, even when threads ask for it at once (the
regions of an environment load their stacks in parallel)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from mlform.providers.builtin import PROVIDER
from mlform.providers.registry import ProviderSpec, Registry


def test_threads_asking_for_a_provider_being_imported_wait_for_it() -> None:
    loads: list[int] = []
    started = threading.Event()

    def slow_import() -> ProviderSpec:  # a provider package that takes a while to import
        loads.append(1)
        started.set()
        time.sleep(0.3)
        return PROVIDER

    registry = Registry({"mlform": slow_import})
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(registry.knows, "mlform_data")
        started.wait(5)
        others = [pool.submit(registry.knows, "mlform_data") for _ in range(3)]
        answers = [first.result(), *(f.result() for f in others)]
    assert answers == [True, True, True, True]
    assert loads == [1]
