"""Deliveries racing across two instances of the service, each with its own pool and group
writer, on one database: the same delivery, or the first messages of one thread, reach both
at once, so that their transactions overlap in PostgreSQL and only the database's guards
(the webhook ledger's unique key, cc_messages' unique provider id, the unique index on open
threads, a call's lock) can keep them apart. A group within one instance would be kept apart
by the group's own bookkeeping; these tests split every race over both.

Each race is run many times over: whether two given transactions overlap is up to the
scheduler, but over many races some always do, so a missing guard shows every run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from switchboard.app import create_app
from switchboard.settings import Settings
from tests.builders import execute, link_customer
from tests.conftest import service_url
from tests.webhooks.conftest import fixture, running, twilio_post_args
from tests.webhooks.test_vapi import post as post_to_vapi
from tests.webhooks.test_vapi import vapi

pytestmark = pytest.mark.anyio
INBOUND = "/webhooks/twilio/messages"
ROUNDS = 20


@pytest.fixture
async def services(migrated_db: str, settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two instances of the service on the test's database, as two processes would run."""
    link_customer(migrated_db, phone="+447700900001", email="ada@example.com")
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            app = create_app(settings, database_url=service_url(migrated_db), pool_size=10)
            served = running(app)
            clients.append(await anext(served))
            stack.push_async_callback(_finish, served)
        yield clients


async def _finish(served: AsyncIterator[httpx.AsyncClient]) -> None:
    async for _ in served:  # runs the generator's exit: the client, then the app's lifespan
        pass


def sms(sid: str, sender: str) -> dict[str, str]:
    return {**fixture("twilio", "inbound_sms.json"), "MessageSid": sid, "From": sender}


async def texts_to_both(
    services: list[httpx.AsyncClient], forms: list[dict[str, str]], copies: int
) -> list[httpx.Response]:
    """Each form `copies` times, the copies shared between both instances, all at once."""
    sends = [
        services[(i + n) % 2].post(INBOUND, **twilio_post_args(INBOUND, form))
        for i, form in enumerate(forms)
        for n in range(copies)
    ]
    return await asyncio.gather(*sends)


def db_url(client: httpx.AsyncClient) -> str:
    return str(client._transport.app.state.pool.conninfo)  # type: ignore[attr-defined]


async def test_a_delivery_sent_to_both_instances_at_once_is_acted_on_once(
    services: list[httpx.AsyncClient],
) -> None:
    senders = [f"+4477009002{n:02d}" for n in range(ROUNDS)]
    # Their threads are open already, as most are: nothing but the delivery's own keys stands
    # between the two instances' transactions.
    await texts_to_both(services, [sms(f"SMearlier{n}", s) for n, s in enumerate(senders)], 1)
    deliveries = [sms(f"SM{n:032x}", sender) for n, sender in enumerate(senders)]

    responses = []
    for delivery in deliveries:  # each one's copies at both instances when both are idle
        responses += await texts_to_both(services, [delivery], copies=4)

    assert {r.status_code for r in responses} == {200}
    url = db_url(services[0])
    # The ledger's claim: one row a delivery, whatever the number of copies.
    assert execute(url, "SELECT count(*), count(DISTINCT event_key) FROM cc_webhook_events") == [
        (2 * ROUNDS, 2 * ROUNDS)
    ]
    # cc_messages' unique provider id: one message a delivery, one audit record each.
    assert execute(
        url, "SELECT count(*), count(DISTINCT provider_message_id) FROM cc_messages"
    ) == [(2 * ROUNDS, 2 * ROUNDS)]
    assert execute(
        url, "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'message.received'"
    ) == [(2 * ROUNDS,)]


async def test_first_messages_of_a_thread_at_both_instances_open_one_conversation(
    services: list[httpx.AsyncClient],
) -> None:
    # Each sender's first texts (different deliveries), shared between both instances.
    firsts = [
        sms(f"SM{sender:016x}{n:016x}", f"+4477009003{sender:02d}")
        for sender in range(ROUNDS)
        for n in range(2)
    ]

    responses = await texts_to_both(services, firsts, copies=1)

    assert {r.status_code for r in responses} == {200}
    assert execute(
        db_url(services[0]),
        "SELECT count(*), count(DISTINCT conversation_id), count(DISTINCT from_address)"
        " FROM cc_messages",
    ) == [(2 * ROUNDS, ROUNDS, ROUNDS)]


async def test_a_turn_racing_its_calls_end_at_the_other_instance_lands_in_its_conversation(
    services: list[httpx.AsyncClient],
) -> None:
    sends = []
    for n in range(ROUNDS):
        report, turn = vapi("end_of_call_report"), vapi("transcript_final_user")
        report["message"]["call"]["id"] = turn["message"]["call"]["id"] = f"race-call-{n}"
        sends += [
            post_to_vapi(services[n % 2], report),
            post_to_vapi(services[(n + 1) % 2], turn),
        ]

    responses = await asyncio.gather(*sends)

    assert {r.status_code for r in responses} == {200}
    assert execute(
        db_url(services[0]),
        "SELECT count(*), count(DISTINCT provider_conversation_id) FROM cc_conversations",
    ) == [(ROUNDS, ROUNDS)]
