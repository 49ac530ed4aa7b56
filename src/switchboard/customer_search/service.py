"""Search: a customer or a case by an exact key. Exact only: a phone number as E.164, an email
address lower-cased, a case by its reference (its id); never a fragment, a prefix or a pattern
(the lookups compare with `=`; a key with a wildcard or too short to be whole is refused before
anything is looked up). The customer is shown, contact details masked, only with what the agent
may see of them (their conversations and cases, under row-level security): a customer of
another queue is, to the agent, not found.

Every search is one transaction with one audit record (actor agent, `customer.searched`), which
names the kind of key and keeps the key masked and as a keyed hash (to answer "who looked this
customer up?" without storing what was typed). Each agent may search ALLOWANCE times in a row,
then once every 60/ALLOWANCE seconds (a token bucket in the database: every process counts the
same searches); a search beyond that is refused (429), the first refusal of a run audited.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.audit.models import ActorType, AuditEntry
from switchboard.customer_search import repository
from switchboard.customer_search.models import (
    NOTHING,
    Found,
    FoundContact,
    FoundCustomer,
    KeyKind,
    SearchKey,
)
from switchboard.errors import InvalidInput, SearchRateLimited
from switchboard.identities.normalize import normalize_email, normalize_phone
from switchboard.identities.service import linked_addresses
from switchboard.privacy import mask_address
from switchboard.row_security import AgentClaims, act_as_agent, act_as_service
from switchboard.sealing import derive_seal_key

ALLOWANCE = 30  # searches in a row, and per minute after that
PER_SECOND = ALLOWANCE / 60
# What no whole key contains: LIKE's and globbing's wildcards, and control characters (a NUL
# cannot even be sent to the database).
_WILDCARDS = re.compile(r"[%*?\\\x00-\x1f\x7f]")
MIN_PHONE_DIGITS = 8
MIN_EMAIL = 6
MAX_KEY = 254
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def search_key(*, phone: str | None, email: str | None, case: str | None, region: str) -> SearchKey:
    """The one key given, normalised; InvalidInput for none, several, or one not whole."""
    given = {k: v for k, v in (("phone", phone), ("email", email), ("case", case)) if v}
    if len(given) != 1:
        raise InvalidInput("search by exactly one of phone, email or case")
    kind, raw = next(iter(given.items()))
    raw = raw.strip()
    if len(raw) > MAX_KEY or _WILDCARDS.search(raw):
        raise InvalidInput(
            "search by a whole key: no wildcards or control characters",
            hint="the exact number or address",
        )
    if kind == "phone":
        digits = sum(char.isdigit() for char in raw)
        number = normalize_phone(raw, region) if digits >= MIN_PHONE_DIGITS else None
        if number is None:
            raise InvalidInput("not a whole phone number", hint="e.g. +44 7700 900123")
        return SearchKey(KeyKind.PHONE, number)
    if kind == "email":
        address = normalize_email(raw) if len(raw) >= MIN_EMAIL else None
        if address is None or "." not in address.partition("@")[2]:
            raise InvalidInput("not a whole email address", hint="e.g. name@example.com")
        return SearchKey(KeyKind.EMAIL, address)
    if not _UUID.match(raw.lower()):
        raise InvalidInput("not a case reference", hint="the case's full id, as the case shows it")
    return SearchKey(KeyKind.CASE, raw.lower())


SEARCH_KEY_PURPOSE = b"switchboard customer search key"


def search_secret(secret_key: str) -> bytes | None:
    """The subkey of SWITCHBOARD_SECRET_KEY the audit's key hashes are made with."""
    return derive_seal_key(secret_key, purpose=SEARCH_KEY_PURPOSE)


def key_digest(secret: bytes, key: SearchKey) -> str:
    """What the audit keeps of a key: keyed, so that a phone number (a small space to try) is
    not recoverable from the record by hashing every number."""
    message = f"{key.kind}:{key.value}".encode()
    return "hmac:" + hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def _masked(key: SearchKey) -> str:
    return mask_address(key.value) if key.kind is not KeyKind.CASE else "…" + key.value[-4:]


async def search(
    conn: AsyncConnection[Any], agent: AgentClaims, key: SearchKey, *, secret: bytes
) -> Found:
    """What the agent may see of the customer (or case) the key names exactly."""
    refused_for: float | None = None
    async with conn.transaction():
        allowance = await repository.take_search(
            conn, agent.agent_id, burst=ALLOWANCE, per_second=PER_SECOND
        )
        about = {"kind": str(key.kind), "key": _masked(key), "key_hash": key_digest(secret, key)}
        if allowance.refused:
            refused_for = allowance.retry_after_seconds
            if allowance.refused == 1:  # the first of a run; the count is in the allowance row
                await _audit(conn, agent, "customer.search_refused", about, {}, success=False)
        else:
            found = await _find(conn, agent, key)
            await act_as_service(conn)  # the record is the service's to write, found or not
            await _audit(
                conn, agent, "customer.searched", about,
                {"customers": len(found.customers), "conversations": len(found.conversations),
                 "cases": len(found.cases)},
                success=True,
            )  # fmt: skip
    if refused_for is not None:
        raise SearchRateLimited(
            f"more than {ALLOWANCE} searches a minute", retry_after=max(1, math.ceil(refused_for))
        )
    return found


async def _find(conn: AsyncConnection[Any], agent: AgentClaims, key: SearchKey) -> Found:
    await act_as_agent(conn, agent)
    case_id: UUID | None = None
    if key.kind is KeyKind.CASE:
        case_id = UUID(key.value)
        seen = await repository.customer_of_case(conn, case_id)
        if seen is None:
            return NOTHING
        customers = [seen[0]] if seen[0] is not None else []
    else:
        customers = await repository.customers_with_contact(conn, str(key.kind), key.value)
        if not customers:
            return NOTHING
    conversations = await repository.conversations_of(conn, customers)
    cases = await repository.cases_of(conn, customers, case_id)
    # A customer is shown only with something of theirs the agent may see.
    shown = {c.bank_customer_id for c in conversations} | {c.bank_customer_id for c in cases}
    await act_as_service(conn)
    found = []
    for customer in customers:
        if customer in shown:
            linked = await linked_addresses(conn, customer)
            contacts = [
                FoundContact(str(channel), mask_address(address))
                for channel, addresses in linked.items()
                for address in addresses
            ]
            found.append(FoundCustomer(customer, contacts))
    return Found(found, conversations, cases)


async def _audit(
    conn: AsyncConnection[Any],
    agent: AgentClaims,
    event_type: str,
    input: dict[str, Any],
    output: dict[str, Any],
    *,
    success: bool,
) -> None:
    await audit.append(
        conn,
        AuditEntry(
            actor_type=ActorType.AGENT,
            actor_id=str(agent.agent_id),
            event_type=event_type,
            success=success,
            input=input,
            output=output,
            error_code=None if success else SearchRateLimited.code,
        ),
    )
