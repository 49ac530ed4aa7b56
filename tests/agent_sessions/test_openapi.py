"""The agents' routes are documented: their bodies, answers and errors."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_the_sign_in_routes_are_in_the_openapi_document_with_their_errors(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]

    sign_in = paths["/api/v1/session"]["post"]
    assert sign_in["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/SignInBody"
    )
    assert {"200", "401", "403", "429", "503"} <= set(sign_in["responses"])
    assert set(paths["/api/v1/session"]) == {"get", "post", "delete"}
    assert "401" in paths["/api/v1/session/totp"]["post"]["responses"]
    assert "401" in paths["/api/v1/enrolment"]["post"]["responses"]
    assert "401" in paths["/api/v1/enrolment/confirm"]["post"]["responses"]
    revoke = paths["/api/v1/agents/{agent_id}/sessions/revoke"]["post"]
    assert {"200", "401", "403", "404"} <= set(revoke["responses"])
    info = document["components"]["schemas"]["SessionInfo"]["properties"]
    assert {"agent_id", "role", "queues", "csrf_token", "idle_expires_at"} <= set(info)
