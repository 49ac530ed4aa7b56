"""What the providers would post: conversations written as ordered lists of deliveries.

Each script is one conversation as the providers deliver it (an SMS exchange, an email thread,
a voice call, the status reports of one outbound message); the runner sends a script's
deliveries in order and many scripts side by side. Some scenarios end with a person: a text
about a lost card (the cards queue), an email dispute (disputes), a fraud call the assistant
verifies with a one-time code and transfers (fraud). Status reports are about messages the
service really sent (the sandbox's handsets), in the order the provider reports them. About 5%
of deliveries are sent a second time, byte for byte, as a provider's retry would be, and some
status reports arrive after a later one. Everything is drawn from one seeded random
generator, so a seed repeats a run's conversations.
"""

from __future__ import annotations

import random
import string
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum

from switchboard.demo import CUSTOMERS
from switchboard.outbound.handsets import Delivered
from switchboard.simulate.payloads import (
    CODE,
    OUR_NUMBER,
    Delivery,
    Endpoint,
    VoiceCall,
    inbound_email_fields,
    sendgrid_event,
    sms_fields,
    twilio_status_fields,
)
from switchboard.simulate.phrases import (
    CALLS,
    DISPUTE_EMAILS,
    EMAIL_THREADS,
    FRAUD_CALLS,
    LOST_CARD_TEXTS,
    SMS_TOPICS,
    UNKNOWN_NAMES,
)

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


class Scenario(StrEnum):
    """What `switchboard simulate --scenario` sends: everything mixed, or one story."""

    ALL = "all"
    LOST_CARD = "lost-card"
    DISPUTE = "dispute"
    FRAUD_CALL = "fraud-call"


