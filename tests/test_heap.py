"""The long-running processes keep their start-up objects out of the collector's passes."""

from __future__ import annotations

import gc

import pytest

from switchboard.heap import startup_objects_frozen


def test_objects_alive_at_the_start_are_frozen_for_the_block_only() -> None:
    kept = [[] for _ in range(10)]

    with startup_objects_frozen():
        frozen = gc.get_freeze_count()
        assert frozen >= len(kept)
        made_inside = [[] for _ in range(10)]
        assert gc.get_freeze_count() == frozen  # what the block allocates is collected as usual
        del made_inside

    assert gc.get_freeze_count() == 0  # given back: a process that starts twice frees them


def test_an_error_in_the_block_still_gives_them_back() -> None:
    with pytest.raises(RuntimeError), startup_objects_frozen():
        raise RuntimeError("the server stopped")
    assert gc.get_freeze_count() == 0


def test_a_block_inside_another_neither_freezes_again_nor_unfreezes_early() -> None:
    with startup_objects_frozen():
        frozen = gc.get_freeze_count()
        in_flight = [[] for _ in range(100)]  # a request the API is serving meanwhile
        with startup_objects_frozen():  # the worker, started later in the same process
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen  # the worker stopped; the API's stay frozen
        del in_flight
    assert gc.get_freeze_count() == 0
