"""Short garbage-collector pauses in the long-running processes (the API, the worker)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


# gc.freeze() is process-wide: when the API and the worker share a process (`switchboard
# run`), only the outermost block freezes and only its end unfreezes. The worker's block,
# entered later, must neither freeze the requests then in flight nor, if the worker stops
# early, unfreeze what the API froze.
class _Blocks:
    open = 0


@contextmanager
def startup_objects_frozen() -> Iterator[None]:
    """While the block runs, the objects alive at its start are left out of collections.

    What a process builds to start (modules, the app and its routes, models, pools) lives as
    long as it does, yet every full collection walks all of it: a pause for every request in
    flight, at a moment nobody chooses (docs/benchmarks.md has its measured length).
    Frozen, they are not walked; collections see only what requests allocate. Unfrozen at
    the end, so that a process running the block more than once (the tests) frees them.
    No collection first: it would cost such a pause at every start, and what little garbage
    is frozen with the rest is freed at the end.
    """
    if _Blocks.open == 0:
        gc.freeze()
    _Blocks.open += 1
    try:
        yield
    finally:
        _Blocks.open -= 1
        if _Blocks.open == 0:
            gc.unfreeze()
