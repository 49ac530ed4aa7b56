"""transfer_to_human, set_contact_preferences, send_message: reaching the customer, and a
person reaching them."""

from __future__ import annotations

from switchboard.assignments import service as assignments
from switchboard.errors import InvalidInput
from switchboard.identities.service import IdentityChannel, linked_addresses
from switchboard.outbound import service as outbound
from switchboard.outbound.models import OutboundRequest
from switchboard.preferences import service as preferences
from switchboard.preferences.models import ContactChannel, Purpose
from switchboard.tools.arguments import SendMessage, SetContactPreferences, TransferToHuman
from switchboard.tools.context import ToolRun
from switchboard.tools.models import Outcome

_SEND_CHANNELS = {"sms": IdentityChannel.PHONE, "email": IdentityChannel.EMAIL}


async def transfer_to_human(run: ToolRun, args: TransferToHuman) -> Outcome:
    """Open to every caller: a person is the way forward for anyone the tools cannot help."""
    assignment = await assignments.enqueue_handoff(
        run.conn,
        run.actor,
        queue=args.queue,
        reason=args.reason,
        conversation_id=run.caller.conversation_id,
        bank_customer_id=run.caller.bank_customer_id,
        assurance_level=run.caller.level,
    )
    return Outcome(
        {
            "queued": True,
            "queue": assignment.queue_name,
            "pick_up_by": assignment.sla_due_at.isoformat(timespec="seconds")
            if assignment.sla_due_at
            else None,
            "next_step": "tell the caller a colleague from the team will take over, then "
            "transfer the call",
        },
        audit={"assignment_id": str(assignment.id), "queue": assignment.queue_name},
    )


async def set_contact_preferences(run: ToolRun, args: SetContactPreferences) -> Outcome:
    customer_id = run.require_verified()
    changes = args.model_dump(exclude_none=True)
    if not changes:
        raise InvalidInput(
            "nothing to change", hint="give do_not_contact, allowed_channels or timezone"
        )
    after = await preferences.set_preferences(run.conn, run.actor, customer_id, **changes)
    return Outcome(
        {
            "do_not_contact": after.do_not_contact,
            "allowed_channels": None
            if after.allowed_channels is None
            else sorted(after.allowed_channels),
            "timezone": after.timezone,
        }
    )


async def send_message(run: ToolRun, args: SendMessage) -> Outcome:
    """A service message to the customer's own address on file; the assistant cannot name
    another recipient, nor send marketing or alerts that would bypass the preferences."""
    customer_id = run.require_verified()
    addresses = (await linked_addresses(run.conn, customer_id))[_SEND_CHANNELS[args.channel]]
    if args.channel == "sms" and run.context.caller in addresses:
        addresses = [run.context.caller]
    if not addresses:
        raise InvalidInput(
            f"the customer has no {args.channel} address on file",
            hint="use the other channel, or offer transfer_to_human",
        )
    queued = await outbound.queue_message(
        run.conn,
        run.actor,
        OutboundRequest(
            channel=ContactChannel(args.channel),
            to_address=addresses[0],
            purpose=Purpose.SERVICE,
            body_text=args.text,
            subject=args.subject,
            conversation_id=run.caller.conversation_id,
            bank_customer_id=customer_id,
        ),
        now=run.services.now(),
        outbound=run.services.outbound,
    )
    if not queued.allowed:
        return Outcome(
            {"queued": False, "refused_by": queued.rule, "detail": queued.detail},
            success=False,
            error_code=queued.rule,
        )
    return Outcome({"queued": True, "message_id": str(queued.message_id)})
