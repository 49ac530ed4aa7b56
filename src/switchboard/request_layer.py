"""The outer layer of every HTTP request: its id (X-Request-ID, request_ids.py) and its
access log line. Plain ASGI, entered by SwitchboardApp before anything else, the directly
served webhook included, so that no route can skip it.

Kept cheap, since every inbound text passes it: the id is looked for in the raw header list,
the response's headers are extended rather than parsed, and the access line is built only
when access logs are on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.request_ids import REQUEST_ID, request_id_from

access_log = logging.getLogger("switchboard.access")

_HEADER = b"x-request-id"


class RequestLayer:
    """Give the request an id (the caller's if sane, else a new one), answer it in
    X-Request-ID, keep it in REQUEST_ID while the request is served, and, with `access_log`
    on, write one line once it is answered: method, route, status, duration."""

    def __init__(self, app: ASGIApp, *, access_log: bool) -> None:
        self._app = app
        self._access_log = access_log

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
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        started = time.perf_counter()
        token = REQUEST_ID.set(request_id)
        try:
            await self._app(scope, receive, send_with_id)
        finally:
            if self._access_log:
                _log_access(scope, status, started)
            REQUEST_ID.reset(token)


def _log_access(scope: Scope, status: int, started: float) -> None:
    # The route's template, never the path itself: a path is the caller's to write (a card
    # number in a mistyped URL), a template is ours.
    route: Any = scope.get("route")
    template = getattr(route, "path", None) or "-"
    access_log.info(
        "%s %s %d",
        scope["method"],
        template,
        status,
        extra={
            "route": template,
            "method": scope["method"],
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
