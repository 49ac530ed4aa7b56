"""The console in Chromium, the way a floor works it: a customer's text arrives and is queued;
an agent signs in with their authenticator, accepts the offer, replies (the reply reaches the
sandbox's outbox), opens a case and moves it, wraps up; a supervisor's queues page follows it
live, with the SLA countdown and a breach; an agent of another queue is refused the
conversation; signing out ends the session in every tab."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pyotp
import pytest
from playwright.async_api import Page, expect
from psycopg import AsyncConnection
from twilio.request_validator import RequestValidator

from tests.agent_sessions.console import PASSWORD, Enrolled, add, code_at
from tests.builders import execute, link_customer
from tests.console.browser import LiveService, enrol, live_service, on_origin
from tests.console.conftest import NewContext

pytestmark = pytest.mark.anyio
TWILIO_TOKEN = "a twilio auth token for the console's tests"  # noqa: S105 - a test value
BANK_NUMBER = "+15550002"
CUSTOMER_PHONE = "+447700900123"
# Offers are made by the worker's routing sweep (every 5 s): what a page waits for.
ARRIVES_MS = 15_000


@pytest.fixture
def console(migrated_db: str, tmp_path: Path) -> Iterator[LiveService]:
    """The service as `make run` serves it, with Twilio's webhook secret set."""
    with live_service(
        migrated_db, tmp_path, TWILIO_AUTH_TOKEN=TWILIO_TOKEN, TWILIO_FROM_NUMBER=BANK_NUMBER
    ) as service:
        yield service


async def customer_texts(service: LiveService, body: str) -> None:
    """The customer's SMS, delivered as Twilio delivers it: signed, to the webhook."""
    path = "/webhooks/twilio/messages"
    params = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": "AC" + "0" * 32,
        "From": CUSTOMER_PHONE,
        "To": BANK_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(service.url + path, params)
    async with httpx.AsyncClient(base_url=service.url) as client:
        answer = await client.post(
            path,
            content=urlencode(params),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
        )
    assert answer.status_code == 200, answer.text


async def enrol_with_the_page(page: Page, secret: str, email: str) -> Enrolled:
    """Enrolment as a new agent does it: the link, a password, the QR code's key typed into
    an authenticator, its first code."""
    await page.goto(f"/console/enrol#{secret}")
    await page.fill("#new-password", PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.locator(".qr svg")).to_be_visible()
    key = (await page.inner_text("code.secret")).replace(" ", "")
    authenticator = pyotp.TOTP(key)
    # The previous step's code: signing in then uses the current one (a code is used once).
    await page.fill("#first-code", code_at(authenticator, -1))
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"://[^/]+/console/sign-in$"))
    return Enrolled(email, PASSWORD, authenticator)


async def sign_in_with_the_form(page: Page, who: Enrolled, *, step: int = 0) -> None:
    await page.goto("/console/work")
    await expect(page).to_have_url(re.compile(r"/console/sign-in"))
    await page.fill("#email", who.email)
    await page.fill("#password", who.password)
    await page.keyboard.press("Enter")
    assert who.totp is not None
    await page.fill("#code", code_at(who.totp, step))
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"://[^/]+/console/work$"))


