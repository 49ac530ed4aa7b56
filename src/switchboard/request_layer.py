"""The outer layer of every HTTP request: its id (X-Request-ID, request_ids.py), its access
log line, its count and duration in the metrics (metrics.py), Cache-Control: no-store
unless the route set a Cache-Control of its own, and its body limit. Plain ASGI, entered by
SwitchboardApp before anything else, so that no route can skip it.

The body limit is its family's (http_limits.BodyLimits: the webhooks' own, the API's 64 KiB).
A body declared larger (Content-Length) is answered 413 before any route sees the request,
so nothing is read, stored or audited, and the connection is closed rather than drained. A
body sent without a length is counted as it is read: the read that passes the limit raises
the family's error, and whatever the route then answers is replaced by the 413 (FastAPI
answers an error while reading a JSON body as a 400 of its own).

Kept cheap, since every inbound text passes it: the id is looked for in the raw header list,
the response's headers are extended rather than parsed, and the access line is built only
when access logs are on; the metrics are a counter and a histogram, whose series for each
(route, method, status) are looked up once and then kept, no lock of ours.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.errors import SwitchboardError
from switchboard.http_limits import BodyLimit, BodyLimits
from switchboard.metrics import Metrics
from switchboard.request_ids import REQUEST_ID, request_id_from

access_log = logging.getLogger("switchboard.access")

_HEADER = b"x-request-id"
# Nothing this service answers is for a browser or a proxy to keep: an agent's reads, a
# session's CSRF token, a webhook's answer. One place says so for every route, also for a
# route that builds its Response itself.
_NO_STORE = (b"cache-control", b"no-store")
# A method is the caller's to write: any other is counted as "other", one series, not one each.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestLayer:
    """Give the request an id (the caller's if sane, else a new one), answer it in
    X-Request-ID, keep it in REQUEST_ID while the request is served, and, with `access_log`
    on, write one line once it is answered: method, route, status, duration; and count it
    in `metrics`, by route template, method and status."""

    def __init__(
        self, app: ASGIApp, *, access_log: bool, metrics: Metrics, body_limits: BodyLimits
    ) -> None:
        self._app = app
        self._access_log = access_log
        self._body_limits = body_limits
        self._metrics = metrics
        self._requests = metrics.requests
        self._seconds = metrics.request_seconds
        # {(route, method, status): its series}: labels() takes a lock and builds a key each
        # time. As many as routes x methods x statuses, all of them ours to name.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        sent = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                sent = value
                break
        request_id = request_id_from(sent)
        header = (_HEADER, request_id.encode("ascii"))
        status = 500  # what the server answers if the app fails before it starts an answer

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new list: a response's own may be shared with other requests.
                headers = [*message.get("headers", ()), header]
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append(_NO_STORE)
                message["headers"] = headers
            await send(message)

        started = time.perf_counter()
        token = REQUEST_ID.set(request_id)
        limit = self._body_limits.of(scope["path"])
        declared = _declared_length(scope)
        try:
            if declared is not None and declared > limit.max_bytes:
                refusal = limit.error(
                    f"body of {declared} bytes is over the {limit.max_bytes}-byte limit"
                )
                self._count_refused_webhook(limit, refusal)
                await _refuse(send_with_id, refusal)
            else:
                body = _BoundedBody(limit, receive, send_with_id)
                await self._app(scope, body.receive, body.send)
        finally:
            seconds = time.perf_counter() - started
            template = _template(scope)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            key = (template, method, status)
            series = self._series.get(key)
            if series is None:
                series = (
                    self._requests.labels(template, method, str(status)),
                    self._seconds.labels(template, method),
                )
                self._series[key] = series
            series[0].inc()
            series[1].observe(seconds)
            if self._access_log:
                _log_access(scope, template, status, seconds)
            REQUEST_ID.reset(token)

    def _count_refused_webhook(self, limit: BodyLimit, refusal: SwitchboardError) -> None:
        # Refused before routing: counted here as http_app counts a webhook's other refusals.
        if limit.webhook is not None:
            self._metrics.webhook(limit.webhook, "refused", refusal.code)


class _BoundedBody:
    """The request's receive and send, for a body of at most `limit.max_bytes`."""

    def __init__(self, limit: BodyLimit, receive: Receive, send: Send) -> None:
        self._limit = limit
        self._receive = receive
        self._send = send
        self._size = 0
        self._over: SwitchboardError | None = None
        self._replaced = False

    async def receive(self) -> Message:
        if self._over is not None:
            raise self._over
        message = await self._receive()
        if message["type"] == "http.request":
            self._size += len(message.get("body", b""))
            if self._size > self._limit.max_bytes:
                self._over = self._limit.error(
                    f"body is over the {self._limit.max_bytes}-byte limit"
                )
                raise self._over
        return message

    async def send(self, message: Message) -> None:
        if self._over is not None:
            if message["type"] == "http.response.start" and message["status"] != 413:
                self._replaced = True
                await _refuse(self._send, self._over)
                return
            if self._replaced:
                return  # the route's own answer to the body it could not read
        await self._send(message)


async def _refuse(send: Send, refusal: SwitchboardError) -> None:
    body = json.dumps(
        {"error": refusal.code, "detail": refusal.message}, separators=(",", ":")
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # The rest of the body is not wanted: closing spares reading it to reuse the connection.
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _template(scope: Scope) -> str:
    # The route's template, never the path itself: a path is the caller's to write (a card
    # number in a mistyped URL, a label per scanner's guess), a template is ours.
    route: Any = scope.get("route")
    return getattr(route, "path", None) or "-"


def _log_access(scope: Scope, template: str, status: int, seconds: float) -> None:
    access_log.info(
        "%s %s %d",
        scope["method"],
        template,
        status,
        extra={
            "route": template,
            "method": scope["method"],
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        },
    )
