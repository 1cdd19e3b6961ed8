"""Registration and login rules, and the rate limits around them.

Passwords are hashed by the mail store (bcrypt over SHA-256, off its event loop);
this module decides what may be registered and who may try to log in how often.
Login failures look the same whether or not the account exists: one message, and
the mail store's verify burns one bcrypt either way.

Login limits (docs/security.md, "Web"): a client may try one account 10 times and
any accounts 20 times in 15 minutes; all clients together may try one account 100
times an hour. That last ceiling would let a botnet lock the owner out, so a browser
that has logged in to the account before (it holds a signed device cookie,
``sessions.DEVICE_COOKIE``) is not held to it, only to its own per-client limits
(OWASP "Slow down online guessing attacks with device cookies").
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
from functools import cache
from importlib import resources

from webmail.controls import INVISIBLE, has_control
from webmail.errors import BadCredentials, InvalidFields, RateLimited
from webmail.mailstore_client import Account, MailstoreClient
from webmail.reserved import is_reserved, normalise

# RFC 5321 §4.1.2 Dot-string (the mail store accepts the same for new accounts).
_LOCAL_PART = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
MAX_LOCAL_PART = 64  # RFC 5321 §4.5.3.1.1
MAX_NAME = 200
MIN_PASSWORD = 10
# The mail store's limit; it pre-hashes, so bcrypt's 72-byte cut never applies.
MAX_PASSWORD = 1024

# (limit, window seconds) per throttle key. Per client bounds one client guessing many
# accounts, per (account, client) one client guessing one; per account bounds every
# client together (a botnet): at most 100 tries an hour, whoever makes them.
LOGIN_PER_IP = (20, 15 * 60)
LOGIN_PER_CLIENT_ACCOUNT = (10, 15 * 60)
LOGIN_PER_ACCOUNT = (100, 60 * 60)
# The mail store takes throttle keys of up to 200 characters; longer or unprintable
# typed addresses are counted under their hash.
MAX_KEY_ADDRESS = 120
# One IPv6 host has a whole /64 to pick source addresses from.
IPV6_CLIENT_PREFIX = 64
REGISTER_PER_IP = (10, 60 * 60)
TOKEN_PER_IP = LOGIN_PER_IP
PASSWORD = "password"  # noqa: S105 - the form field's name


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("webmail").joinpath("data/common-passwords.txt").read_text("utf-8")
    lines = (line.strip().lower() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def full_address(raw: str, domains: tuple[str, ...]) -> str:
    """``raw`` NFKC-normalised and lower-cased, with the first local domain added to a
    bare local part (so fullwidth "alice", U+FF41..., is ``alice@<first domain>``)."""
    address = normalise(raw).strip()
    return address if "@" in address else f"{address}@{domains[0]}"


def address_problem(address: str, domains: tuple[str, ...]) -> str | None:
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        # Cyrillic a (U+0430), Greek o (U+03BF), zero-width spaces: look-alikes of others.
        return "Use only the letters a-z, digits and . - _ + (no look-alike letters)."
    if not local or not _LOCAL_PART.fullmatch(local) or len(local) > MAX_LOCAL_PART:
        return "Use letters, digits and . - _ + (no spaces), up to 64 characters."
    if domain not in domains:
        return f"The address must end in @{' or @'.join(domains)}."
    if is_reserved(local):
        return "This address is reserved for the service; choose another."
    return None


def client_key(ip: str) -> str:
    """The throttle's name for a client: its IPv4 address, or its IPv6 /64."""
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(parsed)


def check_registration(
    *, name: str, address: str, password: str, domains: tuple[str, ...]
) -> tuple[str, str, str]:
    """(name, address, password) normalised, or InvalidFields naming every problem."""
    fields: dict[str, str] = {}
    name = name.strip()
    address = full_address(address, domains)
    if not name:
        fields["name"] = "Tell us your name."
    elif len(name) > MAX_NAME or has_control(name, INVISIBLE):
        # The name goes into every From: a line separator (U+2028) or a lone surrogate
        # there broke sending for good.
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


def _key_part(address: str) -> str:
    """``address`` as part of a throttle key (at most 200 printable characters in all)."""
    if len(address) <= MAX_KEY_ADDRESS and address.isprintable():
        return address
    # Whatever was typed still counts, under a name the mail store accepts.
    return "sha256:" + hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()


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
    await throttle(mailstore, (f"register:ip:{client_key(ip)}", REGISTER_PER_IP))
    return await mailstore.create_account(address=address, name=name, password=password)


async def login(
    mailstore: MailstoreClient,
    *,
    ip: str,
    address: str,
    password: str,
    domains: tuple[str, ...],
    known_device: bool = False,
) -> Account:
    """The account for these credentials; BadCredentials or RateLimited otherwise.

    ``known_device``: the browser logged in to this account before, so the account's
    ceiling (which a botnet can fill) does not apply to it; its per-client limits do.
    """
    address = full_address(address, domains)
    client, named = client_key(ip), _key_part(address)
    pair_key = f"login:account-client:{named}:{client}"
    # Keys count whether or not the account exists: a limit must not reveal existence.
    # Per-client limits first: an attempt they refuse never counts towards the account's
    # ceiling, so a single client cannot fill it for everyone.
    await throttle(
        mailstore, (f"login:ip:{client}", LOGIN_PER_IP), (pair_key, LOGIN_PER_CLIENT_ACCOUNT)
    )
    if not known_device:
        await throttle(mailstore, (f"login:account:{named}", LOGIN_PER_ACCOUNT))
    if not password or len(password) > MAX_PASSWORD:
        # Still ask the mail store, so that the answer takes as long as a real check;
        # "-" is shorter than any password an account can have, so it never matches.
        password = "-"  # noqa: S105 - see above
    account = await mailstore.verify(address=address, password=password)
    if account is None:
        raise BadCredentials()
    # The account's ceiling is not reset: it bounds tries per hour, successes included,
    # so a successful login cannot buy an attacker a fresh hundred.
    await mailstore.forget_throttle(pair_key)
    return account