async def test_a_text_is_worked_from_queue_to_wrap_up_in_the_browser(
    console: LiveService, new_context: NewContext, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    link_customer(migrated_db, phone=CUSTOMER_PHONE, email="zoe@example.com")
    ana_page = await (await new_context(timezone_id="Europe/London")).new_page()
    ana = await enrol_with_the_page(
        ana_page, await add(conn, "ana@bank.example", queues=("general",)), "ana@bank.example"
    )
    sue_page = await (await new_context()).new_page()
    await on_origin(sue_page, console)
    sue = await enrol(
        sue_page, await add(conn, "sue@bank.example", role="supervisor", queues=("general",)),
        "sue@bank.example",
    )  # fmt: skip
    bo_page = await (await new_context()).new_page()
    await on_origin(bo_page, console)
    bo = await enrol(
        bo_page, await add(conn, "bo@bank.example", queues=("general",)), "bo@bank.example"
    )
    cat_page = await (await new_context()).new_page()
    await on_origin(cat_page, console)
    cat = await enrol(
        cat_page, await add(conn, "cat@bank.example", queues=("fraud",)), "cat@bank.example"
    )

    # The supervisor watches the queue; the agent signs in and makes herself available.
    await sign_in_with_the_form(sue_page, sue)
    await sue_page.goto("/console/queues")
    depth = sue_page.locator("#queue-general .depth")
    await expect(depth).to_have_text("0")
    await sign_in_with_the_form(bo_page, bo)  # a colleague, not available: offered nothing
    waiting = bo_page.locator("#waiting [data-queue=general] strong")
    await expect(waiting).to_have_text("0")
    await sign_in_with_the_form(ana_page, ana)
    await ana_page.select_option("#presence", "available")
    await expect(ana_page.locator("#live-status")).to_have_text("Done.")

    await customer_texts(console, "Can I raise my daily transfer limit, please?")

    # The routing sweep offers it to her; her page shows the offer without a reload.
    await expect(waiting).to_have_text("1", timeout=ARRIVES_MS)  # the colleague sees it wait
    offer = ana_page.locator("li.offer")
    await expect(offer).to_have_count(1, timeout=ARRIVES_MS)
    await expect(offer.locator(".countdown")).to_contain_text("offer ends in")
    await ana_page.keyboard.press("a")
    await expect(ana_page).to_have_url(re.compile(r"/console/conversations/[0-9a-f-]{36}$"))
    conversation = ana_page.url.rsplit("/", 1)[1]
    await expect(waiting).to_have_text("0")  # and taken, live
    await expect(ana_page.locator(".entry.inbound .text")).to_have_text(
        "Can I raise my daily transfer limit, please?"
    )
    await expect(ana_page.locator("#customer .contacts")).not_to_contain_text("900123")
    await expect(sue_page.locator("#queue-general td").nth(3)).to_have_text("1", timeout=ARRIVES_MS)

    # She replies from the keyboard; the reply is queued, sent to the sandbox, and shown.
    await ana_page.keyboard.press("r")
    await ana_page.keyboard.type("Yes: I can raise it to 10,000 today.")
    await ana_page.keyboard.press("Control+Enter")
    await expect(ana_page.locator(".entry.outbound .text")).to_have_text(
        "Yes: I can raise it to 10,000 today."
    )
    sent_out = (
        "SELECT o.to_address, o.body_text FROM cc_sandbox_outbox AS o"
        " JOIN cc_messages AS m ON m.id = o.message_id WHERE m.conversation_id = %s"
    )
    for _ in range(100):  # the worker sends it within a moment
        if execute(migrated_db, sent_out, (conversation,)):
            break
        await ana_page.wait_for_timeout(100)
    assert execute(migrated_db, sent_out, (conversation,)) == [
        (CUSTOMER_PHONE, "Yes: I can raise it to 10,000 today.")
    ]

    # A case, opened and moved through the legal next state only.
    await ana_page.click("text=Open a case")
    await ana_page.fill("#case-summary", "Raise the daily transfer limit")
    await ana_page.click("#customer form[data-api$='/cases'] button")
    case = ana_page.locator("#customer li.case")
    await expect(case.locator(".state")).to_have_text("new")
    await expect(case.locator("select[name=to] option")).to_have_text(["triage"])
    await case.locator("button", has_text="Move").click()
    await expect(case.locator(".state")).to_have_text("triage")
    await expect(case.locator("select[name=to] option")).to_have_text(["in progress"])

    # Another queue's agent cannot open the conversation by its address.
    await sign_in_with_the_form(cat_page, cat)
    refused = await cat_page.goto(f"/console/conversations/{conversation}")
    assert refused is not None
    assert refused.status == 404
    await expect(cat_page.locator("main")).not_to_contain_text("transfer limit")

    # The supervisor sees the SLA countdown on the item, then its breach, live.
    await sue_page.click("#detail-general summary")
    countdown = sue_page.locator(f"#detail-general a[href='/console/conversations/{conversation}']")
    await expect(countdown).to_be_visible()
    await expect(sue_page.locator("#detail-general .countdown").first).to_contain_text(" in ")
    execute(
        migrated_db,
        "UPDATE cc_sla_clocks SET due_at = now() - interval '1 second'"
        " WHERE conversation_id = %s AND metric = 'resolution'",
        (conversation,),
    )
    await expect(sue_page.locator("li.breach")).to_have_count(1, timeout=ARRIVES_MS)
    await expect(sue_page.locator("li.breach")).to_contain_text("resolution")

    # Wrap-up, then done: the item leaves her work.
    await ana_page.keyboard.press("w")
    await expect(ana_page.locator(".holding .state")).to_contain_text("wrap-up")
    await ana_page.click(".holding button:has-text('Done')")
    await expect(ana_page).to_have_url(re.compile(r"://[^/]+/console/work$"))
    await expect(ana_page.locator("a.open-conversation")).to_have_count(0)


async def test_signing_out_ends_the_session_in_every_tab(
    console: LiveService, new_context: NewContext, conn: AsyncConnection[Any]
) -> None:
    context = await new_context()
    first = await context.new_page()
    ana = await enrol_with_the_page(
        first, await add(conn, "ana@bank.example", queues=("general",)), "ana@bank.example"
    )
    await sign_in_with_the_form(first, ana)
    second = await context.new_page()
    await second.goto("/console/work")
    await expect(second.locator("h1")).to_have_text("My work")

    await first.click("text=Sign out")

    await expect(first).to_have_url(re.compile(r"/console/sign-in"))
    await expect(second).to_have_url(re.compile(r"/console/sign-in"), timeout=ARRIVES_MS)
    again = await second.goto("/console/work")
    assert again is not None
    await expect(second).to_have_url(re.compile(r"/console/sign-in"))
