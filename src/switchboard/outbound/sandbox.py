"""The `sandbox` provider: records what would have been sent in cc_sandbox_outbox and takes
every message at once. The default in development; refused in production.

It keeps the text cc_messages keeps, never the sealed one: a one-time code does not come to
rest in clear here either. What the customer would have received is printed on the worker's
terminal instead, so a developer can read a code out to the assistant, as a customer would.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg_pool import AsyncConnectionPool

from switchboard.outbound import repository
from switchboard.outbound.models import SendingProvider
from switchboard.providers.messaging import Accepted, Outgoing

SENT = "sent"


class SandboxSender:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    async def send(self, message: Outgoing) -> Accepted:
        # Shaped like Twilio's sids, so nobody mistakes it for a real one: SB + 32 hex.
        provider_message_id = f"SB{uuid.uuid4().hex}"
        async with self._pool.connection() as conn, conn.transaction():
            await repository.insert_sandbox_send(
                conn,
                message_id=message.message_id,
                provider_message_id=provider_message_id,
                channel=message.channel,
                from_address=message.from_address,
                to_address=message.to_address,
                subject=message.subject,
                body_text=message.stored_text,
                sealed=message.stored_text != message.text,
            )
        print(f"sandbox {message.channel} to {message.to_address}: {message.text}", flush=True)
        return Accepted(SendingProvider.SANDBOX, provider_message_id, SENT, message.from_address)
