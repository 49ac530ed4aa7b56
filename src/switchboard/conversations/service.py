"""Finding or opening the conversation a message belongs to."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.conversations import repository
from switchboard.conversations.models import Channel, Conversation, ConversationRef, Provider
from switchboard.errors import ConversationNotFound


async def continue_or_open(
    conn: AsyncConnection[Any],
    *,
    channel: Channel,
    provider: Provider,
    thread_key: str,
    bank_customer_id: UUID | None,
) -> ConversationRef:
    """The open conversation on this thread, or a new one. A closed conversation is never
    reopened: the next message on its thread opens a new one.

    Two first messages arriving at once both try to open; the unique index on open threads
    lets one in, and the other, after it commits, continues that one.
    """
    for _ in range(3):  # open, lose the race, find the winner; a closed winner means retry
        found = await repository.find_open_by_thread_key(conn, channel, thread_key)
        if found:
            return await _continued(conn, found, bank_customer_id)
        opened = await repository.insert_open_conversation(
            conn,
            channel=channel,
            provider=provider,
            thread_key=thread_key,
            bank_customer_id=bank_customer_id,
        )
        if opened:
            return ConversationRef(opened, bank_customer_id, created=True)
    raise RuntimeError(f"could not open or find a conversation on {channel} {thread_key}")


async def continue_or_open_many(
    conn: AsyncConnection[Any],
    *,
    provider: Provider,
    threads: dict[repository.Thread, UUID | None],
    found: dict[repository.Thread, repository.Row],
) -> dict[repository.Thread, ConversationRef]:
    """continue_or_open for several threads at once, {(channel, thread key): customer}, given
    the open conversations the caller found on them: open the others in one statement, and in
    one more find those another transaction opened meanwhile. A thread still without one
    (its winner closed at once) raises, for the caller to retry it alone."""
    refs: dict[repository.Thread, ConversationRef] = {}
    for attempt in range(2):
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
        if attempt == 0:
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


async def find_call(conn: AsyncConnection[Any], call_id: str) -> ConversationRef | None:
    """The call's conversation if it has one; hold lock_call first to act on the answer."""
    found = await repository.find_latest_by_thread_key(conn, Channel.VOICE, call_id)
    return None if found is None else ConversationRef(found[0], found[1], created=False)


async def continue_call_or_open(
    conn: AsyncConnection[Any],
    *,
    call_id: str,
    bank_customer_id: UUID | None,
    locked: bool = False,
) -> ConversationRef:
    """One conversation per call: its events keep landing in it, even after it closed.

    The unique index covers open conversations only, and the end-of-call report may open and
    close a call's conversation in one transaction; without the lock (taken here unless the
    caller holds it: `locked`), an event of the same call arriving meanwhile would find
    nothing open and open a second one.
    """
    if not locked:
        await lock_call(conn, call_id)
    found = await repository.find_latest_by_thread_key(conn, Channel.VOICE, call_id)
    if found:
        return await _continued(conn, found, bank_customer_id)
    return await _continue_or_open_call(conn, call_id, bank_customer_id)


async def continue_found_call_or_open(
    conn: AsyncConnection[Any],
    found: ConversationRef | None,
    *,
    call_id: str,
    bank_customer_id: UUID | None,
) -> ConversationRef:
    """continue_call_or_open for a caller that holds lock_call and has just read find_call:
    what it found is still the call's latest conversation, so nothing is read again."""
    if found is not None:
        return await _continued(conn, (found.id, found.bank_customer_id), bank_customer_id)
    # The call has no conversation, so none is open: open one, and only if someone without
    # the lock has just opened one (the insert then finds it there) look for theirs.
    opened = await repository.insert_open_conversation(
        conn,
        channel=Channel.VOICE,
        provider=Provider.VAPI,
        thread_key=call_id,
        bank_customer_id=bank_customer_id,
    )
    if opened:
        return ConversationRef(opened, bank_customer_id, created=True)
    return await _continue_or_open_call(conn, call_id, bank_customer_id)


async def _continue_or_open_call(
    conn: AsyncConnection[Any], call_id: str, bank_customer_id: UUID | None
) -> ConversationRef:
    return await continue_or_open(
        conn,
        channel=Channel.VOICE,
        provider=Provider.VAPI,
        thread_key=call_id,
        bank_customer_id=bank_customer_id,
    )


async def continue_thread_of(
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


async def continue_latest_on_prefix(
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
