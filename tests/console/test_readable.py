"""The console as Chromium renders it: every piece of text on its pages meets WCAG 2.2 AA
contrast against what is really behind it, and the pages fit a 1280x720 screen and a
1920-wide one without scrolling sideways."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page
from psycopg import AsyncConnection

from switchboard.assignments import service as assignments
from switchboard.audit.models import Actor, ActorType
from tests.agent_sessions.console import add
from tests.console.browser import LiveService, enrol, on_origin, sign_in
from tests.console.conftest import NewContext
from tests.row_security.floor import add_conversation

pytestmark = pytest.mark.anyio

# Each element with text of its own, its colour against the first opaque background behind
# it (WCAG's relative luminance); large text (24px, or 18.66px bold) needs 3:1, other 4.5:1.
_LOW_CONTRAST = """() => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const channel = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = ([r, g, b]) =>
    0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || c[3] > 0.99) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const failures = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    const shown = el.offsetParent !== null || style.position === "fixed";
    if (!own || style.visibility === "hidden" || !shown) continue;
    const fg = luminance(rgb(style.color).slice(0, 3)), bg = luminance(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const what = `${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}"`;
    if (ratio < needed) failures.push(`${what} ${ratio.toFixed(2)}`);
  }
  return failures;
}"""
_SIDEWAYS = "() => document.documentElement.scrollWidth - window.innerWidth"


async def _check(page: Page, path: str, *, loaded: str = "main") -> None:
    """`path`, once `loaded` (a panel the page fills after it loads) is there."""
    answer = await page.goto(path)
    assert answer is not None
    assert answer.status == 200, path
    await page.wait_for_selector(loaded)
    assert await page.evaluate(_LOW_CONTRAST) == [], path
    assert await page.evaluate(_SIDEWAYS) <= 0, path


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
async def test_every_page_is_readable_at_both_sizes(
    size: tuple[int, int],
    console: LiveService,
    new_context: NewContext,
    conn: AsyncConnection[Any],
    migrated_db: str,
) -> None:
    conversation, _ = add_conversation(migrated_db, None)
    await assignments.enqueue_handoff(
        conn, Actor(ActorType.SYSTEM, "test"), queue="general", reason="limit raise",
        conversation_id=conversation,
    )  # fmt: skip
    page = await (await new_context(viewport={"width": size[0], "height": size[1]})).new_page()
    await on_origin(page, console)
    await _check(page, "/console/sign-in")
    sue = await enrol(
        page, await add(conn, "sue@bank.example", role="supervisor", queues=("general",)),
        "sue@bank.example",
    )  # fmt: skip
    await sign_in(page, sue)
    for path in ("/console/work", "/console/search", "/console/queues"):
        await _check(page, path)
    await page.click("#detail-general summary")
    await page.wait_for_selector("#detail-general table.queue-items")
    assert await page.evaluate(_LOW_CONTRAST) == []
    await _check(page, f"/console/conversations/{conversation}", loaded="#customer h2")
