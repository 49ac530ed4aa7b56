"""The error answers the agents' routes document (every answer is api_docs.ErrorBody)."""

from __future__ import annotations

from typing import Any

from switchboard.api_docs import ErrorBody


def answer(codes: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": codes}


SIGNED_IN: dict[int | str, dict[str, Any]] = {
    401: answer("`not_signed_in`: no session, or it was signed out, revoked or expired"),
    403: answer("`csrf_failed`: an unsafe method without the origin or X-CSRF-Token proof"),
    422: answer("`invalid_input` or `invalid_request`"),
    503: answer("`database_unavailable`: retry later"),
}
