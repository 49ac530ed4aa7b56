"""identify_caller, start_verification, check_verification: who is calling, and proving it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from switchboard.auth_sessions import service as auth_sessions
from switchboard.errors import InvalidInput
from switchboard.identities.service import IdentityChannel, linked_addresses
from switchboard.privacy import mask_email, mask_phone
from switchboard.tools.arguments import CheckVerification, NoArguments, StartVerification
from switchboard.tools.context import ToolRun
from switchboard.tools.models import VERIFIED, Outcome

_CODE_CHANNELS = {"sms": IdentityChannel.PHONE, "email": IdentityChannel.EMAIL}


async def identify_caller(run: ToolRun, _: NoArguments) -> Outcome:
    """Only whether the caller is recognised and how they can be verified: never a name or an
    account detail, which a level-1 caller (whose number may be spoofed) must not hear."""
    customer_id = run.caller.bank_customer_id
    if customer_id is None:
        return Outcome(
            {
                "recognised": False,
                "assurance_level": run.caller.level,
                "next_step": "the calling number is not linked to a customer; offer "
                "transfer_to_human so a person can identify them",
            }
        )
    linked = await linked_addresses(run.conn, customer_id)
    phones = _calling_number_first(run, linked[IdentityChannel.PHONE])
    emails = linked[IdentityChannel.EMAIL]
    options = [{"channel": "sms", "destination": mask_phone(phone)} for phone in phones[:1]]
    options += [{"channel": "email", "destination": mask_email(email)} for email in emails[:1]]
    result = {
        "recognised": True,
        "assurance_level": run.caller.level,
        "verified": run.caller.level >= VERIFIED,
        "verification_options": options,
    }
    return Outcome(result)


async def start_verification(run: ToolRun, args: StartVerification) -> Outcome:
    customer_id = run.customer()
    destinations = await _destinations(run, customer_id, args.channel)
    if not destinations:
        raise InvalidInput(
            f"the customer has no {args.channel} destination on file",
            hint="use a channel identify_caller listed",
        )
    started = await auth_sessions.start_verification(
        run.conn,
        run.actor,
        conversation_id=run.caller.conversation_id,
        bank_customer_id=customer_id,
        channel=args.channel,
        destination=destinations[0],
        method=run.services.settings.otp_method,
        sender=run.services.send_code,
        verify=run.services.verify,
        config=run.services.otp_config(),
        now=run.services.now(),
    )
    return Outcome(
        {
            "code_sent": True,
            "channel": args.channel,
            "destination": started.destination,
            "expires_at": started.expires_at.isoformat(timespec="seconds"),
            "next_step": "ask the caller to read out the code, then call check_verification",
        }
    )


async def check_verification(run: ToolRun, args: CheckVerification) -> Outcome:
    customer_id = run.customer()
    checked = await auth_sessions.check_verification(
        run.conn,
        run.actor,
        conversation_id=run.caller.conversation_id,
        code=args.code,
        verify=run.services.verify,
        config=run.services.otp_config(),
        now=run.services.now(),
    )
    level = await auth_sessions.assurance(
        run.conn,
        conversation_id=run.caller.conversation_id,
        bank_customer_id=customer_id,
        now=run.services.now(),
        email_otp_level_2=run.services.settings.email_otp_level_2,
    )
    result: dict[str, Any] = {
        "verified": checked.verified,
        "assurance_level": level.level,
        "attempts_left": checked.attempts_left,
    }
    if not checked.verified:
        result["reason"] = checked.reason
    return Outcome(
        result,
        success=checked.verified,
        error_code=None if checked.verified else checked.reason,
    )


async def _destinations(run: ToolRun, customer_id: UUID, channel: str) -> list[str]:
    """Where a code may go on this channel: the customer's linked addresses, the number they
    are calling from first. Never an address the assistant names."""
    addresses = (await linked_addresses(run.conn, customer_id))[_CODE_CHANNELS[channel]]
    return _calling_number_first(run, addresses) if channel == "sms" else addresses


def _calling_number_first(run: ToolRun, phones: list[str]) -> list[str]:
    caller = run.context.caller
    return [caller, *(p for p in phones if p != caller)] if caller in phones else phones
