"""The `sandbox` provider: records what would have been sent in cc_sandbox_outbox and takes
every message at once. The default in development; refused in production.

It keeps the text cc_messages keeps, never the sealed one: a one-time code does not come to
rest in clear in the database either. What the customer would have received is printed on the
worker's terminal, so a developer can read a code out to the assistant, as a customer would,
and written to the handsets file under the data directory (handsets.py), where the simulator
reads it.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from psycopg_pool import AsyncConnectionPool

from switchboard.outbound import handsets, repository
from switchboard.outbound.models import SendingProvider
from switchboard.providers.messaging import Accepted, Outgoing

SENT = "sent"


class SandboxSender:
    def __init__(
        self, pool: AsyncConnectionPool[Any], *, handsets_file: Path | None = None
    ) -> None:
        self._pool = pool
        self._handsets_file = handsets_file

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
        if self._handsets_file is not None:
            handsets.append(
                self._handsets_file,
                handsets.Delivered(
                    message_id=str(message.message_id),
                    provider_message_id=provider_message_id,
                    channel=message.channel,
                    from_address=message.from_address,
                    to_address=message.to_address,
                    subject=message.subject,
                    text=message.text,
                    sent_at=time.time(),
                ),
            )
        return Accepted(SendingProvider.SANDBOX, provider_message_id, SENT, message.from_address)
