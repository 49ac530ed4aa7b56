"""What the providers would post: conversations written as ordered lists of deliveries.

Each script is one conversation as the providers deliver it (an SMS exchange, an email thread,
a voice call, the status reports of one outbound message); the runner sends a script's
deliveries in order and many scripts side by side. About 5% of deliveries are sent a second
time, byte for byte, as a provider's retry would be, and some status reports arrive after a
later one. Everything is drawn from one seeded random generator, so a seed repeats a run.
"""

from __future__ import annotations

import random
import string
import time
import uuid
from collections.abc import Callable

from switchboard.demo import CUSTOMERS
from switchboard.simulate.payloads import (
    OUR_NUMBER,
    Delivery,
    Endpoint,
    VoiceCall,
    inbound_email_fields,
    sendgrid_event,
    sms_fields,
    twilio_status_fields,
)
from switchboard.simulate.phrases import CALLS, EMAIL_THREADS, SMS_TOPICS, UNKNOWN_NAMES

Script = list[Delivery]

CUSTOMER_PHONES = tuple(customer[3] for customer in CUSTOMERS)
CUSTOMER_EMAILS = tuple((customer[1], customer[2]) for customer in CUSTOMERS)
_ENDED_REASONS = ("customer-ended-call", "assistant-ended-call", "assistant-forwarded-call")
# Twilio status callbacks of one outbound message, in the order Twilio produces them.
_TWILIO_STATUSES: tuple[tuple[tuple[str, str | None], ...], ...] = (
    (("sent", None), ("delivered", None)),
    (("sent", None), ("delivered", None), ("read", None)),
    (("sent", None), ("undelivered", "30003")),
    (("failed", "30008"),),
)
# SendGrid events of one outbound email, in the order they happen.
_SENDGRID_EVENTS = (
    ("processed", "delivered", "open", "click"),
    ("processed", "deferred", "delivered"),
    ("processed", "delivered"),
    ("processed", "bounce"),
)
_KNOWN_SENDER_SHARE = 0.4  # of conversations, from a demo customer's phone or address
_WHATSAPP_SHARE = 0.15  # of SMS conversations
_LATE_SHARE = 0.3  # of status scripts, one report arrives after the one that follows it


