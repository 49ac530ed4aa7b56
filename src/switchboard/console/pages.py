"""The console's pages and the fragments htmx swaps into them.

Every read is the agents' API's own handler, called with the same request and the same
signed-in agent, so row-level security, masking and the 404 for another queue's conversation
are the API's. Every write is the browser calling /api/v1 itself (static/console.js), with the
session's CSRF token. Enrolment is the one form posted here: its answer is the authenticator's
secret, drawn as a QR code on the server and shown once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

import segno
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from switchboard import vendor
from switchboard.agent_api import conversations, customers, search, supervision, work
from switchboard.agent_api.work import HeldOut
from switchboard.agent_sessions import http as sessions
from switchboard.agent_sessions.models import SignedInAgent
from switchboard.agents.passwords import MAX_CHARS
from switchboard.console.render import STATIC, console_templates
from switchboard.errors import (
    CustomerNotRecognised,
    InvalidInput,
    NotSignedIn,
    SwitchboardError,
)
from switchboard.http_app import SwitchboardApp
from switchboard.supervision.service import DEFAULT_PAGE as QUEUE_PAGE
from switchboard.timeline.models import DEFAULT_PAGE

log = logging.getLogger("switchboard")
router = APIRouter(prefix="/console", include_in_schema=False)
# The console's files are public; an hour in a browser's cache is the most an upgrade waits
# for (then revalidated by ETag).
STATIC_MAX_AGE = 3600
# Only our own scripts, styles and requests; no frame, no plugin, no inline script or eval:
# text a customer wrote cannot become code in an agent's browser even if it escaped escaping.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self';"
    " img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none';"
    " frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def serve_console(app: SwitchboardApp) -> None:
    """The console's pages, its static files (ours, and the front-end packages `make setup`
    installs beside them) and its answer to a page asked for signed out."""
    app.state.console_templates = console_templates()
    app.add_routes_of(router)
    if not vendor.up_to_date(vendor.load_manifest(), vendor.DESTINATION):
        log.warning(
            "the console's scripts are missing or not those vendor.json pins: run `make setup` "
            "(python -m switchboard.vendor); /console/static/vendor/ answers 404 until then"
        )
    app.add_static_files("/console/static", STATIC, name="console-static", max_age=STATIC_MAX_AGE)
    app.add_exception_handler(SignInNeeded, answer_sign_in_needed)


SIGN_IN = "/console/sign-in"
# The form's own limit on a field as sent: the password's 1024 characters (the API's, checked
# when it is called), each at most four UTF-8 bytes a browser sends as %XX each.
_MAX_FORM_FIELD = 12 * MAX_CHARS


class SignInNeeded(Exception):
    """A console page asked for without a signed-in session: the browser is sent to sign in."""

    def __init__(self, then: str) -> None:
        super().__init__(then)
        self.then = then


async def console_agent(request: Request) -> SignedInAgent:
    try:
        return await sessions.signed_in_agent(request)
    except NotSignedIn as exc:
        raise SignInNeeded(request.url.path) from exc


Agent = Annotated[SignedInAgent, Depends(console_agent)]


def answer_sign_in_needed(request: Request, exc: Exception) -> Response:
    """To the sign-in page: a full page is redirected; a fragment htmx asked for redirects
    the whole page (HX-Redirect), so a signed-out tab never shows a sign-in form in a panel."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": SIGN_IN})
    then = exc.then if isinstance(exc, SignInNeeded) else "/console/work"
    return RedirectResponse(f"{SIGN_IN}?then={then}", status_code=303)


