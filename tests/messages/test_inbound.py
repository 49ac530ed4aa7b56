"""Recording inbound messages: a group's texts each stored once in its thread's conversation,
with the steps only some messages need (a keyword, a call, a reply) inside the same path; and
the group writer that feeds it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool

from switchboard.conversations.models import Channel, Provider
from switchboard.messages import repository
from switchboard.messages.group_commit import InboundTexts
from switchboard.messages.inbound import record_inbound
from switchboard.messages.models import InboundMessage, Recorded, Thread
from switchboard.metrics import Metrics
from tests.builders import execute, link_customer

pytestmark = pytest.mark.anyio
OURS = "+447700900000"
ANN, BOB = "+447700900101", "+447700900102"


def text(
    sid: str, sender: str, body: str = "hello", channel: Channel = Channel.SMS
) -> InboundMessage:
    return InboundMessage(
        provider=Provider.TWILIO,
        channel=channel,
        provider_message_id=sid,
        from_address=sender,
        to_address=OURS,
        body_text=body,
        body_json={"NumSegments": "1"},
        thread=Thread(key=f"{sender}|{OURS}"),
    )


async def hold_delivery(conn: AsyncConnection[Any], event_key: str) -> None:
    """Claim a delivery in a transaction left open, as a provider's retry being written would:
    other claims of it wait until `conn` commits or rolls back."""
    await conn.execute("BEGIN")
    await conn.execute(
        "INSERT INTO cc_webhook_events (provider, event_key, event_type)"
        " VALUES ('twilio', %s, 'message.received')",
        (event_key,),
    )


@pytest.fixture
async def pool(migrated_db: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with AsyncConnectionPool(
        migrated_db, min_size=1, max_size=10, kwargs={"autocommit": True}, open=False
    ) as opened:
        yield opened


async def one(pool: AsyncConnectionPool[Any], message: InboundMessage) -> Recorded:
    [recorded] = await record_inbound(pool, [message])
    return recorded


async def test_a_group_stores_each_delivery_once_in_its_threads_conversation(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    bob = link_customer(migrated_db, phone=BOB, email="bob@example.com")
    earlier = await one(pool, text("SM0", ANN))

    results = await record_inbound(
        pool,
        [
            text("SM1", ANN),
            text("SM2", BOB, "card 4111 1111 1111 1111 please"),
            text("SM3", BOB),
            text("SM1", ANN),  # the same delivery again, in the same group
            text("SM0", ANN),  # recorded before
        ],
    )

    assert [r.duplicate for r in results] == [False, False, False, True, True]
    assert results[0].conversation_id == earlier.conversation_id
    assert results[1].conversation_id == results[2].conversation_id != earlier.conversation_id
    assert [r.bank_customer_id for r in results[:3]] == [None, bob, bob]
    stored = execute(
        migrated_db,
        "SELECT provider_message_id, body_text, conversation_id, status FROM cc_messages"
        " ORDER BY created_at",
    )
    assert [(sid, status) for sid, _, _, status in stored] == [
        ("SM0", "received"),
        ("SM1", "received"),
        ("SM2", "received"),
        ("SM3", "received"),
    ]
    assert stored[2][1] == "card •••• •••• •••• 1111 please"
    audits = execute(
        migrated_db,
        "SELECT output_redacted->>'message_id', output_redacted->>'conversation_opened',"
        " conversation_id, bank_customer_id, actor_type, success FROM cc_audit_logs"
        " WHERE event_type = 'message.received' ORDER BY created_at",
    )
    assert audits == [
        (str(earlier.message_id), "true", earlier.conversation_id, None, "provider", True),
        (str(results[0].message_id), "false", earlier.conversation_id, None, "provider", True),
        (str(results[1].message_id), "true", results[1].conversation_id, bob, "provider", True),
        (str(results[2].message_id), "false", results[1].conversation_id, bob, "provider", True),
    ]
    assert execute(migrated_db, "SELECT count(*) FROM cc_webhook_events") == [(4,)]


async def test_a_group_of_deliveries_all_seen_before_writes_nothing(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    await record_inbound(pool, [text("SM1", ANN), text("SM2", BOB)])
    before = execute(migrated_db, "SELECT count(*) FROM cc_audit_logs")

    again = await record_inbound(pool, [text("SM2", BOB), text("SM1", ANN)])

    assert [r.duplicate for r in again] == [True, True]
    assert execute(migrated_db, "SELECT count(*) FROM cc_audit_logs") == before
    assert execute(migrated_db, "SELECT count(*) FROM cc_messages") == [(2,)]


async def test_an_open_conversation_learns_its_sender_was_linked_since(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    first = await one(pool, text("SM1", ANN))
    ann = link_customer(migrated_db, phone=ANN, email="ann@example.com")

    [result] = await record_inbound(pool, [text("SM2", ANN)])

    assert (result.conversation_id, result.bank_customer_id) == (first.conversation_id, ann)
    assert execute(
        migrated_db,
        "SELECT bank_customer_id FROM cc_conversations WHERE id = %s",
        (first.conversation_id,),
    ) == [(ann,)]


async def test_a_closed_conversation_is_not_continued_by_a_group(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    first = await one(pool, text("SM1", ANN))
    execute(
        migrated_db,
        "UPDATE cc_conversations SET status = 'closed' WHERE id = %s",
        (first.conversation_id,),
    )

    [result] = await record_inbound(pool, [text("SM2", ANN)])

    assert result.conversation_id != first.conversation_id
    assert execute(
        migrated_db,
        "SELECT status FROM cc_conversations WHERE id = %s",
        (result.conversation_id,),
    ) == [("open",)]


async def test_a_keyword_in_a_group_is_stored_and_heeded_there(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    ann = link_customer(migrated_db, phone=ANN, email="ann@example.com")

    results = await record_inbound(
        pool, [text("SM1", ANN, "hello"), text("SM2", ANN, "STOP"), text("SM3", BOB, "STOP")]
    )

    assert [r.duplicate for r in results] == [False] * 3
    assert execute(
        migrated_db,
        "SELECT event_type, actor_id, success FROM cc_audit_logs"
        " WHERE event_type LIKE 'preferences.%%' ORDER BY created_at",
    ) == [
        ("preferences.updated", str(ann), True),
        ("preferences.keyword_not_applied", "unlinked-sender", False),
    ]


async def test_a_group_of_several_providers_or_event_types_is_refused(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    email = InboundMessage(
        provider=Provider.SENDGRID,
        channel=Channel.EMAIL,
        provider_message_id="<a@example.com>",
        from_address="ann@example.com",
        to_address="help@bank.example",
        body_text="hello",
        body_json={},
        thread=Thread(key="<a@example.com>", replies_to=("<b@example.com>",)),
    )
    with pytest.raises(ValueError, match="one provider, event type and direction"):
        await record_inbound(pool, [text("SM0", BOB), email])
    assert execute(migrated_db, "SELECT count(*) FROM cc_webhook_events") == [(0,)]


async def test_a_conversation_closed_while_the_group_waited_for_its_claim_is_not_continued(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    bobs = await one(pool, text("SMB1", BOB))
    async with (
        await AsyncConnection.connect(migrated_db, autocommit=True) as other,
        await AsyncConnection.connect(migrated_db, autocommit=True) as agent,
    ):
        # Another transaction holds Ann's delivery (the provider's retry, being written).
        await hold_delivery(other, "SMA1")
        group = asyncio.create_task(record_inbound(pool, [text("SMA1", ANN), text("SMB2", BOB)]))
        await asyncio.sleep(0.3)
        assert not group.done()  # waiting on SMA1
        await agent.execute(
            "UPDATE cc_conversations SET status = 'closed' WHERE id = %s", (bobs.conversation_id,)
        )
        await other.execute("ROLLBACK")
        _, bob_again = await group

    assert bob_again.conversation_id != bobs.conversation_id
    assert execute(
        migrated_db,
        "SELECT status FROM cc_conversations WHERE id = %s",
        (bob_again.conversation_id,),
    ) == [("open",)]


async def test_a_group_whose_insert_fails_stores_nothing_and_leaves_its_connection_usable(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    # The last statement fails, after the claim and the look-up: another transaction is
    # storing one of the messages (its provider id) and the group gives up waiting on it.
    anns = await one(pool, text("SMA1", ANN))
    async with await AsyncConnection.connect(migrated_db, autocommit=True) as other:
        await other.execute("BEGIN")
        await other.execute(
            "INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,"
            " status) VALUES (%s, 'inbound', 'twilio', 'SMA3', 'received')",
            (anns.conversation_id,),
        )
        impatient = make_conninfo(migrated_db, options="-c lock_timeout=200ms")
        async with AsyncConnectionPool(
            impatient, min_size=1, max_size=1, kwargs={"autocommit": True}
        ) as waits_little:
            with pytest.raises(psycopg.errors.LockNotAvailable):
                await record_inbound(waits_little, [text("SMA2", ANN), text("SMA3", ANN)])
            await other.execute("ROLLBACK")
            async with waits_little.connection() as conn:
                assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    assert execute(
        migrated_db, "SELECT count(*) FROM cc_webhook_events WHERE event_key IN ('SMA2', 'SMA3')"
    ) == [(0,)]
    again = await record_inbound(pool, [text("SMA2", ANN), text("SMA3", ANN)])
    assert [r.conversation_id for r in again] == [anns.conversation_id] * 2
    assert execute(migrated_db, "SELECT count(*) FROM cc_messages") == [(3,)]
    assert execute(
        migrated_db, "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'message.received'"
    ) == [(3,)]


async def test_groups_sharing_deliveries_in_another_order_do_not_deadlock(
    migrated_db: str,
) -> None:
    group = [text(f"SM{n:02d}", f"+4477009002{n:02d}") for n in range(12)]
    async with (
        AsyncConnectionPool(
            migrated_db, min_size=1, max_size=1, kwargs={"autocommit": True}
        ) as first,
        AsyncConnectionPool(
            migrated_db, min_size=1, max_size=1, kwargs={"autocommit": True}
        ) as second,
        await AsyncConnection.connect(migrated_db, autocommit=True) as third,
    ):
        # A third transaction holds a delivery in the middle, so that both groups are
        # waiting on it, each holding what it claimed before it, when it lets go: claimed in
        # the order given, each would then need what the other holds, every time.
        await hold_delivery(third, "SM06")
        both = asyncio.gather(record_inbound(first, group), record_inbound(second, group[::-1]))
        await asyncio.sleep(0.3)
        await third.execute("ROLLBACK")
        forward, backward = await both

    stored = [not r.duplicate for r in forward] + [not r.duplicate for r in backward]
    assert sum(stored) == 12
    assert execute(migrated_db, "SELECT count(*) FROM cc_messages") == [(12,)]
    assert execute(migrated_db, "SELECT count(*) FROM cc_conversations") == [(12,)]


async def test_texts_arriving_together_are_written_in_groups_and_each_answered(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    senders = [f"+4477009003{n:02d}" for n in range(10)]
    deliveries = [text(f"SM{n:03d}", senders[n % 10]) for n in range(60)]
    deliveries += deliveries[:15]  # redelivered while the first ones are being written

    async with InboundTexts(pool, Metrics()) as texts:
        results = await asyncio.gather(*(texts.record(message) for message in deliveries))

    assert sum(not r.duplicate for r in results) == 60
    assert texts.grouped_texts == 75
    assert texts.groups < 75 / 2  # grouped, not one by one
    assert execute(migrated_db, "SELECT count(*) FROM cc_messages") == [(60,)]
    assert execute(migrated_db, "SELECT count(DISTINCT conversation_id) FROM cc_messages") == [
        (10,)
    ]
    assert execute(
        migrated_db, "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'message.received'"
    ) == [(60,)]


async def test_a_group_that_fails_is_written_text_by_text(
    pool: AsyncConnectionPool[Any], migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert_received = repository.insert_received

    async def refusing_sm3(conn: AsyncConnection[Any], **kwargs: Any) -> Any:
        if any(row.provider_message_id == "SM3" for row in kwargs["received"]):
            raise psycopg.errors.CheckViolation("the database refuses SM3")
        return await insert_received(conn, **kwargs)

    monkeypatch.setattr(repository, "insert_received", refusing_sm3)

    async with InboundTexts(pool, Metrics(), writers=1) as texts:
        results = await asyncio.gather(
            *(texts.record(text(f"SM{n}", ANN if n % 2 else BOB)) for n in range(8)),
            return_exceptions=True,
        )

    assert isinstance(results.pop(3), psycopg.errors.CheckViolation)  # its fault alone
    assert [r.duplicate for r in results if isinstance(r, Recorded)] == [False] * 7
    assert texts.groups == 0
    assert execute(migrated_db, "SELECT count(*) FROM cc_messages") == [(7,)]
    assert execute(migrated_db, "SELECT count(*) FROM cc_conversations") == [(2,)]


async def test_a_keyword_is_written_by_the_writer_and_heeded(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    link_customer(migrated_db, phone=ANN, email="ann@example.com")

    async with InboundTexts(pool, Metrics()) as texts:
        result = await texts.record(text("SM1", ANN, "STOP"))

    assert not result.duplicate
    assert texts.groups == 1
    assert execute(
        migrated_db, "SELECT count(*) FROM cc_audit_logs WHERE event_type LIKE 'preferences.%%'"
    ) == [(1,)]


async def test_a_request_in_words_is_written_by_the_writer_and_flagged(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    link_customer(migrated_db, phone=ANN, email="ann@example.com")

    async with InboundTexts(pool, Metrics()) as texts:
        result = await texts.record(text("SM1", ANN, "don't text me anymore"))

    assert not result.duplicate
    assert texts.groups == 1
    assert execute(
        migrated_db, "SELECT conversation_id, message_id, phrase FROM cc_possible_revocations"
    ) == [(result.conversation_id, result.message_id, "don't text me")]


async def test_a_text_whose_webhook_went_away_is_stored_all_the_same(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    async with InboundTexts(pool, Metrics(), writers=1) as texts:
        first = asyncio.create_task(texts.record(text("SM1", ANN)))
        await asyncio.sleep(0.01)  # the writer has taken SM1 alone
        second = asyncio.create_task(texts.record(text("SM2", BOB)))
        await asyncio.sleep(0)
        second.cancel()  # its client hung up while it waited for the writer
        await first

    assert execute(migrated_db, "SELECT provider_message_id FROM cc_messages ORDER BY 1") == [
        ("SM1",),
        ("SM2",),
    ]


async def test_the_writers_wait_on_locks_one_second_at_most_and_keep_the_urls_options(
    migrated_db: str,
) -> None:
    url = make_conninfo(migrated_db, options="-c work_mem=7MB")
    async with (
        AsyncConnectionPool(url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool,
        InboundTexts(pool, Metrics()) as texts,
        texts._group_pool.connection() as conn,
    ):
        cursor = await conn.execute(
            "SELECT current_setting('lock_timeout'), current_setting('work_mem')"
        )
        assert await cursor.fetchone() == ("1s", "7MB")


async def test_a_long_body_is_masked_before_a_connection_is_taken(migrated_db: str) -> None:
    digits = "4111 1111 1111 1111 " * 50_000  # a megabyte of card numbers: slow to mask
    email = InboundMessage(
        provider=Provider.SENDGRID,
        channel=Channel.EMAIL,
        provider_message_id="<long@example.com>",
        from_address="ann@example.com",
        to_address="help@bank.example",
        body_text=digits,
        body_json={"subject": "cards"},
        thread=Thread(key="<long@example.com>"),
    )
    async with AsyncConnectionPool(
        migrated_db, min_size=1, max_size=1, kwargs={"autocommit": True}
    ) as only_one:
        recording = asyncio.create_task(record_inbound(only_one, [email]))
        await asyncio.sleep(0.1)  # masking, in a worker thread
        assert not recording.done()
        # The pool's one connection is free meanwhile for whoever else needs it.
        async with only_one.connection(timeout=0.2) as conn:
            await conn.execute("SELECT 1")
        [recorded] = await recording

    assert not recorded.duplicate
    stored = execute(migrated_db, "SELECT body_text FROM cc_messages")[0][0]
    assert stored.startswith("•••• •••• •••• 1111 •••• •••• •••• 1111 ")
