"""Registration and login rules, and the sign-up limit.

Passwords are hashed and checked by the mail store (bcrypt over SHA-256, off its event
loop), which also limits failed logins for every channel at once (web, API, SMTP AUTH:
mailstore/logins.py, docs/security.md "Web"). Login failures look the same whether or
not the account exists: one message, and the mail store's verify burns one bcrypt
either way. A browser that has logged in to the account before holds a signed device
cookie (``sessions.DEVICE_COOKIE``); the web tells the mail store, which then does not
hold it to the account's ceiling, only to its per-client limits (OWASP "Slow down
online guessing attacks with device cookies").
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from webmail.controls import INVISIBLE, has_control
from webmail.errors import BadCredentials, InvalidFields, RateLimited, RegistrationClosed
from webmail.mailstore_client import Account, MailstoreClient
from webmail.reserved import is_reserved, normalise

# RFC 5321 §4.1.2 Dot-string (the mail store accepts the same for new accounts).
_LOCAL_PART = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
MAX_LOCAL_PART = 64  # RFC 5321 §4.5.3.1.1
MAX_NAME = 200
MIN_PASSWORD = 10
# The mail store's limit; it pre-hashes, so bcrypt's 72-byte cut never applies.
MAX_PASSWORD = 1024

# (limit, window seconds) of sign-ups per client (an IPv4 address or IPv6 /64; the mail
# store spares LOCALPOST_TRUSTED_NETWORKS unless LOCALPOST_THROTTLE_TRUSTED=1).
REGISTER_PER_IP = (10, 60 * 60)
PASSWORD = "password"  # noqa: S105 - the form field's name
# The sign-up page's second password field: a typo in the only copy would lock the new
# account out at once (issue 15). The JSON API takes no confirmation: scripts send what
# they hold.
CONFIRM = "confirm_password"


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
        return "Use only the letters a-z, digits and . - _ (no look-alike letters)."
    if not local or not _LOCAL_PART.fullmatch(local) or len(local) > MAX_LOCAL_PART:
        return "Use letters, digits and . - _ (no spaces), up to 64 characters."
    if domain not in domains:
        return f"The address must end in @{' or @'.join(domains)}."
    if is_reserved(local):
        return "This address is reserved for the service; choose another."
    if "+" in local:
        # RFC 5233 subaddressing: alice+shop@ is alice's, and must not become someone else's.
        base = local.partition("+")[0]
        return f"A + makes a variant of an address ({base}+anything reaches {base}); leave it out."
    return None


def password_problem(password: str, address: str) -> str | None:
    """What is wrong with ``password`` for the account ``address``: at sign-up and at a
    password change alike."""
    if len(password) < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"Use at most {MAX_PASSWORD} characters."
    if password.lower() in (address, address.partition("@")[0]):
        return "The password may not be your address."
    if password.lower() in common_passwords():
        return "This password is too common; choose another."
    return None


def check_registration(
    *,
    name: str,
    address: str,
    password: str,
    domains: tuple[str, ...],
    confirm: str | None = None,
) -> tuple[str, str, str]:
    """(name, address, password) normalised, or InvalidFields naming every problem.

    ``confirm``: the password typed again (the page's form), compared as typed: the
    password is never normalised, so "é" composed and decomposed are two passwords.
    """
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
    if problem := password_problem(password, address):
        fields[PASSWORD] = problem
    if confirm is not None and confirm != password:
        fields[CONFIRM] = "Type the password again." if not confirm else "The two passwords differ."
    if fields:
        raise InvalidFields(fields)
    return name, address, password


REGISTRATION_REFUSED = {
    "invite": "Sign-up here needs an invitation from an administrator.",
    "closed": "Sign-up is closed here. Ask an administrator of this Localpost for an account.",
}


def check_registration_open(mode: str) -> None:
    """RegistrationClosed unless the mode in force (registration.py) is "open"."""
    if mode != "open":
        raise RegistrationClosed(REGISTRATION_REFUSED[mode])


async def register(
    mailstore: MailstoreClient,
    *,
    ip: str,
    name: str,
    address: str,
    password: str,
    domains: tuple[str, ...],
    confirm: str | None = None,
    invitation: str | None = None,
) -> Account:
    """``invitation``: the secret of the sign-up link (registration "invite"); used up
    with the account, NotFound when it is not live or is for another address."""
    name, address, password = check_registration(
        name=name, address=address, password=password, domains=domains, confirm=confirm
    )
    limit, window = REGISTER_PER_IP
    result = await mailstore.throttle("register:ip", limit=limit, window=window, client=ip)
    if not result.allowed:
        raise RateLimited(max(1, result.retry_after))
    return await mailstore.create_account(
        address=address, name=name, password=password, invitation=invitation
    )


async def login(
    mailstore: MailstoreClient,
    *,
    ip: str,
    channel: str,
    address: str,
    password: str,
    domains: tuple[str, ...],
    known_device: bool = False,
) -> Account:
    """The account for these credentials; BadCredentials or RateLimited otherwise.

    ``channel``: "web" (the login page) or "api" (tokens). ``known_device``: the browser
    logged in to this account before, so the account's ceiling (which a botnet can fill)
    does not apply to it; its per-client limits do.
    """
    address = full_address(address, domains)
    if not password or len(password) > MAX_PASSWORD:
        # Still ask the mail store, so that the answer takes as long as a real check (and
        # counts as a failure); "-" is shorter than any password an account can have.
        password = "-"  # noqa: S105 - see above
    account = await mailstore.verify(
        address=address, password=password, client=ip, channel=channel, trusted_device=known_device
    )
    if account is None:
        raise BadCredentials()
    return account
