"""How the console's pages are rendered: one Jinja2 environment, built when the app is
created (never at import), with the filters the templates share."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from switchboard.assignments.models import Queue
from switchboard.cases.models import CasePriority, CaseType
from switchboard.errors import InvalidInput
from switchboard.time_zones import iana_zone

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def console_templates() -> Jinja2Templates:
    """Autoescaped everywhere (a customer's text is theirs to write), and strict: a name a
    template misspells fails the page in the tests, not silently in front of an agent."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["local"] = local_time
    environment.filters["iso"] = iso_time
    # The workflow's own values, for the forms' choices.
    environment.globals["queues"] = [str(q) for q in Queue]
    environment.globals["case_types"] = [str(t) for t in CaseType]
    environment.globals["case_priorities"] = [str(p) for p in CasePriority]
    return Jinja2Templates(env=environment)


def zone(name: str) -> ZoneInfo:
    """The agent's zone; UTC for one no longer known (tzdata changes), rather than no page."""
    try:
        return iana_zone(name)
    except InvalidInput:
        return ZoneInfo("UTC")


def local_time(at: datetime | None, time_zone: str, style: str = "short") -> str:
    """`at` as the agent reads it, in their own time zone: today's times without the date."""
    if at is None:
        return ""
    local = at.astimezone(zone(time_zone))
    if style == "full":
        return local.strftime("%Y-%m-%d %H:%M:%S %Z")
    now = datetime.now(local.tzinfo)
    if local.date() == now.date():
        return local.strftime("%H:%M")
    if local.year == now.year:
        return local.strftime("%d %b %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def iso_time(at: datetime | None) -> str:
    return "" if at is None else at.isoformat()