class Traffic:
    """An endless, seeded supply of scripts in a realistic mix."""

    def __init__(
        self, rng: random.Random, *, sendgrid_events: bool = True, duplicate_share: float = 0.05
    ) -> None:
        self._rng = rng
        self._duplicate_share = duplicate_share
        self._account_sid = "AC" + self._hex(32)
        self._service_sid = "MG" + self._hex(32)
        self._org_id = self._uuid()
        self._assistant_id = self._uuid()
        self._phone_number_id = self._uuid()
        kinds: list[tuple[Callable[[], Script], float]] = [
            (self.sms_conversation, 0.35),
            (self.email_thread, 0.2),
            (self.voice_call, 0.15),
            (self.twilio_statuses, 0.15),
        ]
        if sendgrid_events:
            kinds.append((self.sendgrid_events, 0.15))
        self._kinds = [kind for kind, _ in kinds]
        self._weights = [weight for _, weight in kinds]

    def next_script(self) -> Script:
        (kind,) = self._rng.choices(self._kinds, self._weights)
        return self._with_retries(kind())

    def sms_conversation(self) -> Script:
        phone = self._phone()
        whatsapp = self._rng.random() < _WHATSAPP_SHARE
        topic = self._rng.choice(SMS_TOPICS)
        script = []
        for body in topic[: self._rng.randint(2, len(topic))]:
            sid = "SM" + self._hex(32)
            fields = sms_fields(
                sid=sid,
                from_number=phone,
                to_number=OUR_NUMBER,
                body=body.format(card=self._card_number()),
                account_sid=self._account_sid,
                service_sid=self._service_sid,
            )
            if whatsapp:
                fields |= {
                    "From": f"whatsapp:{phone}",
                    "To": f"whatsapp:{OUR_NUMBER}",
                    "WaId": phone.removeprefix("+"),
                    "ProfileName": self._rng.choice(UNKNOWN_NAMES).split()[0],
                    "MessageType": "text",
                }
            script.append(Delivery(Endpoint.TWILIO_MESSAGES, sid, fields=fields))
        return script

    def email_thread(self) -> Script:
        """A customer's email and their follow-ups, each replying to the one before."""
        name, address = self._email_sender()
        subject, *bodies = self._rng.choice(EMAIL_THREADS)
        sent: list[str] = []
        script = []
        for body in bodies[: self._rng.randint(2, len(bodies))]:
            message_id = f"<{self._hex(24)}@mail.example.net>"
            fields = inbound_email_fields(
                name=name,
                address=address,
                subject=f"Re: {subject}" if sent else subject,
                text=body.format(card=self._card_number()) + f"\n\n{name.split()[0]}\n",
                message_id=message_id,
                earlier_ids=sent,
                sender_ip=f"192.0.2.{self._rng.randint(1, 254)}",
            )
            script.append(Delivery(Endpoint.SENDGRID_INBOUND, message_id, fields=fields))
            sent.append(message_id)
        return script

    def voice_call(self) -> Script:
        summary, turns = self._rng.choice(CALLS)
        call = VoiceCall(
            call_id=self._uuid(),
            caller=self._phone(),
            twilio_call_sid="CA" + self._hex(32),
            org_id=self._org_id,
            assistant_id=self._assistant_id,
            phone_number_id=self._phone_number_id,
            started=time.time(),
        )
        ended_reason = self._rng.choice(_ENDED_REASONS)
        script = [call.delivery("in-progress", call.status_update("in-progress", 0))]
        for turn, text in enumerate(turns):
            role = "assistant" if turn % 2 == 0 else "user"
            script.append(call.delivery(f"turn-{turn}", call.transcript(turn, role, text)))
        report = call.delivery("report", call.end_of_call_report(turns, summary, ended_reason))
        ended = call.delivery("ended", call.status_update("ended", len(turns), ended_reason))
        # Vapi posts the report once the recording is processed, usually after "ended".
        script += [report, ended] if self._rng.random() < 0.3 else [ended, report]
        return script

    def twilio_statuses(self) -> Script:
        """Status callbacks of an outbound message the service never sent (none can be sent
        yet), so the service records them as about an unknown message."""
        sid = "SM" + self._hex(32)
        to_number = self._phone()
        script = [
            Delivery(
                Endpoint.TWILIO_STATUS,
                f"{sid}:{status}",
                fields=twilio_status_fields(
                    sid=sid,
                    status=status,
                    error_code=error_code,
                    to_number=to_number,
                    account_sid=self._account_sid,
                    service_sid=self._service_sid,
                ),
            )
            for status, error_code in self._rng.choice(_TWILIO_STATUSES)
        ]
        return self._maybe_late(script)

    def sendgrid_events(self) -> Script:
        _, address = self._email_sender()
        x_message_id = self._token(22)
        at = int(time.time())
        events = [
            sendgrid_event(
                kind,
                email=address,
                at=at + 7 * n,
                sg_event_id=self._token(48),
                sg_message_id=f"{x_message_id}.filterdrecv-7bf5c69d5-{self._hex(5)}-1-0.0",
                smtp_id=f"<{x_message_id}@ismtpd0{at % 1000:03d}p1lon1.sendgrid.net>",
            )
            for n, kind in enumerate(self._rng.choice(_SENDGRID_EVENTS))
        ]
        # SendGrid batches events; a message's events often span two posts.
        split = self._rng.randint(1, len(events))
        batches = [batch for batch in (events[:split], events[split:]) if batch]
        script = [
            Delivery(Endpoint.SENDGRID_EVENTS, batch[0]["sg_event_id"], payload=batch)
            for batch in batches
        ]
        return self._maybe_late(script)

    def _with_retries(self, script: Script) -> Script:
        """Some deliveries again, identical, a little later: what a provider's retry does."""
        retried = list(script)
        for position, delivery in reversed(list(enumerate(script))):
            if self._rng.random() < self._duplicate_share:
                at = min(position + 1 + self._rng.randint(0, 2), len(retried))
                retried.insert(at, delivery)
        return retried

    def _maybe_late(self, script: Script) -> Script:
        if len(script) < 2 or self._rng.random() >= _LATE_SHARE:
            return script
        *first, before, last = script
        late = Delivery(before.endpoint, before.key, before.fields, before.payload, late=True)
        return [*first, last, late]

    def _phone(self) -> str:
        if self._rng.random() < _KNOWN_SENDER_SHARE:
            return self._rng.choice(CUSTOMER_PHONES)
        return f"+447700900{self._rng.randint(100, 989):03d}"

    def _email_sender(self) -> tuple[str, str]:
        if self._rng.random() < _KNOWN_SENDER_SHARE:
            return self._rng.choice(CUSTOMER_EMAILS)
        name = self._rng.choice(UNKNOWN_NAMES)
        local = name.split()[0].lower().encode("ascii", "ignore").decode() or "someone"
        return name, f"{local}{self._rng.randint(1, 999)}@example.net"

    def _card_number(self) -> str:
        """A Luhn-valid 16-digit number, grouped in fours by spaces or dashes."""
        digits = "4" + "".join(self._rng.choice(string.digits) for _ in range(14))
        total = 0
        for position, char in enumerate(reversed(digits)):
            value = int(char) * (2 if position % 2 == 0 else 1)
            total += value - 9 if value > 9 else value
        digits += str(-total % 10)
        separator = self._rng.choice((" ", "-"))
        return separator.join(digits[i : i + 4] for i in range(0, 16, 4))

    def _hex(self, length: int) -> str:
        return f"{self._rng.getrandbits(4 * length):0{length}x}"

    def _token(self, length: int) -> str:
        alphabet = string.ascii_letters + string.digits + "-_"
        return "".join(self._rng.choice(alphabet) for _ in range(length))

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
