"""STOP and START: which messages are keywords, and what they change."""

from __future__ import annotations

import time
from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.audit.models import Actor, ActorType
from switchboard.preferences import service
from switchboard.preferences.keywords import (
    KeywordAction,
    PossibleRevocation,
    keyword_in,
    possible_revocation_in,
)
from switchboard.preferences.models import ContactChannel
from tests.builders import execute, link_customer


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", ("STOP", KeywordAction.OPT_OUT)),
        ("  stop\n", ("STOP", KeywordAction.OPT_OUT)),
        ("Stop.", ("STOP", KeywordAction.OPT_OUT)),
        ("unsubscribe", ("UNSUBSCRIBE", KeywordAction.OPT_OUT)),
        ("Cancel", ("CANCEL", KeywordAction.OPT_OUT)),
        ("END", ("END", KeywordAction.OPT_OUT)),
        ("quit!", ("QUIT", KeywordAction.OPT_OUT)),
        ("REVOKE", ("REVOKE", KeywordAction.OPT_OUT)),
        ("opt out", ("OPT OUT", KeywordAction.OPT_OUT)),
        ("Opt  Out!", ("OPT OUT", KeywordAction.OPT_OUT)),
        ("opt-out", ("OPT-OUT", KeywordAction.OPT_OUT)),
        ("OptOut", ("OPTOUT", KeywordAction.OPT_OUT)),
        ("stopall", ("STOPALL", KeywordAction.OPT_OUT)),
        ("START", ("START", KeywordAction.OPT_IN)),
        ("unstop", ("UNSTOP", KeywordAction.OPT_IN)),
        ("Yes.", ("YES", KeywordAction.OPT_IN_IF_OFF)),
    ],
)
def test_a_message_that_is_only_a_keyword_is_one(
    body: str, expected: tuple[str, KeywordAction]
) -> None:
    assert keyword_in(body) == expected


@pytest.mark.parametrize(
    "body", ["Please stop calling me", "STOP IT", "stopped", "", None, "START my claim"]
)
def test_a_sentence_with_a_keyword_in_it_is_a_message(body: str | None) -> None:
    assert keyword_in(body) is None


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ("please stop texting me", "stop texting"),
        ("Can you STOP sending me these messages?", "stop sending me"),
        ("quit messaging me", "quit messaging"),
        ("Don\u2019t text me anymore", "don't text me"),
        ("do not ever contact me again", "do not ever contact me"),
        ("please never call me", "never call me"),
        ("unsubscribe me please", "unsubscribe"),
        ("I want to opt out of these", "opt out"),
        ("I revoke my consent", "revoke"),
        ("Remove me from your list", "remove me from"),
        ("take me off this list now", "take me off"),
        ("no more texts thanks", "no more texts"),
        ("STOP please", "stop please"),
        ("stop it!!", "stop it"),
        ("please stop.", "please stop"),
    ],
)
def test_a_message_asking_in_words_to_stop_is_a_possible_revocation(body: str, phrase: str) -> None:
    assert possible_revocation_in(body) == PossibleRevocation(phrase)


@pytest.mark.parametrize(
    "body",
    [
        "don't stop helping me",
        "Please don't stop texting me the updates",
        "why did you stop texting me?",
        "I didn't stop calling",
        "Please stop the payment to ACME",
        "stop sending money to John",
        "stop my card, it was stolen",
        "Can you cancel my direct debit",
        "I want to end my loan early",
        "text me when it is sent",
        "don't you text me back?",
        "STOP",  # a keyword: applied as such, never merely flagged
        "yes",
        "",
        None,
    ],
)
def test_other_messages_are_not_possible_revocations(body: str | None) -> None:
    assert possible_revocation_in(body) is None


def test_a_long_text_of_negated_phrases_is_read_in_linear_time() -> None:
    # Each phrase looks at the three words before it: read from the text once, not again
    # from its start for every phrase (60 KB took seconds, on the event loop).
    body = "why stop texting " * 3_600

    start = time.monotonic()
    assert possible_revocation_in(body) is None
    assert possible_revocation_in(body + "so please stop texting") == PossibleRevocation(
        "stop texting"
    )

    assert time.monotonic() - start < 1.0


@pytest.mark.anyio
async def test_stop_takes_only_that_channel_away_and_start_gives_it_back(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer = link_customer(migrated_db, phone="+447700900020", email="k@example.com")
    actor = Actor(ActorType.CUSTOMER, str(customer))

    stopped = await service.apply_keyword(
        conn,
        actor,
        customer,
        channel=ContactChannel.SMS,
        keyword="STOP",
        action=KeywordAction.OPT_OUT,
    )
    assert stopped.allowed_channels == frozenset(ContactChannel) - {ContactChannel.SMS}
    assert stopped.do_not_contact is False

    started = await service.apply_keyword(
        conn,
        actor,
        customer,
        channel=ContactChannel.SMS,
        keyword="START",
        action=KeywordAction.OPT_IN,
    )
    assert started.allowed_channels == frozenset(ContactChannel)
    audits = execute(
        migrated_db,
        "SELECT actor_type, input_redacted->>'keyword', input_redacted->>'channel'"
        " FROM cc_audit_logs WHERE bank_customer_id = %s AND event_type = 'preferences.updated'"
        " ORDER BY created_at",
        (customer,),
    )
    assert audits == [("customer", "STOP", "sms"), ("customer", "START", "sms")]


@pytest.mark.anyio
async def test_start_keeps_a_channel_list_the_customer_chose(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer = link_customer(migrated_db, phone="+447700900021", email="l@example.com")
    actor = Actor(ActorType.CUSTOMER, str(customer))
    await service.set_preferences(conn, actor, customer, allowed_channels=["email"])

    started = await service.apply_keyword(
        conn,
        actor,
        customer,
        channel=ContactChannel.SMS,
        keyword="START",
        action=KeywordAction.OPT_IN,
    )

    assert started.allowed_channels == frozenset({ContactChannel.EMAIL, ContactChannel.SMS})
