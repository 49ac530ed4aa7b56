"""Agents' passwords: argon2id with argon2-cffi's default parameters (RFC 9106's low-memory
profile), checked in a thread so the event loop keeps serving, a few at a time.

Each check takes tens of megabytes and a core for a noticeable time: the slots bound what a
flood of sign-ins can take, and past a queue of waiting checks a sign-in is answered 503 with
Retry-After at once rather than holding a connection and memory while it waits.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from switchboard.errors import InvalidInput, SignInBusy

MIN_CHARS = 12
MAX_CHARS = 1024
# Checks run at once, and how many may wait for a slot beyond them.
SLOTS = 2
WAITING = 16

T = TypeVar("T")


def check_new_password(password: str) -> None:
    if len(password) < MIN_CHARS:
        raise InvalidInput(
            f"the password is shorter than {MIN_CHARS} characters",
            hint="a few unrelated words make a long password that is easy to remember",
        )
    if len(password) > MAX_CHARS:
        raise InvalidInput(f"the password is longer than {MAX_CHARS} characters")


class PasswordChecker:
    def __init__(
        self, hasher: PasswordHasher | None = None, *, slots: int = SLOTS, waiting: int = WAITING
    ) -> None:
        self._hasher = hasher or PasswordHasher()
        self._slots = asyncio.Semaphore(slots)
        self._limit = slots + waiting
        self._in_flight = 0
        # An unknown email is checked against this, so that it costs what a known one does
        # (made now: made at the first unknown email, that one would cost twice as much).
        self._dummy = self._hasher.hash(secrets.token_urlsafe(32))

    async def _in_thread(self, work: Callable[[], T]) -> T:
        if self._in_flight >= self._limit:
            raise SignInBusy(
                "too many sign-ins are being checked at once",
                hint="try again in a second",
            )
        self._in_flight += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(work)
        finally:
            self._in_flight -= 1

    async def hash(self, password: str) -> str:
        return await self._in_thread(lambda: self._hasher.hash(password))

    async def verify(self, stored: str | None, password: str) -> tuple[bool, str | None]:
        """Whether `password` matches `stored` (None: an unknown agent, which never matches
        but takes as long), and the new hash to store when the parameters changed."""
        return await self._in_thread(lambda: self._verify(stored, password))

    def _verify(self, stored: str | None, password: str) -> tuple[bool, str | None]:
        if stored is None:
            self._matches(self._dummy, password)
            return False, None
        if not self._matches(stored, password):
            return False, None
        if self._hasher.check_needs_rehash(stored):
            return True, self._hasher.hash(password)
        return True, None

    def _matches(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
