"""Recognising a sender: an exact match of the normalised address, nothing fuzzier."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.identities import repository


class IdentityChannel(StrEnum):
    PHONE = "phone"  # SMS and voice share the number
    EMAIL = "email"
    WHATSAPP = "whatsapp"


async def resolve_customer(
    conn: AsyncConnection[Any], channel: IdentityChannel, address: str | None
) -> UUID | None:
    """The customer this normalised address is linked to, or None (an unverified sender)."""
    if not address:
        return None
    return await repository.find_customer_by_address(conn, str(channel), address)


async def linked_addresses(
    conn: AsyncConnection[Any], bank_customer_id: UUID
) -> dict[IdentityChannel, list[str]]:
    """The customer's addresses by channel, oldest link first: where a code may be sent."""
    linked: dict[IdentityChannel, list[str]] = {channel: [] for channel in IdentityChannel}
    for channel, address in await repository.list_addresses(conn, bank_customer_id):
        linked[IdentityChannel(channel)].append(address)
    return linked
