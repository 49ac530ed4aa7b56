"""A refused delivery as the edge describes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Refusal:
    """What is known of a delivery refused before it was trusted; nothing from its body.
    Every text here is the sender's to choose, so the service bounds each before storing it."""

    provider: str
    client: str  # the connection's address (the proxy's client only behind a trusted proxy)
    path: str
    user_agent: str | None
    error_code: str
    error_message: str


@dataclass(frozen=True)
class Overflow:
    """The refusals of one source in one closed window that were not audited one by one."""

    window_start: datetime
    provider: str
    client: str
    error_code: str
    refused: int
