"""The shapes the providers post, field for field (see PROVIDERS.md), before signing."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formataddr
from enum import StrEnum
from typing import Any

# Ofcom's range reserved for drama and example domains: nothing here can reach a person.
OUR_NUMBER = "+447700900999"
SUPPORT_EMAIL = "help@contact.example.com"


class Endpoint(StrEnum):
    TWILIO_MESSAGES = "/webhooks/twilio/messages"
    TWILIO_STATUS = "/webhooks/twilio/status"
    SENDGRID_INBOUND = "/webhooks/sendgrid/inbound"
    SENDGRID_EVENTS = "/webhooks/sendgrid/events"
    VAPI = "/webhooks/vapi"


@dataclass(frozen=True)
class Delivery:
    """One POST as the provider makes it, before signing. A retry repeats the same object."""

    endpoint: Endpoint
    key: str  # unique per delivery: a script that holds a key twice sends a duplicate
    fields: Mapping[str, str] | None = None  # a form (Twilio) or multipart fields (SendGrid)
    payload: Any = None  # a JSON body (SendGrid events, Vapi)
    late: bool = False  # a status report sent after one that follows it
    query: Mapping[str, str] | None = None  # in the URL the provider calls (and signs)
    # A tool call that carries the one-time code last sent to this address, read from the
    # sandbox's handsets when it is sent (CODE stands for it in the payload).
    code_sent_to: str | None = None


CODE = "@CODE@"  # where a tool call's arguments carry the code the caller reads out


def sms_fields(
    *,
    sid: str,
    from_number: str,
    to_number: str,
    body: str,
    account_sid: str,
    service_sid: str,
) -> dict[str, str]:
    """The form Twilio posts for an inbound SMS."""
    return {
        "ToCountry": "GB",
        "ToState": "",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "GB",
        "To": to_number,
        "MessagingServiceSid": service_sid,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_number,
        "ApiVersion": "2010-04-01",
    }


TWILIO_ERRORS = {"30003": "Unreachable destination handset", "30008": "Unknown error"}


def twilio_status_fields(
    *,
    sid: str,
    status: str,
    error_code: str | None,
    to_number: str,
    account_sid: str,
    service_sid: str,
    from_number: str = OUR_NUMBER,
) -> dict[str, str]:
    """The form of a Twilio status callback about an outbound message."""
    fields = {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": account_sid,
        "MessagingServiceSid": service_sid,
        "From": from_number,
        "To": to_number,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        fields |= {"ErrorCode": error_code, "ErrorMessage": TWILIO_ERRORS[error_code]}
    return fields


def inbound_email_fields(
    *,
    name: str,
    address: str,
    subject: str,
    text: str,
    message_id: str,
    earlier_ids: list[str],
    sender_ip: str,
) -> dict[str, str]:
    """The fields Inbound Parse posts in parsed mode; the threading headers travel in
    `headers`, the raw header block, as the sender's mail client wrote them."""
    sender = formataddr((name, address))  # RFC 2047-encodes a non-ASCII name, as mail does
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    header_lines = [
        f"Received: from mail.example.net ({sender_ip}) by mx.sendgrid.net with ESMTPS",
        f"Message-ID: {message_id}",
        f"Date: {date}",
        f"From: {sender}",
        f"To: {SUPPORT_EMAIL}",
        f"Subject: {subject}",
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="UTF-8"',
    ]
    if earlier_ids:
        header_lines.insert(2, f"In-Reply-To: {earlier_ids[-1]}")
        header_lines.insert(3, f"References: {' '.join(earlier_ids)}")
    return {
        "headers": "\n".join(header_lines) + "\n",
        "dkim": f"{{@{address.rsplit('@', 1)[-1]} : pass}}",
        "to": SUPPORT_EMAIL,
        "from": sender,
        "text": text,
        "sender_ip": sender_ip,
        "envelope": json.dumps({"to": [SUPPORT_EMAIL], "from": address}),
        "attachments": "0",
        "subject": subject,
        "charsets": json.dumps(dict.fromkeys(("to", "from", "subject", "text"), "UTF-8")),
        "SPF": "pass",
    }


def sendgrid_event(
    kind: str, *, email: str, at: int, sg_event_id: str, sg_message_id: str, smtp_id: str
) -> dict[str, Any]:
    """One Event Webhook event; a post carries a JSON array of them."""
    event: dict[str, Any] = {
        "email": email,
        "timestamp": at,
        "event": kind,
        "sg_event_id": sg_event_id,
        "sg_message_id": sg_message_id,
        "smtp-id": smtp_id,
        "category": ["support"],
    }
    if kind == "delivered":
        event |= {"response": "250 2.0.0 OK", "ip": "168.245.10.20", "tls": 1}
    elif kind == "deferred":
        event |= {"response": "451 4.7.1 Try again later", "attempt": "1"}
    elif kind == "bounce":
        event |= {
            "reason": "550 5.1.1 The email account that you tried to reach does not exist",
            "status": "5.1.1",
            "type": "bounce",
            "bounce_classification": "Invalid Address",
        }
    elif kind in {"open", "click"}:
        event |= {"useragent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)", "ip": "192.0.2.7"}
        if kind == "click":
            event["url"] = "https://bank.example.com/help/cards"
    return event


