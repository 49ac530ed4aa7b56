"""Reading and changing a customer's contact preferences, every change audited."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.audit.models import Actor, ActorType, AuditEntry
from switchboard.db import within_transaction
from switchboard.errors import InvalidInput
from switchboard.preferences import repository
from switchboard.preferences.keywords import (
    KeywordAction,
    PossibleRevocation,
    keyword_in,
    possible_revocation_in,
)
from switchboard.preferences.models import (
    DEFAULT_TIMEZONE,
    ContactChannel,
    Preferences,
    RevocationFlag,
)
from switchboard.time_zones import iana_zone

_UNCHANGED: Any = object()


async def get_preferences(conn: AsyncConnection[Any], bank_customer_id: UUID) -> Preferences:
    """The customer's preferences, or the defaults when none are on record."""
    async with within_transaction(conn):
        row = await repository.lock_preferences(conn, bank_customer_id)
    return _preferences(bank_customer_id, row)


async def set_preferences(
    conn: AsyncConnection[Any],
    actor: Actor,
    bank_customer_id: UUID,
    *,
    do_not_contact: bool = _UNCHANGED,
    allowed_channels: list[str] | None = _UNCHANGED,
    timezone: str = _UNCHANGED,
    because: dict[str, Any] | None = None,
) -> Preferences:
    """Change what is given and keep the rest; the audit record holds before and after, and
    `because` (what asked for the change, such as a STOP keyword) as its input."""
    channels_given = allowed_channels is not _UNCHANGED
    channels = _channels(allowed_channels) if channels_given else None
    zone = None if timezone is _UNCHANGED else _timezone(timezone)
    async with within_transaction(conn):  # everything that may raise is checked above
        before = _preferences(
            bank_customer_id, await repository.lock_preferences(conn, bank_customer_id)
        )
        after = Preferences(
            bank_customer_id,
            before.do_not_contact if do_not_contact is _UNCHANGED else bool(do_not_contact),
            channels if channels_given else before.allowed_channels,
            zone or before.timezone,
        )
        await repository.upsert_preferences(
            conn,
            bank_customer_id,
            do_not_contact=after.do_not_contact,
            allowed_channels=None
            if after.allowed_channels is None
            else sorted(after.allowed_channels),
            timezone=after.timezone,
        )
        await audit.append(
            conn,
            AuditEntry(
                actor_type=actor.type,
                actor_id=actor.id,
                event_type="preferences.updated",
                success=True,
                input=because or {},
                output={"before": _public(before), "after": _public(after)},
                bank_customer_id=bank_customer_id,
            ),
        )
    return after


async def apply_keyword(
    conn: AsyncConnection[Any],
    actor: Actor,
    bank_customer_id: UUID,
    *,
    channel: ContactChannel,
    keyword: str,
    action: KeywordAction,
) -> Preferences:
    """STOP takes the channel off the customer's allowed channels; START puts it back, and so
    does YES where the channel is off (where it is on, YES answers something else and changes
    nothing). Every other channel keeps its setting, and do_not_contact is the customer's
    separate choice."""
    async with conn.transaction():
        current = _preferences(
            bank_customer_id, await repository.lock_preferences(conn, bank_customer_id)
        )
        allowed = current.allowed_channels
        if action is KeywordAction.OPT_IN_IF_OFF and (allowed is None or channel in allowed):
            return current
        channels: set[ContactChannel] | None
        if action is KeywordAction.OPT_OUT:
            channels = set(ContactChannel) if allowed is None else set(allowed)
            channels.discard(channel)
        else:
            channels = None if allowed is None else {*allowed, channel}
        return await set_preferences(
            conn,
            actor,
            bank_customer_id,
            allowed_channels=None if channels is None else sorted(channels),
            because={"keyword": keyword, "channel": channel},
        )


