"""SendGrid v3 Mail Send: POST …/v3/mail/send with a Bearer API key and a JSON body.

SendGrid answers 202 Accepted with an empty body and the message's id in X-Message-Id (the
id its Event Webhook later reports as the start of sg_message_id); errors come as
{"errors": [{"message", "field", "help"}]} with 400, 401, 403, 413 or 429.
"""

from __future__ import annotations

from typing import Any

import httpx

from switchboard.errors import ProviderRejected, ProviderUnavailable
from switchboard.providers.messaging import Accepted, Outgoing, error_text

PROVIDER = "sendgrid"
ACCEPTED = "accepted"  # SendGrid's 202 has no status word of its own


class SendGridMail:
    def __init__(
        self, client: httpx.AsyncClient, *, base_url: str, api_key: str, from_email: str
    ) -> None:
        self._client = client
        self._url = f"{base_url}/v3/mail/send"
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._from_email = from_email

    async def send(self, message: Outgoing) -> Accepted:
        sender = message.from_address or self._from_email
        payload: dict[str, Any] = {
            "personalizations": [
                {
                    "to": [{"email": message.to_address}],
                    # Comes back on every Event Webhook event of this message.
                    "custom_args": {"switchboard_message_id": str(message.message_id)},
                }
            ],
            "from": {"email": sender},
            "subject": message.subject or "",
            "content": [{"type": "text/plain", "value": message.text}],
        }
        try:
            response = await self._client.post(self._url, json=payload, headers=self._headers)
        except httpx.TransportError as exc:
            raise ProviderUnavailable(
                f"SendGrid could not be reached: {exc!r}",
                provider=PROVIDER,
                provider_code="network",
            ) from exc
        if 200 <= response.status_code < 300:
            message_id = response.headers.get("x-message-id", "").strip()
            if not message_id:
                raise ProviderRejected(
                    f"SendGrid answered {response.status_code} without an X-Message-Id",
                    provider=PROVIDER,
                    provider_code="bad_response",
                )
            return Accepted(PROVIDER, message_id, ACCEPTED, from_address=sender)
        detail = f"SendGrid answered {response.status_code}: {_errors(response)}"
        provider_code = f"http_{response.status_code}"
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderUnavailable(detail, provider=PROVIDER, provider_code=provider_code)
        raise ProviderRejected(detail, provider=PROVIDER, provider_code=provider_code)


def _errors(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        errors = None
    if not isinstance(errors, list) or not errors:
        return error_text(response.text) or "(no body)"
    described = []
    for error in errors:
        if isinstance(error, dict):
            field = f" ({error['field']})" if error.get("field") else ""
            described.append(f"{error.get('message', '?')}{field}")
    return error_text("; ".join(described))
