"""Password hashing: bcrypt over base64(sha256(password)).

bcrypt reads at most 72 bytes of its input and stops at a NUL byte; bcrypt 5 even refuses
longer input outright. Hashing the UTF-8 password with SHA-256 first lets every byte of a
long passphrase count, and base64 turns the digest into 44 NUL-free ASCII bytes. The cost
is a configurable number of bcrypt rounds (12 in production), and every hash runs on a
worker thread of a :class:`~mailstore.limiter.CpuLimiter`, so that the event loop keeps
serving while it burns CPU and a burst of logins queues instead of piling up.
"""

from __future__ import annotations

import base64
import functools
import hashlib

import bcrypt

from mailstore.limiter import CpuLimiter

DEFAULT_ROUNDS = 12
# Longer passwords are refused at sign-up and never match at login (no 500, no cut).
MAX_PASSWORD = 1024


def _prehash(password: str) -> bytes:
    # surrogatepass: a JSON "\ud800" is a password like any other (it is hashed, never
    # stored), not a UnicodeEncodeError; every other string encodes as plain UTF-8.
    return base64.b64encode(hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest())


def hash_password(password: str, *, rounds: int = DEFAULT_ROUNDS) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def check_password(password: str, password_hash: str) -> bool:
    return bcrypt.checkpw(_prehash(password), password_hash.encode("ascii"))


class PasswordHasher:
    """Hashes and verifies off the event loop, in constant time for unknown accounts.

    Raises :class:`~mailstore.errors.Overloaded` when the limiter's queue is full.
    """

    def __init__(self, *, limiter: CpuLimiter, rounds: int = DEFAULT_ROUNDS) -> None:
        self.rounds = rounds
        self._limiter = limiter
        # Verified against when the account does not exist, so that "no such account"
        # costs one bcrypt like "wrong password" does and timing reveals nothing.
        self._dummy_hash = hash_password("not a password", rounds=rounds)

    async def hash(self, password: str) -> str:
        return await self._limiter.run(
            functools.partial(hash_password, password, rounds=self.rounds)
        )

    async def verify(self, password: str, password_hash: str | None) -> bool:
        # An unknown account checks against the dummy hash: the same one bcrypt.
        # (check_password is looked up at each call, so that tests can count the checks.)
        matches = await self._limiter.run(
            functools.partial(check_password, password, password_hash or self._dummy_hash)
        )
        return matches and password_hash is not None
