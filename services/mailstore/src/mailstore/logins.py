"""One throttle for passwords, whatever the channel (web, API, SMTP AUTH, IMAP, POP3).

Every login goes through ``POST /v1/auth/verify``, which names the client's address and
the channel. An attempt counts under up to three keys (``settings.LoginLimits``): per
client, per (account, client), per account. It reserves its events under all of them
before bcrypt runs, atomically and under a lock per key (``db.reserve``), so N parallel
attempts cannot pass a limit of M < N; over any limit it is refused (429) without a
bcrypt. A correct password takes its reservation back: only failures count, so people
behind one address who log in often are never locked out by their own successes.

Who is held to what:

- a client in LOCALPOST_TRUSTED_NETWORKS stands for many people (a NAT, a reverse proxy,
  the webmail host): no per-client limits, unless LOCALPOST_THROTTLE_TRUSTED=1;
- the per-account ceiling bounds a botnet, but a botnet could fill it to lock the owner
  out. So the owner's own clients are not held to it (nor counted in it): a browser with
  the web's device cookie (``trusted_device``), and a client address that has logged in
  to this account with its password within ``db.KNOWN_CLIENT_DAYS``. That is what
  protects a mail program (SMTP, IMAP), which has no cookie: it polls from the owner's
  home or office address day after day. An attacker cannot make an address known
  without the password, and a known address is still held to its per-client limits.
  A trusted-network address is never "known": it is not one person.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from dataclasses import dataclass

from mailstore import db
from mailstore.errors import LoginThrottled
from mailstore.passwords import MAX_PASSWORD, PasswordHasher
from mailstore.settings import Config

log = logging.getLogger(__name__)

CHANNELS = ("web", "api", "smtp", "imap", "pop3")
# One IPv6 host has a whole /64 to pick source addresses from (RFC 4291 §2.5.4).
IPV6_CLIENT_PREFIX = 64
# Throttle keys are at most 200 characters; a longer or unprintable typed address is
# counted under its hash ("auth:pair:" + 120 + ":" + a client of at most 64 fits).
MAX_KEY_ADDRESS = 120
MAX_CLIENT = 64


@dataclass(frozen=True, slots=True)
class Attempt:
    """One login to check: what the caller says about it."""

    address: str
    password: str
    # The client's IP address as the caller's socket saw it.
    client: str
    channel: str
    # The web's device cookie for this account: the owner's browser.
    trusted_device: bool = False


def client_ok(client: object) -> bool:
    """Whether a caller's ``client`` field can name a client (an IP address, or what the
    caller's socket gave instead, such as "unknown")."""
    return isinstance(client, str) and 1 <= len(client) <= MAX_CLIENT and client.isprintable()


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


def in_trusted_network(ip: str, config: Config) -> bool:
    """Whether per-client limits spare ``ip`` (LOCALPOST_TRUSTED_NETWORKS, unless
    LOCALPOST_THROTTLE_TRUSTED=1)."""
    if config.throttle_trusted:
        return False
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed in network for network in config.trusted_networks)


def key_part(address: str) -> str:
    """``address`` as part of a throttle key: itself, or its hash when long or unprintable."""
    if len(address) <= MAX_KEY_ADDRESS and address.isprintable():
        return address
    # Whatever was typed still counts, under a name a key can hold.
    return "sha256:" + hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()


def login_limits(
    attempt: Attempt, *, client: str | None, owners_client: bool, config: Config
) -> list[db.Limit]:
    """The limits this attempt counts under. ``client`` is None for a trusted network."""
    limits = config.login_limits
    named = key_part(attempt.address)
    keys = []
    # Keys count whether or not the account exists: a limit must not reveal existence.
    if client is not None:
        keys.append(db.Limit(f"auth:client:{client}", *limits.per_client))
        keys.append(db.Limit(f"auth:pair:{named}:{client}", *limits.per_account_client))
    if not owners_client:
        keys.append(db.Limit(f"auth:account:{named}", *limits.per_account))
    return keys


async def check(
    pool: db.Pool, hasher: PasswordHasher, config: Config, attempt: Attempt
) -> db.Record | None:
    """The account when the password is right, None when not; LoginThrottled (before any
    bcrypt) when a limit is reached, Overloaded when the bcrypt queue is full."""
    account = None
    if len(attempt.password) <= MAX_PASSWORD and db.storable(attempt.address):
        account = await db.get_account(pool, address=attempt.address)
    client = None if in_trusted_network(attempt.client, config) else client_key(attempt.client)
    owners_client = attempt.trusted_device or (
        account is not None
        and client is not None
        and await db.is_known_client(pool, account_id=account["id"], client=client)
    )
    reservation = await db.reserve(
        pool, login_limits(attempt, client=client, owners_client=owners_client, config=config)
    )
    if not reservation.allowed:
        log.info("login refused by the throttle (%s, %s)", attempt.channel, attempt.client)
        raise LoginThrottled(retry_after=reservation.retry_after)
    right: bool | None = None
    try:
        # verify() burns one bcrypt whether or not the account exists.
        password_hash = account["password_hash"] if account else None
        right = await hasher.verify(attempt.password[:MAX_PASSWORD], password_hash)
    finally:
        if right is None:
            # Never checked (the bcrypt queue was full, the app stops): not a failure.
            await db.release(pool, ids=reservation.ids)
    if not right:
        return None
    assert account is not None
    if account["disabled"]:
        # Checked after the bcrypt, and answered as a wrong password: the answer and its
        # timing say nothing to someone without the password. The attempt counts.
        log.info("login to disabled account %s refused (%s)", account["address"], attempt.channel)
        return None
    await db.record_login(
        pool, account_id=account["id"], client=client, reservation=reservation.ids
    )
    return account