async def heed_inbound_text(
    conn: AsyncConnection[Any],
    *,
    channel: ContactChannel,
    body: str | None,
    bank_customer_id: UUID | None,
    conversation_id: UUID,
    message_id: UUID,
) -> None:
    """What an inbound text asks of its sender's preferences, heeded in the caller's
    transaction (the one that stores the message).

    A keyword is applied for the sender's customer on that channel (audited as the
    customer's own change); from a number linked to no customer it changes nothing, but the
    audit trail says it came and was not applied. A message that asks in words to stop is
    flagged on its conversation as a possible revocation, for a person to confirm."""
    found = keyword_in(body)
    if found is None:
        flagged = possible_revocation_in(body)
        if flagged is not None:
            await _flag_possible_revocation(
                conn,
                flagged,
                channel=channel,
                bank_customer_id=bank_customer_id,
                conversation_id=conversation_id,
                message_id=message_id,
            )
        return
    word, action = found
    if bank_customer_id is None:
        if action is KeywordAction.OPT_IN_IF_OFF:
            return  # no channel of anyone's is off: an ordinary "yes"
        await audit.append(
            conn,
            AuditEntry(
                actor_type=ActorType.CUSTOMER,
                actor_id="unlinked-sender",
                event_type="preferences.keyword_not_applied",
                success=False,
                error_code="sender_not_linked",
                input={"keyword": word, "channel": channel},
                conversation_id=conversation_id,
            ),
        )
        return
    actor = Actor(ActorType.CUSTOMER, str(bank_customer_id))
    await apply_keyword(conn, actor, bank_customer_id, channel=channel, keyword=word, action=action)


async def possible_revocations(
    conn: AsyncConnection[Any], conversation_id: UUID
) -> list[RevocationFlag]:
    """The texts of a conversation flagged as possible revocations, oldest first."""
    rows = await repository.select_revocation_flags(conn, conversation_id)
    return [
        RevocationFlag(flag_id, conv_id, message_id, customer_id, ContactChannel(ch), phrase, at)
        for flag_id, conv_id, message_id, customer_id, ch, phrase, at in rows
    ]


async def _flag_possible_revocation(
    conn: AsyncConnection[Any],
    flagged: PossibleRevocation,
    *,
    channel: ContactChannel,
    bank_customer_id: UUID | None,
    conversation_id: UUID,
    message_id: UUID,
) -> None:
    flag_id = await repository.insert_revocation_flag(
        conn,
        conversation_id=conversation_id,
        message_id=message_id,
        bank_customer_id=bank_customer_id,
        channel=channel,
        phrase=flagged.phrase,
    )
    await audit.append(
        conn,
        AuditEntry(
            actor_type=ActorType.CUSTOMER,
            actor_id="unlinked-sender" if bank_customer_id is None else str(bank_customer_id),
            event_type="preferences.possible_revocation",
            success=True,
            input={"channel": channel, "phrase": flagged.phrase, "message_id": message_id},
            output={"flag_id": flag_id, "applied": False},
            conversation_id=conversation_id,
            bank_customer_id=bank_customer_id,
        ),
    )


def _preferences(bank_customer_id: UUID, row: repository.Row | None) -> Preferences:
    if row is None:
        return Preferences(bank_customer_id, False, None, DEFAULT_TIMEZONE)
    do_not_contact, channels, timezone = row
    # The column is plain jsonb: a value written by something else (legacy data, "push") is
    # not a channel Switchboard sends on, and must not stop a STOP from being applied.
    known = {channel.value for channel in ContactChannel}
    allowed = (
        None
        if not isinstance(channels, list)
        else frozenset(ContactChannel(c) for c in channels if c in known)
    )
    return Preferences(bank_customer_id, do_not_contact, allowed, timezone or DEFAULT_TIMEZONE)


def _channels(values: list[str] | None) -> frozenset[ContactChannel] | None:
    if values is None:
        return None
    try:
        return frozenset(ContactChannel(value) for value in values)
    except ValueError:
        allowed = ", ".join(channel.value for channel in ContactChannel)
        raise InvalidInput(f"unknown channel in {values}", hint=f"channels: {allowed}") from None


def _timezone(name: str) -> str:
    return iana_zone(name).key


def _public(preferences: Preferences) -> dict[str, Any]:
    return {
        "do_not_contact": preferences.do_not_contact,
        "allowed_channels": None
        if preferences.allowed_channels is None
        else sorted(preferences.allowed_channels),
        "timezone": preferences.timezone,
    }
