"""Twilio Programmable Messaging: POST …/2010-04-01/Accounts/{sid}/Messages.json (SMS, WhatsApp).

Basic auth with the account SID and auth token; a form with To, From (or MessagingServiceSid),
Body and StatusCallback. Twilio answers 201 with the message's `sid` and `status` (queued, or
accepted with a Messaging Service), and errors as JSON {code, message, more_info, status}.
"""

from __future__ import annotations

import httpx

from switchboard.errors import ProviderRejected, ProviderUnavailable
from switchboard.identities.normalize import WHATSAPP_PREFIX, normalize_phone
from switchboard.providers.http import json_object
from switchboard.providers.messaging import Accepted, Outgoing, error_text

PROVIDER = "twilio"


class TwilioMessages:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        from_number: str | None,
        messaging_service_sid: str | None,
        status_callback_url: str,
    ) -> None:
        self._client = client
        self._url = f"{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = (account_sid, auth_token)
        self._from_number = from_number
        self._messaging_service_sid = messaging_service_sid
        self._status_callback_url = status_callback_url

    async def send(self, message: Outgoing) -> Accepted:
        prefix = WHATSAPP_PREFIX if message.channel == "whatsapp" else ""
        form = {
            "To": prefix + message.to_address,
            "Body": message.text,
            # Our id rides in the callback's URL (which Twilio signs): a report that arrives
            # before the worker has stored Twilio's sid still finds its message.
            "StatusCallback": f"{self._status_callback_url}?message_id={message.message_id}",
        }
        # A Messaging Service picks the sender itself (and keeps it sticky per customer).
        if self._messaging_service_sid:
            form["MessagingServiceSid"] = self._messaging_service_sid
        else:
            form["From"] = prefix + (message.from_address or self._from_number or "")
        try:
            response = await self._client.post(self._url, data=form, auth=self._auth)
        except httpx.TransportError as exc:
            raise ProviderUnavailable(
                f"Twilio could not be reached: {exc!r}", provider=PROVIDER, provider_code="network"
            ) from exc
        body = json_object(response)
        if response.status_code in (200, 201):
            sid, status = body.get("sid"), body.get("status")
            if not isinstance(sid, str) or not isinstance(status, str):
                # Taken, perhaps, but unrecognisable: sending again could send it twice.
                raise ProviderRejected(
                    f"Twilio answered {response.status_code} without a message sid: "
                    f"{error_text(response.text)}",
                    provider=PROVIDER,
                    provider_code="bad_response",
                )
            # Twilio answers in E.164 ("whatsapp:+44…" for WhatsApp): no region is needed.
            sender = body.get("from")
            from_address = normalize_phone(sender, "ZZ") if isinstance(sender, str) else None
            return Accepted(PROVIDER, sid, status.lower(), from_address=from_address)
        code = body.get("code")
        provider_code = str(code) if code is not None else f"http_{response.status_code}"
        text = body.get("message") if isinstance(body.get("message"), str) else None
        detail = f"Twilio answered {response.status_code}: {text or error_text(response.text)}"
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderUnavailable(detail, provider=PROVIDER, provider_code=provider_code)
        raise ProviderRejected(detail, provider=PROVIDER, provider_code=provider_code)
