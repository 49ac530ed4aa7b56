"""Finding or opening the conversation a message belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.conversations import repository
from switchboard.conversations.models import Channel, Conversation, ConversationRef, Provider
from switchboard.errors import ConversationNotFound


async def continue_or_open(
    conn: AsyncConnection[Any],
    *,
    provider: Provider,
    threads: Mapping[repository.Thread, UUID | None],
    found: Mapping[repository.Thread, repository.Row] | None = None,
) -> dict[repository.Thread, ConversationRef]:
    """The open conversation of each thread, {(channel, thread key): customer}, or a new one,
    in one statement for all of them. `found`: the open conversations the caller has just
    read on these threads (looked up here when not given). A closed conversation is never
    reopened: the next message on its thread opens a new one.

    Two first messages arriving at once both try to open; the unique index on open threads
    lets one in, and the other, after it commits, continues that one.
    """
    if found is None:
        found = await repository.find_open_by_thread_keys(conn, list(threads))
    refs: dict[repository.Thread, ConversationRef] = {}
    for _ in range(3):  # open, lose the race, find the winner; a closed winner means retry
        learnt: dict[UUID, UUID] = {}
        for thread, (conversation_id, known_customer) in found.items():
            customer = known_customer or threads[thread]
            if known_customer is None and customer is not None:
                learnt[conversation_id] = customer
            refs[thread] = ConversationRef(conversation_id, customer, created=False)
        if learnt:
            await repository.set_customers_if_unknown(conn, learnt)
        missing = [(*thread, who) for thread, who in threads.items() if thread not in refs]
        if not missing:
            return refs
        opened = await repository.insert_open_conversations(conn, provider, missing)
        for thread, conversation_id in opened.items():
            refs[thread] = ConversationRef(conversation_id, threads[thread], created=True)
        if len(opened) == len(missing):
            return refs
        found = await repository.find_open_by_thread_keys(
            conn, [thread for thread in threads if thread not in refs]
        )
    raise RuntimeError(f"could not open or find a conversation on {len(missing)} thread(s)")


async def lock_call(conn: AsyncConnection[Any], call_id: str) -> None:
    """Serialise, until the transaction ends, everything done for one call: finding or
    opening its conversation, and anything its caller keeps in step with it (its tool calls)."""
    await repository.lock_thread(conn, Channel.VOICE, call_id)


class _Unread(Enum):
    UNREAD = "unread"


UNREAD = _Unread.UNREAD


async def continue_or_open_call(
    conn: AsyncConnection[Any],
    *,
    call_id: str,
    bank_customer_id: UUID | None,
    latest: ConversationRef | _Unread | None = UNREAD,
) -> ConversationRef:
    """One conversation per call: its events keep landing in it, even after it closed.
    The caller holds lock_call. `latest`: the call's latest conversation (None: it has
    none) if the caller has just read it under the lock; read here otherwise.

    The unique index covers open conversations only, and the end-of-call report may open and
    close a call's conversation in one transaction; without the lock, an event of the same
    call arriving meanwhile would find nothing open and open a second one.
    """
    if latest is UNREAD:
        row = await repository.find_latest_by_thread_key(conn, Channel.VOICE, call_id)
        latest = None if row is None else ConversationRef(row[0], row[1], created=False)
    if latest is not None:
        return await _continued(conn, (latest.id, latest.bank_customer_id), bank_customer_id)
    # The call has no conversation, so none is open: open one, and only if someone without
    # the lock has just opened one (the insert then finds it there) look for theirs.
    thread = (str(Channel.VOICE), call_id)
    refs = await continue_or_open(
        conn, provider=Provider.VAPI, threads={thread: bank_customer_id}, found={}
    )
    return refs[thread]


async def continue_replied_to(
    conn: AsyncConnection[Any],
    *,
    provider: Provider,
    message_ids: list[str],
    bank_customer_id: UUID | None,
) -> ConversationRef | None:
    """The open conversation one of these earlier messages belongs to (email replies)."""
    if not message_ids:
        return None
    found = await repository.find_by_message_ids(conn, provider, message_ids)
    return None if found is None else await _continued(conn, found, bank_customer_id)


async def find(conn: AsyncConnection[Any], conversation_id: UUID) -> Conversation | None:
    found = await repository.find_by_id(conn, conversation_id)
    return None if found is None else Conversation(*found)


async def continue_latest_open_by_prefix(
    conn: AsyncConnection[Any],
    *,
    channel: Channel,
    thread_prefix: str,
    bank_customer_id: UUID | None,
) -> ConversationRef | None:
    """The open conversation most recently active on a thread key starting with the prefix:
    an SMS thread with a customer when we do not know which of our numbers they write to."""
    found = await repository.find_open_by_thread_prefix(conn, channel, thread_prefix)
    return None if found is None else await _continued(conn, found, bank_customer_id)


async def customer_of(conn: AsyncConnection[Any], conversation_id: UUID) -> UUID | None:
    """The customer the conversation was matched to through its sender's linked address."""
    found = await find(conn, conversation_id)
    if found is None:
        raise ConversationNotFound(f"no conversation {conversation_id}")
    return found.bank_customer_id


async def close(conn: AsyncConnection[Any], conversation_id: UUID) -> bool:
    return await repository.close_conversation(conn, conversation_id)


async def _continued(
    conn: AsyncConnection[Any], found: repository.Row, bank_customer_id: UUID | None
) -> ConversationRef:
    conversation_id, known_customer = found
    if known_customer is None and bank_customer_id is not None:
        await repository.set_customer_if_unknown(conn, conversation_id, bank_customer_id)
        known_customer = bank_customer_id
    return ConversationRef(conversation_id, known_customer, created=False)
