"""The secrets the service checks, and each delivery as the provider would sign and send it."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

from switchboard import __version__
from switchboard.dev_secrets import load_or_create
from switchboard.errors import ConfigurationError
from switchboard.settings import Settings
from switchboard.simulate.payloads import Delivery, Endpoint

USER_AGENT = f"switchboard-simulate/{__version__}"


@dataclass(frozen=True)
class Secrets:
    twilio_auth_token: str
    sendgrid_inbound_secret: str
    vapi_secret: str
    # The private half of SENDGRID_EVENT_PUBLIC_KEY; only known for a generated dev key.
    sendgrid_event_key: ec.EllipticCurvePrivateKey | None


def service_secrets(settings: Settings) -> Secrets:
    """The secrets a development service started with these settings checks: each one set in
    the environment, else the one generated under the data directory (as the service does)."""
    if settings.production:
        raise ConfigurationError(
            "simulate sends made-up customer traffic; it refuses to run with "
            "SWITCHBOARD_ENV=production",
            hint="run it against a development service",
        )
    dev = load_or_create(settings.data_dir)
    configured_key = settings.secret("SENDGRID_EVENT_PUBLIC_KEY")
    event_key = None
    if not configured_key or _same_key(configured_key, dev.sendgrid_event_public_key):
        loaded = serialization.load_pem_private_key(
            dev.sendgrid_event_private_key.encode(), password=None
        )
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ConfigurationError(
                f"the SendGrid key in {settings.data_dir}/dev-secrets.json is not an EC key"
            )
        event_key = loaded
    return Secrets(
        twilio_auth_token=settings.secret("TWILIO_AUTH_TOKEN") or dev.twilio_auth_token,
        sendgrid_inbound_secret=(
            settings.secret("SENDGRID_INBOUND_SECRET") or dev.sendgrid_inbound_secret
        ),
        vapi_secret=settings.secret("VAPI_SECRET") or dev.vapi_secret,
        sendgrid_event_key=event_key,
    )


@dataclass(frozen=True)
class SignedRequest:
    endpoint: Endpoint
    query: dict[str, str]
    content: bytes
    headers: dict[str, str]


class Signer:
    """Turns deliveries into requests. Twilio signs the URL it was configured with (the
    public URL), whatever address the requests are actually sent to."""

    def __init__(self, secrets: Secrets, public_url: str) -> None:
        self._secrets = secrets
        self._public_url = public_url.rstrip("/")
        self._twilio = RequestValidator(secrets.twilio_auth_token)

    def sign(self, delivery: Delivery) -> SignedRequest:
        endpoint = delivery.endpoint
        if endpoint in {Endpoint.TWILIO_MESSAGES, Endpoint.TWILIO_STATUS}:
            return self._twilio_form(
                endpoint, dict(delivery.fields or {}), dict(delivery.query or {})
            )
        if endpoint is Endpoint.SENDGRID_INBOUND:
            return self._inbound_parse(dict(delivery.fields or {}))
        if endpoint is Endpoint.SENDGRID_EVENTS:
            return self._event_webhook(delivery.payload)
        return self._vapi(delivery.payload)

    def _twilio_form(
        self, endpoint: Endpoint, fields: dict[str, str], query: dict[str, str]
    ) -> SignedRequest:
        # Twilio signs the whole URL it calls, a status callback's query string included.
        url = self._public_url + endpoint + (f"?{urlencode(query)}" if query else "")
        signature = self._twilio.compute_signature(url, fields)
        return SignedRequest(
            endpoint,
            query,
            urlencode(fields).encode(),
            _headers(
                "application/x-www-form-urlencoded",
                {"X-Twilio-Signature": signature},
            ),
        )

    def _inbound_parse(self, fields: dict[str, str]) -> SignedRequest:
        boundary = "xYzZY" + secrets.token_hex(12)
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in fields.items()
        ]
        body = ("".join(parts) + f"--{boundary}--\r\n").encode()
        return SignedRequest(
            Endpoint.SENDGRID_INBOUND,
            # Inbound Parse cannot sign; the secret travels in the URL configured at SendGrid.
            {"key": self._secrets.sendgrid_inbound_secret},
            body,
            _headers(f"multipart/form-data; boundary={boundary}"),
        )

    def _event_webhook(self, events: Any) -> SignedRequest:
        key = self._secrets.sendgrid_event_key
        if key is None:
            raise ConfigurationError("no private key is known for SENDGRID_EVENT_PUBLIC_KEY")
        # SendGrid signs the exact bytes it sends, which end with CRLF.
        body = json.dumps(events, separators=(",", ":")).encode() + b"\r\n"
        timestamp = str(int(time.time()))
        signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return SignedRequest(
            Endpoint.SENDGRID_EVENTS,
            {},
            body,
            _headers(
                "application/json",
                {
                    "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                    "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
                },
            ),
        )

    def _vapi(self, message: Any) -> SignedRequest:
        return SignedRequest(
            Endpoint.VAPI,
            {},
            json.dumps(message).encode(),
            _headers("application/json", {"X-Vapi-Secret": self._secrets.vapi_secret}),
        )


def _headers(content_type: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Content-Type": content_type, "User-Agent": USER_AGENT, **(extra or {})}


def _same_key(one: str, other: str) -> bool:
    try:
        return base64.b64decode(one, validate=True) == base64.b64decode(other, validate=True)
    except (binascii.Error, ValueError):
        return False
