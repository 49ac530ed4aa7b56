"""What a messaging provider is asked to send, and what it answers when it takes it.

A sender either returns `Accepted` or raises ProviderUnavailable (try again later) or
ProviderRejected (futile to try again), from switchboard.errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class Outgoing:
    message_id: UUID  # our cc_messages id
    channel: str  # sms, whatsapp, email
    to_address: str  # E.164, or a bare email address
    from_address: str | None
    subject: str | None
    text: str  # what the customer receives
    stored_text: str | None  # what cc_messages keeps (differs when the text was sealed)


@dataclass(frozen=True)
class Accepted:
    provider: str  # twilio, sendgrid, sandbox: cc_messages.provider
    provider_message_id: str
    provider_status: str  # the provider's own word for it (Twilio: queued, accepted ...)
    from_address: str | None = None  # the sender the provider used, when it says


class MessageSender(Protocol):
    async def send(self, message: Outgoing) -> Accepted: ...


def error_text(response_text: str, limit: int = 500) -> str:
    """A provider's error body, bounded, for a message that ends up in the audit trail."""
    text = " ".join(response_text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
