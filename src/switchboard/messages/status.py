"""Provider statuses mapped onto ours, and the order in which a status may only move forward.

| provider | raw status | ours |
|---|---|---|
| Twilio | accepted, scheduled, queued, sending, sent | sent |
| Twilio | delivered | delivered |
| Twilio | undelivered, failed, canceled | failed |
| Twilio | read (WhatsApp, RCS) | read |
| Twilio | receiving, received | received |
| SendGrid | processed, deferred | sent |
| SendGrid | delivered | delivered |
| SendGrid | bounce, dropped | failed |
| SendGrid | open, click | read |
| SendGrid | spamreport, unsubscribe, group_unsubscribe, group_resubscribe | (no change) |
"""

from __future__ import annotations

from switchboard.messages.models import MessageStatus

TWILIO: dict[str, MessageStatus] = {
    "accepted": MessageStatus.SENT,
    "scheduled": MessageStatus.SENT,
    "queued": MessageStatus.SENT,
    "sending": MessageStatus.SENT,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "partially_delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
    "read": MessageStatus.READ,
    "receiving": MessageStatus.RECEIVED,
    "received": MessageStatus.RECEIVED,
}

SENDGRID: dict[str, MessageStatus | None] = {
    "processed": MessageStatus.SENT,
    "deferred": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "bounce": MessageStatus.FAILED,
    "dropped": MessageStatus.FAILED,
    "open": MessageStatus.READ,
    "click": MessageStatus.READ,
    "spamreport": None,
    "unsubscribe": None,
    "group_unsubscribe": None,
    "group_resubscribe": None,
}

# A status replaces another only if it ranks higher. Delivered and failed are both final
# outcomes of a send, so neither replaces the other; read outranks both.
RANK: dict[MessageStatus, int] = {
    MessageStatus.RECEIVED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.FAILED: 2,
    MessageStatus.READ: 3,
}


def moves_forward(current: MessageStatus | None, new: MessageStatus) -> bool:
    return current is None or RANK[new] > RANK[current]