class Traffic:
    """An endless, seeded supply of scripts in a realistic mix (or of one scenario's)."""

    def __init__(
        self,
        rng: random.Random,
        *,
        scenario: Scenario = Scenario.ALL,
        sendgrid_events: bool = True,
        duplicate_share: float = 0.05,
    ) -> None:
        self._rng = rng
        self._duplicate_share = duplicate_share
        self._sendgrid_events = sendgrid_events
        self._account_sid = "AC" + self._hex(32)
        self._service_sid = "MG" + self._hex(32)
        self._org_id = self._uuid()
        self._assistant_id = self._uuid()
        self._phone_number_id = self._uuid()
        mixed: list[tuple[Callable[[], Script], float]] = [
            (self.sms_conversation, 0.35),
            (self.email_thread, 0.2),
            (self.voice_call, 0.15),
            (self.lost_card_texts, 0.12),
            (self.dispute_email, 0.12),
            (self.fraud_call, 0.06),
        ]
        one = {
            Scenario.LOST_CARD: self.lost_card_texts,
            Scenario.DISPUTE: self.dispute_email,
            Scenario.FRAUD_CALL: self.fraud_call,
        }
        kinds = mixed if scenario is Scenario.ALL else [(one[scenario], 1.0)]
        self._kinds = [kind for kind, _ in kinds]
        self._weights = [weight for _, weight in kinds]

    def next_script(self) -> Script:
        (kind,) = self._rng.choices(self._kinds, self._weights)
        return self._with_retries(kind())

    def status_reports(self, sent: Delivered) -> Script:
        """What the provider reports about a message the service sent (none for an email
        where SendGrid's events cannot be signed here)."""
        if sent.channel == "email":
            return self._with_retries(self.sendgrid_events(sent)) if self._sendgrid_events else []
        return self._with_retries(self.twilio_statuses(sent))

    def lost_card_texts(self) -> Script:
        """A customer texts about a lost or stolen card: queued for the cards team."""
        return self._texts(self._phone(), self._rng.choice(LOST_CARD_TEXTS))

    def dispute_email(self) -> Script:
        """A customer disputes a payment by email: queued for the disputes team."""
        return self._emails(self._email_sender(), self._rng.choice(DISPUTE_EMAILS))

    def fraud_call(self) -> Script:
        """A customer of the bank calls about payments they did not make. The assistant
        identifies them by their number, sends a one-time code to the phone on file, checks
        the code the caller reads out, and transfers the call to the fraud team."""
        summary, written = self._rng.choice(FRAUD_CALLS)
        by_email = "email" in written[1]
        turns = tuple(turn.format(code=CODE) for turn in written)
        # A code goes only to an address on file: the caller is one of the bank's customers.
        _, _, email, phone, _ = self._rng.choice(CUSTOMERS)
        code_to = email if by_email else phone
        call = VoiceCall(
            call_id=self._uuid(),
            caller=phone,
            twilio_call_sid="CA" + self._hex(32),
            org_id=self._org_id,
            assistant_id=self._assistant_id,
            phone_number_id=self._phone_number_id,
            started=time.time(),
        )

        def said(turn: int) -> Delivery:
            role = "assistant" if turn % 2 == 0 else "user"
            delivery = call.delivery(f"turn-{turn}", call.transcript(turn, role, turns[turn]))
            return self._with_code(delivery, code_to) if CODE in turns[turn] else delivery

        def tools(turn: int, *calls: tuple[str, dict[str, object]]) -> Delivery:
            listed = [(f"call_{self._token(24)}", name, dict(args)) for name, args in calls]
            names = "+".join(name for name, _ in calls)
            return call.delivery(f"tools-{turn}-{names}", call.tool_calls(turn, listed))

        script = [call.delivery("in-progress", call.status_update("in-progress", 0))]
        script += [said(0), said(1)]
        channel = "email" if by_email else "sms"
        script.append(
            tools(2, ("identify_caller", {}), ("start_verification", {"channel": channel}))
        )
        script += [said(2), said(3), said(4), said(5)]
        script.append(self._with_code(tools(5, ("check_verification", {"code": CODE})), code_to))
        script.append(
            tools(
                6,
                (
                    "transfer_to_human",
                    {"queue": "fraud", "reason": "caller reports payments they did not make"},
                ),
            )
        )
        script.append(said(6))
        ended_reason = "assistant-forwarded-call"
        script.append(call.delivery("ended", call.status_update("ended", len(turns), ended_reason)))
        report = call.end_of_call_report(turns, summary, ended_reason)
        script.append(self._with_code(call.delivery("report", report), code_to))
        return script

    def _with_code(self, delivery: Delivery, address: str) -> Delivery:
        return replace(delivery, code_sent_to=address)

    def sms_conversation(self) -> Script:
        topic = self._rng.choice(SMS_TOPICS)
        return self._texts(self._phone(), topic[: self._rng.randint(2, len(topic))])

    def _texts(self, phone: str, bodies: tuple[str, ...]) -> Script:
        whatsapp = self._rng.random() < _WHATSAPP_SHARE
        script = []
        for body in bodies:
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
        subject, *bodies = self._rng.choice(EMAIL_THREADS)
        thread = (subject, *bodies[: self._rng.randint(2, len(bodies))])
        return self._emails(self._email_sender(), thread)

    def _emails(self, sender: tuple[str, str], thread: tuple[str, ...]) -> Script:
        name, address = sender
        subject, *bodies = thread
        sent: list[str] = []
        script = []
        for body in bodies:
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

    def twilio_statuses(self, sent: Delivered) -> Script:
        """Twilio's status callbacks of a text the service sent: to the StatusCallback URL
        the service gives, which names our message (so an early report finds it)."""
        whatsapp = sent.channel == "whatsapp"
        prefix = "whatsapp:" if whatsapp else ""
        outcomes = _TWILIO_STATUSES if whatsapp else _TWILIO_STATUSES[:1] + _TWILIO_STATUSES[2:]
        script = []
        for status, error_code in self._rng.choice(outcomes):
            fields = twilio_status_fields(
                sid=sent.provider_message_id,
                status=status,
                error_code=error_code,
                to_number=prefix + sent.to_address.removeprefix("whatsapp:"),
                account_sid=self._account_sid,
                service_sid=self._service_sid,
                from_number=prefix + (sent.from_address or OUR_NUMBER).removeprefix("whatsapp:"),
            )
            script.append(
                Delivery(
                    Endpoint.TWILIO_STATUS,
                    f"{sent.provider_message_id}:{status}",
                    fields=fields,
                    query={"message_id": sent.message_id},
                )
            )
        return self._maybe_late(script)

    def sendgrid_events(self, sent: Delivered) -> Script:
        """SendGrid's events about an email the service sent: sg_message_id starts with the
        id the send was given, and the custom argument names our message."""
        x_message_id = sent.provider_message_id
        at = int(time.time())
        events = [
            sendgrid_event(
                kind,
                email=sent.to_address,
                at=at + 7 * n,
                sg_event_id=self._token(48),
                sg_message_id=f"{x_message_id}.filterdrecv-7bf5c69d5-{self._hex(5)}-1-0.0",
                smtp_id=f"<{x_message_id}@ismtpd0{at % 1000:03d}p1lon1.sendgrid.net>",
            )
            | {"switchboard_message_id": sent.message_id}
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
        late = replace(before, late=True)
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
