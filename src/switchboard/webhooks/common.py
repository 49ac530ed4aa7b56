"""What every webhook route shares: its body limit, a reader of the raw body, a content-type
check, one reader of JSON, and the audit record of a refused delivery."""

from __future__ import annotations

import hmac
import json
import math
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool
from starlette.requests import ClientDisconnect

from switchboard.errors import (
    MalformedBody,
    PayloadTooLarge,
    SecretNotConfigured,
    UnsupportedMediaType,
    WebhookRejected,
)
from switchboard.http_limits import BodyLimit
from switchboard.messages.group_commit import InboundTexts
from switchboard.messages.models import Recorded
from switchboard.metrics import Metrics
from switchboard.refusals import service as refusals
from switchboard.refusals.models import Refusal
from switchboard.settings import Settings


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def pool_of(request: Request) -> AsyncConnectionPool[Any]:
    pool: AsyncConnectionPool[Any] = request.app.state.pool
    return pool


def inbound_texts_of(request: Request) -> InboundTexts:
    texts: InboundTexts = request.app.state.inbound_texts
    return texts


def count_delivery(request: Request, provider: str, *recorded: Recorded) -> None:
    """Count a delivery the service took: a duplicate when every record in it was seen
    before (a provider's retry), else accepted. Refused ones are counted where they are
    answered (http_app.error_response)."""
    metrics: Metrics = request.app.state.metrics
    duplicate = bool(recorded) and all(r.duplicate for r in recorded)
    metrics.webhook(provider, "duplicate" if duplicate else "accepted")


# The pool, as a dependency. async, though it awaits nothing: FastAPI runs a plain `def`
# dependency in a worker thread, a thread hand-off per webhook just to read app.state.
async def current_pool(request: Request) -> AsyncConnectionPool[Any]:
    return pool_of(request)


def body_limit(prefix: str, provider: str, max_bytes: int) -> BodyLimit:
    """A provider's body limit, which the request layer enforces before and while the body is
    read (http_limits.BodyLimits): refused as payload_too_large, counted as the provider's."""
    return BodyLimit(prefix, max_bytes, error=PayloadTooLarge, webhook=provider)


async def read_body(request: Request) -> bytes:
    """The raw body, bounded by the route's body limit (body_limit)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            chunks.append(chunk)
    except ClientDisconnect as exc:
        # Anyone can hang up mid-body: answered (to no one) like a broken body, rather than
        # logged as an unhandled error with its traceback, twice, per request.
        raise MalformedBody(f"the sender disconnected after {size} bytes of the body") from exc
    body = b"".join(chunks)
    request._body = body  # Starlette's own cache, so that request.form() can parse it
    return body


def json_of(text: str | bytes) -> Any:
    """A provider's JSON. NaN and Infinity are not JSON and are refused (ValueError); a number
    too large for a float is JSON, but Python would read it as inf, which PostgreSQL's jsonb
    cannot hold: it is kept as the text it was sent as."""
    return json.loads(text, parse_constant=_not_json, parse_float=_float_or_text)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _float_or_text(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else text


def our_message_id(value: object) -> UUID | None:
    """The id we gave a message we sent, as a provider's report carries it back (Twilio's
    callback URL, SendGrid's custom_args); None when it is absent or not one of ours, and the
    report is then matched by the provider's id alone."""
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def require_media_type(request: Request, *expected: str) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in expected:
        raise UnsupportedMediaType(
            f"content type {media_type or '(none)'} is not accepted here; "
            f"send {' or '.join(expected)}"
        )


def require_secret(value: str, setting: str) -> str:
    """The configured secret; an unset or blank one verifies nothing."""
    if not value.strip():
        raise SecretNotConfigured(f"{setting} is not set, so no delivery here can be verified")
    return value


def same_secret(presented: str | None, expected: str) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


async def audit_rejection(request: Request, provider: str, rejection: WebhookRejected) -> None:
    """A refused signature (or secret, or timestamp) is a security event: counted, and audited
    in bounded size up to a rate per source (refusals/service.py), in its own transaction,
    carrying nothing from the unverified body."""
    refusal = Refusal(
        provider=provider,
        # The connection's address: uvicorn puts a proxy's X-Forwarded-For here only for the
        # proxies SWITCHBOARD_TRUSTED_PROXIES lists.
        client=request.client.host if request.client else "unknown",
        path=request.scope["path"],  # request.url fails on a query that is not UTF-8
        user_agent=request.headers.get("user-agent"),
        error_code=rejection.code,
        error_message=rejection.message,
    )
    async with pool_of(request).connection() as conn:
        await refusals.record_refusal(conn, refusal)


Pool = Annotated[AsyncConnectionPool[Any], Depends(current_pool)]
