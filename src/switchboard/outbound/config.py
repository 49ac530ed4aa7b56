"""What queueing a message needs of this deployment, built at start-up and passed down.

queue_message is called by many use cases (agent replies, tools, one-time codes); what it
needs of the settings (sandbox or live, our sender addresses, the sealing key) and the job
queue it defers on travel with it as an `Outbound`, opened by create_app's start-up (and by
whoever else queues messages) from the settings. There is no process-wide default: a caller
without an `Outbound` cannot queue, rather than queue for the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from procrastinate import App, PsycopgConnector

from switchboard.identities.normalize import normalize_email, normalize_phone
from switchboard.outbound.models import OutboundConfig
from switchboard.outbound.queue import outbound_queue
from switchboard.sealing import OUTBOUND_MESSAGE, derive_seal_key
from switchboard.settings import OutboundMode, Settings


@dataclass(frozen=True)
class Outbound:
    """The deployment's outbound configuration and the job queue a send is deferred on."""

    config: OutboundConfig
    queue: App


def config_from(settings: Settings) -> OutboundConfig:
    number = settings.twilio_from_number.strip()
    return OutboundConfig(
        mode_is_sandbox=settings.outbound_mode is OutboundMode.SANDBOX,
        sms_from=(normalize_phone(number, settings.default_phone_region) or number) or None,
        messaging_service_sid=settings.twilio_messaging_service_sid.strip() or None,
        email_from=normalize_email(settings.sendgrid_from_email) or None,
        seal_key=derive_seal_key(settings.switchboard_secret_key, purpose=OUTBOUND_MESSAGE),
    )


@contextmanager
def outbound_for(settings: Settings) -> Iterator[Outbound]:
    """The Outbound of these settings, usable until the block ends. Its App never connects:
    a send is deferred on the caller's connection, in the caller's transaction."""
    with outbound_queue(PsycopgConnector()) as queue:
        yield Outbound(config_from(settings), queue)
