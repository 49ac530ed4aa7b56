"""The listener's fan-out, without a database: bounded streams, a session's end routed to its
own streams, and notifications not of 026's shape dropped."""

from __future__ import annotations

import json
import uuid

import pytest

from switchboard.errors import LiveStreamsBusy, TooManyLiveStreams
from switchboard.live.listener import BACKLOG, Listener
from switchboard.live.models import Kind

pytestmark = pytest.mark.anyio


def _listener(*, per_agent: int = 10, most: int = 100) -> Listener:
    return Listener("postgresql:///unused", per_agent=per_agent, most=most, wait_seconds=0.1)


def _messages(count: int) -> str:
    rows = [{"id": str(uuid.uuid4()), "conversation_id": str(uuid.uuid4())} for _ in range(count)]
    return json.dumps({"kind": "message", "rows": rows})


async def test_a_stream_that_falls_behind_drops_its_backlog_for_one_resync() -> None:
    listener = _listener()
    slow = listener.open(uuid.uuid4(), uuid.uuid4())
    for _ in range(BACKLOG // 25 + 1):
        listener.deliver(_messages(25))
    for _ in range(10):  # still more: nothing is kept once a resync is due
        listener.deliver(_messages(25))
    batch = await slow.next(0.1)
    assert batch is not None
    assert batch.resync
    assert batch.changes == []
    listener.deliver(_messages(3))  # after the resync is sent, changes are kept again
    after = await slow.next(0.1)
    assert after is not None
    assert not after.resync
    assert len(after.changes) == 3


async def test_a_burst_is_handed_over_at_once() -> None:
    listener = _listener()
    stream = listener.open(uuid.uuid4(), uuid.uuid4())
    listener.deliver(_messages(25))
    listener.deliver(_messages(5))
    batch = await stream.next(0.1)
    assert batch is not None
    assert len(batch.changes) == 30
    assert {change.kind for change in batch.changes} == {Kind.MESSAGE}
    assert await stream.next(0.05) is None  # nothing more: a heartbeat is due


async def test_a_sessions_end_reaches_that_sessions_streams_only() -> None:
    listener = _listener()
    agent = uuid.uuid4()
    ended, kept = uuid.uuid4(), uuid.uuid4()
    tabs = [listener.open(agent, ended), listener.open(agent, ended)]
    other = listener.open(agent, kept)
    listener.deliver(
        json.dumps({"kind": "session", "rows": [{"id": str(ended), "agent_id": str(agent)}]})
    )
    for tab in tabs:
        batch = await tab.next(0.1)
        assert batch is not None
        assert batch.check_session
    assert await other.next(0.05) is None


async def test_what_is_not_of_our_shape_is_dropped() -> None:
    listener = _listener()
    stream = listener.open(uuid.uuid4(), uuid.uuid4())
    for payload in (
        "not json",
        json.dumps({"kind": "gossip", "rows": []}),
        json.dumps({"kind": "message", "rows": [{"id": "Ada Lovelace"}]}),
        json.dumps({"kind": "presence", "rows": [{"agent_id": str(uuid.uuid4()),
                                                  "presence": "<script>"}]}),
    ):  # fmt: skip
        listener.deliver(payload)
    assert await stream.next(0.05) is None


async def test_streams_are_counted_per_agent_and_in_all_and_given_back() -> None:
    listener = _listener(per_agent=2, most=3)
    ana, bo = uuid.uuid4(), uuid.uuid4()
    first = listener.open(ana, uuid.uuid4())
    listener.open(ana, uuid.uuid4())
    with pytest.raises(TooManyLiveStreams):
        listener.open(ana, uuid.uuid4())
    listener.open(bo, uuid.uuid4())
    with pytest.raises(LiveStreamsBusy):
        listener.open(bo, uuid.uuid4())
    listener.close(first)
    listener.close(first)  # twice: harmless, counted once
    assert listener.open_streams == 2
    listener.open(bo, uuid.uuid4())
    assert listener.open_streams == 3
