"""/console/static: the console's files served through the request layer like every route."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard import vendor
from tests.agent_sessions.console import agent_settings, running

pytestmark = pytest.mark.anyio


async def test_the_vendored_scripts_are_served_public_with_a_request_id_and_counted(
    migrated_db: str, tmp_path: Path
) -> None:
    async for client in running(agent_settings(tmp_path), migrated_db):
        script = await client.get("/console/static/vendor/htmx.min.js")
        again = await client.get(
            "/console/static/vendor/htmx.min.js", headers={"If-None-Match": script.headers["etag"]}
        )
        licence = await client.get("/console/static/vendor/htmx.org.LICENSE")
        missing = await client.get("/console/static/vendor/htmx.js")
        metrics = (await client.get("/metrics")).text

    assert script.status_code == 200
    assert script.content == (vendor.DESTINATION / "htmx.min.js").read_bytes()
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "public, max-age=3600"
    assert script.headers["x-request-id"]
    assert again.status_code == 304
    assert again.headers["cache-control"] == "public, max-age=3600"
    assert licence.status_code == 200
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert missing.headers["cache-control"] == "no-store"
    # One series for all of them, under the mount's path (never the caller's path).
    for status in ("200", "304", "404"):
        assert (
            f'switchboard_http_requests_total{{method="GET",route="/console/static",'
            f'status="{status}"}}' in metrics
        )
