"""The outer layer of every HTTP request: its id (X-Request-ID, request_ids.py), its access
log line, its count and duration in the metrics (metrics.py), and Cache-Control: no-store
unless the route set a Cache-Control of its own. Plain ASGI, entered by
SwitchboardApp before anything else, so that no route can skip it.

Kept cheap, since every inbound text passes it: the id is looked for in the raw header list,
the response's headers are extended rather than parsed, and the access line is built only
when access logs are on; the metrics are a counter and a histogram, whose series for each
(route, method, status) are looked up once and then kept, no lock of ours.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

    def __init__(self, app: ASGIApp, *, access_log: bool, metrics: Metrics) -> None:
        self._app = app
        self._access_log = access_log
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
        try:
            await self._app(scope, receive, send_with_id)
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
