"""Customers with linked addresses, their conversations, a sender that records what it was asked
to queue, and Twilio Verify as a local HTTP server."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.audit.models import Actor, ActorType
from switchboard.auth_sessions.codes import OtpConfig
from switchboard.providers.twilio_verify import TwilioVerifyClient
from tests.builders import execute, link_customer
from tests.providers.twilio_verify_server import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SERVICE_SID,
    VerifyService,
    running_verify_server,
)

ASSISTANT = Actor(ActorType.AI_AGENT, "voice-assistant")
CONFIG = OtpConfig.from_secret("a-test-secret-key-of-reasonable-length", bank_name="Northwind Bank")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Customer:
    id: uuid.UUID
    phone: str
    email: str
    conversation_id: uuid.UUID  # an SMS conversation matched to the customer


def make_customer(url: str) -> Customer:
    phone = f"+4477009{secrets.randbelow(10**5):05d}"
    email = f"jane.{uuid.uuid4().hex[:8]}@example.com"
    customer = link_customer(url, phone=phone, email=email)
    return Customer(customer, phone, email, make_conversation(url, customer))


def make_conversation(url: str, bank_customer_id: uuid.UUID | None) -> uuid.UUID:
    conversation = uuid.uuid4()
    execute(
        url,
        "INSERT INTO cc_conversations (id, bank_customer_id, channel, status, provider)"
        " VALUES (%s, %s, 'voice', 'open', 'vapi')",
        (conversation, bank_customer_id),
    )
    return conversation


@dataclass(frozen=True)
class Queued:
    channel: str
    to_address: str
    text: str
    stored_text: str
    conversation_id: uuid.UUID | None
    bank_customer_id: uuid.UUID | None


class RecordingSender:
    """Our CodeSender protocol, keeping what it is asked to queue instead of queueing it."""

    def __init__(self, *, accept: bool = True) -> None:
        self.accept = accept
        self.queued: list[Queued] = []

    async def __call__(
        self,
        conn: AsyncConnection[Any],
        actor: Actor,
        *,
        channel: str,
        to_address: str,
        text: str,
        stored_text: str,
        conversation_id: uuid.UUID | None,
        bank_customer_id: uuid.UUID | None,
    ) -> bool:
        assert conn.info.transaction_status.name == "INTRANS"  # inside the start transaction
        self.queued.append(
            Queued(channel, to_address, text, stored_text, conversation_id, bank_customer_id)
        )
        return self.accept

    def last_code(self) -> str:
        found = re.search(r"\b(\d{6})\b", self.queued[-1].text)
        assert found is not None, self.queued[-1].text
        return found.group(1)


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def verify_server() -> Iterator[VerifyService]:
    with running_verify_server() as service:
        yield service


@pytest.fixture
async def verify(verify_server: VerifyService) -> AsyncIterator[TwilioVerifyClient]:
    async with TwilioVerifyClient(
        base_url=verify_server.url,
        service_sid=SERVICE_SID,
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
    ) as client:
        yield client


def wrong(code: str) -> str:
    """Another six-digit code."""
    return f"{(int(code) + 1) % 10**6:06d}"


def audit_events(url: str, conversation_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return execute(
        url,
        "SELECT event_type, success, error_code FROM cc_audit_logs"
        " WHERE conversation_id = %s ORDER BY created_at, event_type",
        (conversation_id,),
    )