def _templates(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.console_templates
    return templates


def _page(
    request: Request,
    name: str,
    agent: SignedInAgent | None = None,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    context = {
        "agent": agent,
        "page": None,
        "presence": None,
        "time_zone": agent.time_zone if agent else "UTC",
        "csrf_token": sessions.csrf_token_of(request) if agent else "",
        **values,
    }
    response = _templates(request).TemplateResponse(request, name, context, status_code=status)
    response.headers.update(_PAGE_HEADERS)
    return response


def _error_page(request: Request, agent: SignedInAgent | None, exc: SwitchboardError) -> Response:
    response = _page(request, "error.html", agent, status=exc.http_status, error=exc)
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


# --- signing in ------------------------------------------------------------------------------


@router.get("")
async def home() -> RedirectResponse:
    return RedirectResponse("/console/work", status_code=303)


@router.get("/sign-in")
async def sign_in_page(
    request: Request, then: Annotated[str, Query(max_length=300)] = "/console/work"
) -> HTMLResponse:
    return _page(request, "sign_in.html", then=_own_page(then))


@router.get("/enrol")
async def enrol_page(request: Request) -> HTMLResponse:
    """The enrolment link's page: its secret travels in the fragment (#…), which the browser
    never sends to a server, and is posted with the password chosen here."""
    return _page(request, "enrol.html")


@router.post("/enrol")
async def enrol(request: Request) -> Response:
    try:
        # Before the form is read: a post from another site is refused unread.
        sessions.require_same_origin(request)
        body = await _enrolment_form(request)
        started = await sessions.start_enrolment(request, body)
    except SwitchboardError as exc:
        return _page(request, "_form_error.html", status=exc.http_status, error=exc)
    qr = segno.make(started.provisioning_uri, error="m")
    return _page(
        request,
        "_enrol_authenticator.html",
        secret=body.secret,
        qr_svg=qr.svg_inline(scale=6, dark="#111", light="#fff", title="Authenticator QR code"),
        totp_secret=_totp_secret(started.provisioning_uri),
    )


async def _enrolment_form(request: Request) -> sessions.EnrolmentBody:
    """The form's secret and password; InvalidInput for a field missing or too long, or a
    body that is not a form of two fields (a ValidationError or a parser's 400 otherwise)."""
    try:
        form = await request.form(max_files=0, max_fields=4, max_part_size=_MAX_FORM_FIELD)
        return sessions.EnrolmentBody(
            secret=str(form.get("secret", "")), password=str(form.get("password", ""))
        )
    except (StarletteHTTPException, ValidationError) as exc:
        raise InvalidInput(
            "the enrolment link's secret and a password of 12 to 1024 characters are needed",
            hint="open the enrolment link again, and choose a password of 12 to 1024 characters",
        ) from exc


def _totp_secret(uri: str) -> str:
    """The secret of the otpauth:// URI, grouped by four, for typing into an app by hand."""
    query = uri.partition("?")[2]
    secret = next((p[7:] for p in query.split("&") if p.startswith("secret=")), "")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _own_page(then: str) -> str:
    """Where to go after sign-in: a console page of ours, never another site, and its path
    alone: a link must not get an agent to run a search of someone else's choosing."""
    path = then.split("?", 1)[0].split("#", 1)[0]
    if path.startswith("/console/") and "\\" not in path:
        return path
    return "/console/work"


# --- my work ---------------------------------------------------------------------------------


@router.get("/work")
async def work_page(request: Request, agent: Agent) -> Response:
    try:
        held = await work.work(request, agent)
    except SwitchboardError as exc:
        return _error_page(request, agent, exc)
    return _page(request, "work.html", agent, work=held, presence=held.presence, page="work")


# Parts of My work and of the header, each read again on its own when it changes: the
# agent's work as GET /api/v1/work gives it, rendered by the part's template.
_WORK_PARTS = {
    "/work/lists": "_work_lists.html",
    "/work/waiting": "_waiting.html",
    # The header's presence: changed in another tab, or by the routing sweep (an offer left
    # to expire sets its agent away).
    "/presence": "_presence.html",
}


def _work_part(template: str) -> Callable[..., Awaitable[Response]]:
    async def part(request: Request, agent: Agent) -> Response:
        try:
            held = await work.work(request, agent)
        except SwitchboardError as exc:
            return _page(request, "_form_error.html", agent, status=exc.http_status, error=exc)
        return _page(request, template, agent, work=held, presence=held.presence)

    return part


for _path, _template in _WORK_PARTS.items():
    router.get(_path, name=_template.strip("_").removesuffix(".html"))(_work_part(_template))


# --- a conversation --------------------------------------------------------------------------


@router.get("/conversations/{conversation_id}")
async def conversation_page(request: Request, conversation_id: UUID, agent: Agent) -> Response:
    try:
        timeline = await conversations.timeline(
            request, conversation_id, agent, cursor=None, limit=DEFAULT_PAGE
        )
        held = await work.work(request, agent)
    except SwitchboardError as exc:
        return _error_page(request, agent, exc)
    return _page(
        request,
        "conversation.html",
        agent,
        timeline=timeline,
        holding=_holding(held.offers + held.work, conversation_id),
        in_hand=[i for i in held.work if i.conversation_id is not None],
        presence=held.presence,
        newest_message=_newest_message(timeline),
    )


@router.get("/conversations/{conversation_id}/timeline")
async def timeline_fragment(
    request: Request,
    conversation_id: UUID,
    agent: Agent,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    try:
        timeline = await conversations.timeline(
            request, conversation_id, agent, cursor=cursor, limit=DEFAULT_PAGE
        )
    except SwitchboardError as exc:
        return _page(request, "_form_error.html", agent, status=exc.http_status, error=exc)
    name = "_timeline_older.html" if cursor else "_timeline.html"
    return _page(request, name, agent, timeline=timeline, newest_message=_newest_message(timeline))


@router.get("/conversations/{conversation_id}/customer")
async def customer_fragment(request: Request, conversation_id: UUID, agent: Agent) -> Response:
    try:
        customer = await customers.customer(request, conversation_id, agent)
    except CustomerNotRecognised as exc:  # a state of the conversation, shown as such
        return _page(
            request, "_customer.html", agent, conversation_id=conversation_id, customer=None,
            refused=exc,
        )  # fmt: skip
    except SwitchboardError as exc:
        return _page(request, "_form_error.html", agent, status=exc.http_status, error=exc)
    return _page(
        request, "_customer.html", agent, conversation_id=conversation_id, customer=customer,
        refused=None,
    )  # fmt: skip


@router.get("/conversations/{conversation_id}/reply-check")
async def reply_check_fragment(request: Request, conversation_id: UUID, agent: Agent) -> Response:
    try:
        verdict = await conversations.reply_check(request, conversation_id, agent)
    except SwitchboardError as exc:
        return _page(request, "_form_error.html", agent, status=exc.http_status, error=exc)
    return _page(request, "_reply_check.html", agent, verdict=verdict)


def _holding(items: list[HeldOut], conversation_id: UUID) -> HeldOut | None:
    return next((i for i in items if i.conversation_id == conversation_id), None)


def _newest_message(timeline: conversations.TimelineOut) -> UUID | None:
    return next((e.id for e in timeline.entries if e.kind == "message"), None)


# --- supervisors -----------------------------------------------------------------------------


@router.get("/queues")
async def queues_page(request: Request, agent: Agent) -> Response:
    try:
        figures = await supervision.queues(request, agent)
        recent = await supervision.breaches(request, agent, since=None, limit=50)
        held = await work.work(request, agent)
    except SwitchboardError as exc:
        return _error_page(request, agent, exc)
    return _page(
        request, "queues.html", agent, page="queues", figures=figures, breaches=recent.breaches,
        presence=held.presence,
    )  # fmt: skip


@router.get("/queues/figures")
async def queue_figures_fragment(request: Request, agent: Agent) -> Response:
    try:
        figures = await supervision.queues(request, agent)
        recent = await supervision.breaches(request, agent, since=None, limit=50)
    except SwitchboardError as exc:
        return _page(request, "_form_error.html", agent, status=exc.http_status, error=exc)
    return _page(request, "_queue_figures.html", agent, figures=figures, breaches=recent.breaches)


@router.get("/queues/{queue}/items")
async def queue_items_fragment(
    request: Request,
    queue: Annotated[str, Path(max_length=63)],
    agent: Agent,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    try:
        figures = await supervision.queues(request, agent)
        page = await supervision.queue_items(request, queue, agent, cursor=cursor, limit=QUEUE_PAGE)
    except SwitchboardError as exc:
        return _page(request, "_form_error.html", agent, status=exc.http_status, error=exc)
    members = next((q.agents for q in figures.queues if q.queue == queue), [])
    return _page(
        request, "_queue_items.html", agent, queue=queue, items=page, members=members,
        cursor=cursor,
    )  # fmt: skip


# --- search ----------------------------------------------------------------------------------


@router.get("/search")
async def search_page(
    request: Request,
    agent: Agent,
    phone: Annotated[str | None, Query(max_length=254)] = None,
    email: Annotated[str | None, Query(max_length=254)] = None,
    case: Annotated[str | None, Query(max_length=254)] = None,
) -> Response:
    """Nothing is looked up (nor audited) until a key is given: a search is the API's."""
    keys = {"phone": phone or None, "email": email or None, "case": case or None}
    asked = {name: value for name, value in keys.items() if value}
    found = refused = None
    try:
        held = await work.work(request, agent)
    except SwitchboardError as exc:
        return _error_page(request, agent, exc)
    if asked:
        try:
            found = await search.search(request, agent, **keys)
        except SwitchboardError as exc:
            refused = exc
    status = refused.http_status if refused is not None else 200
    return _page(
        request, "search.html", agent, status=status, page="search", asked=asked, found=found,
        refused=refused, presence=held.presence,
    )  # fmt: skip
