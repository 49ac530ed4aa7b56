"""A one-time code's message, queued like any other with the purpose `otp` (the auth_sessions
CodeSender): a code the customer asked for goes out whatever their preferences say."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit.models import Actor
from switchboard.auth_sessions.models import CodeSender
from switchboard.outbound.config import Outbound
from switchboard.outbound.models import OutboundRequest
from switchboard.outbound.service import queue_message
from switchboard.preferences.models import ContactChannel, Purpose

SUBJECT = "Your verification code"


def code_sender(outbound: Outbound) -> CodeSender:
    """The CodeSender that queues codes through this process's outbound queue."""

    async def queue_code(
        conn: AsyncConnection[Any],
        actor: Actor,
        *,
        channel: str,
        to_address: str,
        text: str,
        stored_text: str,
        conversation_id: UUID | None,
        bank_customer_id: UUID | None,
    ) -> bool:
        via = ContactChannel(channel)
        queued = await queue_message(
            conn,
            actor,
            OutboundRequest(
                channel=via,
                to_address=to_address,
                purpose=Purpose.OTP,
                body_text=text,
                subject=SUBJECT if via is ContactChannel.EMAIL else None,
                conversation_id=conversation_id,
                bank_customer_id=bank_customer_id,
                stored_text=stored_text,
            ),
            outbound=outbound,
        )
        return queued.allowed

    return queue_code
