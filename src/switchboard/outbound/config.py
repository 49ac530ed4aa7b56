"""The outbound configuration of this process, installed once at start-up from the settings.

queue_message is called by many use cases (agent replies, tools, one-time codes) with a
connection and nothing else; what it needs of the settings — sandbox or live, our sender
addresses, the sealing key — is installed here by create_app and by the worker. Every
process of a deployment installs it from the same settings, so none sees anything another
would not. Until it is installed: the sandbox, no sender addresses, no sealing key.
"""

from __future__ import annotations

from switchboard.identities.normalize import normalize_email, normalize_phone
from switchboard.outbound.models import OutboundConfig
from switchboard.outbound.sealing import derive_seal_key
from switchboard.settings import OutboundMode, Settings

_installed: OutboundConfig | None = None


def config_from(settings: Settings) -> OutboundConfig:
    number = settings.twilio_from_number.strip()
    return OutboundConfig(
        mode_is_sandbox=settings.outbound_mode is OutboundMode.SANDBOX,
        sms_from=(normalize_phone(number, settings.default_phone_region) or number) or None,
        messaging_service_sid=settings.twilio_messaging_service_sid.strip() or None,
        email_from=normalize_email(settings.sendgrid_from_email) or None,
        seal_key=derive_seal_key(settings.switchboard_secret_key),
    )


def install(settings: Settings) -> OutboundConfig:
    global _installed  # noqa: PLW0603 - the one process-wide value, see the module docstring
    _installed = config_from(settings)
    return _installed


def current() -> OutboundConfig:
    return _installed or OutboundConfig()
