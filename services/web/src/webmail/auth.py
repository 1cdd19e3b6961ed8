"""Registration and login rules, and the rate limits around them.

Passwords are hashed by the mail store (bcrypt, off its event loop); this module
decides what may be registered and who may try to log in how often. Login
failures look the same whether or not the account exists: one message, and the
mail store's verify burns one bcrypt either way.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from functools import cache
from importlib import resources

from webmail.errors import BadCredentials, InvalidFields, RateLimited
from webmail.mailstore_client import Account, MailstoreClient

# RFC 5321 §4.1.2 Dot-string (the mail store accepts the same for new accounts).
_LOCAL_PART = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
MAX_LOCAL_PART = 64  # RFC 5321 §4.5.3.1.1
MAX_NAME = 200
MIN_PASSWORD = 10
# The mail store's limit; it pre-hashes, so bcrypt's 72-byte cut never applies.
MAX_PASSWORD = 1024

# (limit, window seconds) per throttle key. Per IP bounds one client guessing many
# accounts; per account bounds many clients guessing one (a botnet).
LOGIN_PER_IP = (20, 15 * 60)
LOGIN_PER_ACCOUNT = (10, 15 * 60)
REGISTER_PER_IP = (10, 60 * 60)
TOKEN_PER_IP = LOGIN_PER_IP
PASSWORD = "password"  # noqa: S105 - the form field's name


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("webmail").joinpath("data/common-passwords.txt").read_text("utf-8")
    lines = (line.strip().lower() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def full_address(raw: str, domains: tuple[str, ...]) -> str:
    """``raw`` lower-cased, with the first local domain added to a bare local part."""
    address = raw.strip().lower()
    return address if "@" in address else f"{address}@{domains[0]}"


def address_problem(address: str, domains: tuple[str, ...]) -> str | None:
    local, _, domain = address.rpartition("@")
    if not local or not _LOCAL_PART.fullmatch(local) or len(local) > MAX_LOCAL_PART:
        return "Use letters, digits and . - _ + (no spaces), up to 64 characters."
    if domain not in domains:
        return f"The address must end in @{' or @'.join(domains)}."
    return None


def check_registration(
    *, name: str, address: str, password: str, domains: tuple[str, ...]
) -> tuple[str, str, str]:
    """(name, address, password) normalised, or InvalidFields naming every problem."""
    fields: dict[str, str] = {}
    name = name.strip()
    address = full_address(address, domains)
    if not name:
        fields["name"] = "Tell us your name."
    elif len(name) > MAX_NAME or any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        fields["name"] = f"At most {MAX_NAME} characters, no control characters."
    if problem := address_problem(address, domains):
        fields["address"] = problem
    if len(password) < MIN_PASSWORD:
        fields[PASSWORD] = f"Use at least {MIN_PASSWORD} characters."
    elif len(password) > MAX_PASSWORD:
        fields[PASSWORD] = f"Use at most {MAX_PASSWORD} characters."
    elif password.lower() in (address, address.partition("@")[0]):
        fields[PASSWORD] = "The password may not be your address."
    elif password.lower() in common_passwords():
        fields[PASSWORD] = "This password is too common; choose another."
    if fields:
        raise InvalidFields(fields)
    return name, address, password


async def throttle(mailstore: MailstoreClient, *limits: tuple[str, tuple[int, int]]) -> None:
    """Count one attempt under every key; RateLimited when any is over its limit."""
    results = await asyncio.gather(
        *(mailstore.throttle(key, limit=limit, window=window) for key, (limit, window) in limits)
    )
    refused = [r.retry_after for r in results if not r.allowed]
    if refused:
        raise RateLimited(max(1, max(refused)))


async def register(
    mailstore: MailstoreClient,
    *,
    ip: str,
    name: str,
    address: str,
    password: str,
    domains: tuple[str, ...],
) -> Account:
    name, address, password = check_registration(
        name=name, address=address, password=password, domains=domains
    )
    await throttle(mailstore, (f"register:ip:{ip}", REGISTER_PER_IP))
    return await mailstore.create_account(address=address, name=name, password=password)


async def login(
    mailstore: MailstoreClient, *, ip: str, address: str, password: str, domains: tuple[str, ...]
) -> Account:
    """The account for these credentials; BadCredentials or RateLimited otherwise."""
    address = full_address(address, domains)
    account_key = f"login:account:{address}"
    # The account key counts whether or not the account exists: its limit must not
    # reveal existence either.
    await throttle(mailstore, (f"login:ip:{ip}", LOGIN_PER_IP), (account_key, LOGIN_PER_ACCOUNT))
    if not password or len(password) > MAX_PASSWORD:
        # Still ask the mail store, so that the answer takes as long as a real check;
        # "-" is shorter than any password an account can have, so it never matches.
        password = "-"  # noqa: S105 - see above
    account = await mailstore.verify(address=address, password=password)
    if account is None:
        raise BadCredentials()
    await mailstore.forget_throttle(account_key)
    return account