@dataclass(frozen=True)
class VoiceCall:
    """The server messages Vapi posts about one inbound phone call."""

    call_id: str
    caller: str
    twilio_call_sid: str
    org_id: str
    assistant_id: str
    phone_number_id: str
    started: float  # unix seconds

    def delivery(self, event: str, message: dict[str, Any]) -> Delivery:
        return Delivery(Endpoint.VAPI, f"{self.call_id}:{event}", payload={"message": message})

    def status_update(
        self, status: str, turns_before: int, ended_reason: str | None = None
    ) -> dict[str, Any]:
        message = self._envelope("status-update", status=status, at=self._at(turns_before))
        message["status"] = status
        if ended_reason:
            message["endedReason"] = ended_reason
            message["call"]["endedReason"] = ended_reason
        return message

    def tool_calls(self, turn: int, calls: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
        """The assistant calling tools (id, name, arguments each), in the OpenAI function-call
        shape Vapi posts."""
        message = self._envelope("tool-calls", at=self._at(turn) + 2)
        listed: list[dict[str, Any]] = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for call_id, name, arguments in calls
        ]
        message["toolCallList"] = listed
        message["toolWithToolCallList"] = [
            {"type": "function", "function": {"name": name}, "toolCall": call}
            for call, (_, name, _) in zip(listed, calls, strict=True)
        ]
        message["assistant"] = {"id": self.assistant_id, "name": "Card services"}
        return message

    def transcript(self, turn: int, role: str, text: str) -> dict[str, Any]:
        message = self._envelope("transcript", at=self._at(turn) + 3)
        message |= {"role": role, "transcriptType": "final", "transcript": text}
        return message

    def end_of_call_report(
        self, turns: tuple[str, ...], summary: str, ended_reason: str
    ) -> dict[str, Any]:
        ended = self._at(len(turns)) + 2
        message = self._envelope("end-of-call-report", status="ended", at=ended + 5)
        message["call"]["endedReason"] = ended_reason
        lines, messages = [], []
        for turn, text in enumerate(turns):
            role = "bot" if turn % 2 == 0 else "user"
            lines.append(f"{'AI' if role == 'bot' else 'User'}: {text}")
            messages.append(
                {
                    "role": role,
                    "message": text,
                    "time": int(self._at(turn) * 1000),
                    "secondsFromStart": 4 * turn,
                }
            )
        recording = f"https://storage.vapi.ai/{self.call_id}-{int(ended * 1000)}-mono.wav"
        cost = round(0.011 * (ended - self.started), 4)
        message |= {
            "endedReason": ended_reason,
            "startedAt": _iso(self.started),
            "endedAt": _iso(ended),
            "durationSeconds": round(ended - self.started, 1),
            "cost": cost,
            "costs": [
                {"type": "transport", "provider": "twilio", "cost": round(cost * 0.2, 4)},
                {"type": "model", "model": {"provider": "openai"}, "cost": round(cost * 0.5, 4)},
                {"type": "vapi", "subType": "normal", "cost": round(cost * 0.3, 4)},
            ],
            "artifact": {
                "transcript": "\n".join(lines) + "\n",
                "messages": messages,
                "recordingUrl": recording,
                "stereoRecordingUrl": recording.replace("-mono", "-stereo"),
            },
            "analysis": {"summary": summary, "successEvaluation": "true"},
        }
        return message

    def _at(self, turn: int) -> float:
        """When a turn starts: the simulated calls speak a turn every four seconds."""
        return self.started + 4 * turn

    def _envelope(
        self, kind: str, *, status: str = "in-progress", at: float | None = None
    ) -> dict[str, Any]:
        return {
            "type": kind,
            "timestamp": int((at if at is not None else self.started) * 1000),
            "call": {
                "id": self.call_id,
                "orgId": self.org_id,
                "type": "inboundPhoneCall",
                "status": status,
                "createdAt": _iso(self.started - 1),
                "startedAt": _iso(self.started),
                "assistantId": self.assistant_id,
                "phoneNumberId": self.phone_number_id,
                "phoneCallProvider": "twilio",
                "phoneCallProviderId": self.twilio_call_sid,
                "phoneCallTransport": "pstn",
                "customer": {"number": self.caller},
            },
            "customer": {"number": self.caller},
            "phoneNumber": {"id": self.phone_number_id, "number": OUR_NUMBER},
        }


def _iso(seconds: float) -> str:
    milliseconds = int(seconds % 1 * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{milliseconds:03d}Z"
