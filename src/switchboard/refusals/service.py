"""Auditing refused deliveries without letting their sender fill the audit log.

Each refusal is counted per window (a minute), provider, client address and error code, in
the database, so the limit holds across all the service's processes. The first
AUDITED_PER_WINDOW refusals of a key in a window get an audit row each; the rest are only
counted, and once their window is over the next refusal (of any source) writes one summary
row per key carrying how many were not audited one by one. Every text the sender chooses is
cut to a bound before it is stored, so each row has a bounded size.
"""

from __future__ import annotations

import hashlib
from typing import Any

from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.audit.models import ActorType, AuditEntry
from switchboard.refusals import repository
from switchboard.refusals.models import Overflow, Refusal

WINDOW_SECONDS = 60
AUDITED_PER_WINDOW = 10
# Closed counters summarised by one refusal at most: bounds what a refusal may cost.
SUMMARISED_PER_REFUSAL = 100
# Bytes kept of each text the sender chooses: with JSON's escapes, the row's text stays
# under 2 KB in all.
MAX_PATH = 160
MAX_CLIENT = 64
MAX_USER_AGENT = 200
MAX_ERROR_MESSAGE = 400

REJECTED = "webhook.rejected"
SUMMARISED = "webhook.rejections_summarised"


async def record_refusal(conn: AsyncConnection[Any], refusal: Refusal) -> bool:
    """Count a refusal, and audit it if its source is under the limit of its window; closed
    windows are summarised first. True if it got an audit row of its own. One transaction."""
    client = bounded(refusal.client, MAX_CLIENT)
    async with conn.transaction():
        # Before the count: a transaction waits on no counter while it holds another.
        for overflow in await repository.delete_closed_windows(
            conn,
            window_seconds=WINDOW_SECONDS,
            audited=AUDITED_PER_WINDOW,
            limit=SUMMARISED_PER_REFUSAL,
        ):
            await audit.append(conn, _summary(overflow))
        refused = await repository.count_refusal(
            conn,
            provider=refusal.provider,
            client=client,
            error_code=refusal.error_code,
            window_seconds=WINDOW_SECONDS,
        )
        if refused > AUDITED_PER_WINDOW:
            return False
        await audit.append(
            conn,
            AuditEntry(
                actor_type=ActorType.PROVIDER,
                actor_id=refusal.provider,
                event_type=REJECTED,
                success=False,
                error_code=refusal.error_code,
                error_message=bounded(refusal.error_message, MAX_ERROR_MESSAGE),
                input={
                    "path": bounded(refusal.path, MAX_PATH),
                    "client": client,
                    "user_agent": None
                    if refusal.user_agent is None
                    else bounded(refusal.user_agent, MAX_USER_AGENT),
                    "refusal_in_window": refused,
                },
            ),
        )
        return True


def _summary(overflow: Overflow) -> AuditEntry:
    not_audited = overflow.refused - AUDITED_PER_WINDOW
    return AuditEntry(
        actor_type=ActorType.PROVIDER,
        actor_id=overflow.provider,
        event_type=SUMMARISED,
        success=False,
        error_code=overflow.error_code,
        error_message=(
            f"{not_audited} more refusal(s) from {overflow.client} in the "
            f"{WINDOW_SECONDS} s from {overflow.window_start.isoformat()}, not audited one by one"
        ),
        input={
            "client": overflow.client,
            "window_start": overflow.window_start.isoformat(),
            "window_seconds": WINDOW_SECONDS,
            "refused": overflow.refused,
            "audited": AUDITED_PER_WINDOW,
            "not_audited": not_audited,
        },
    )


def bounded(text: str, limit: int) -> str:
    """The text in at most `limit` bytes of UTF-8, unprintable characters replaced (JSON
    would store each as six); a longer text is cut, followed by its length and a hash of the
    whole, so that long values sent again can still be told apart."""
    encoded = text.encode("utf-8", "surrogatepass")
    kept = encoded[:limit].decode("utf-8", "ignore")
    shown = "".join(char if char.isprintable() else "?" for char in kept)
    if len(encoded) <= limit:
        return shown
    digest = hashlib.sha256(encoded).hexdigest()[:16]
    return f"{shown}… ({len(encoded)} bytes, sha256 {digest}…)"
