"""``python -m mailstore``: with no arguments, the service; with one, an admin command.

::

    python -m mailstore                            run the service (compose, make up)
    python -m mailstore admin grant|revoke ADDRESS give or take the admin role
    python -m mailstore admin list                 the administrators, one per line
    python -m mailstore admin disable|enable ADDRESS  no logins and no new mail, or again
    python -m mailstore admin quota ADDRESS SIZE|default
                                                   the account's storage limit (0: none;
                                                   default: LOCALPOST_DEFAULT_QUOTA)
    python -m mailstore reset-password ADDRESS [--hours N] [--base-url URL]
                                                   print a one-time password-reset link
    python -m mailstore alias add ADDRESS TARGET... | remove ADDRESS | list
                                                   aliases (mailstore.cli_aliases)
    python -m mailstore list create|delete|add|remove|policy|show|list ...
    python -m mailstore catchall set DOMAIN TARGET | unset DOMAIN | show
                                                   lists, catch-alls (mailstore.cli_lists)

The commands read the service's environment (settings.load_config: DATABASE_URL,
LOCALPOST_DOMAIN, LOCALPOST_WEB_URL...), so they run where the service runs: ``docker
compose exec mailstore python -m mailstore ...``. Exit status 0 when done, 1 when the
address has no account or the database cannot be used, 2 for a usage or configuration
error. Results go to stdout, explanations to stderr. Every command that changes
something is recorded in the administrators' audit log, as ``cli:<os user>`` (admin.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

import asyncpg

from mailstore import admin, cli_aliases, cli_lists, db, events
from mailstore.errors import AccountNotFound
from mailstore.main import run
from mailstore.quotas import parse_size
from mailstore.settings import Config, ConfigError, load_config

# Connect timeout: a database that does not answer is an error, not a hang.
CONNECT_TIMEOUT = 10.0


class CommandError(Exception):
    """What went wrong, for stderr; the command exits 1."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m mailstore",
        description="Without a command: run the mail store service.",
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    admins = commands.add_parser(
        "admin", help="grant, revoke or list the admin role; disable or enable an account"
    )
    actions = admins.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (("grant", "make ADDRESS an administrator"), ("revoke", "take it back")):
        actions.add_parser(action, help=text).add_argument("address", metavar="ADDRESS")
    actions.add_parser("list", help="the administrators, one per line")
    for action, text in (
        ("disable", "ADDRESS logs in nowhere (its sessions end now) and receives no mail"),
        ("enable", "undo disable"),
    ):
        actions.add_parser(action, help=text).add_argument("address", metavar="ADDRESS")
    quota = actions.add_parser(
        "quota",
        help="set how much ADDRESS may store: a size such as 2GiB, 0 for no limit,"
        " or default (LOCALPOST_DEFAULT_QUOTA)",
    )
    quota.add_argument("address", metavar="ADDRESS")
    quota.add_argument("size", metavar="SIZE|default", type=_quota)
    reset = commands.add_parser(
        "reset-password", help="print a one-time link that sets a new password for ADDRESS"
    )
    reset.add_argument("address", metavar="ADDRESS")
    reset.add_argument(
        "--hours",
        type=_hours,
        default=admin.RESET_HOURS,
        help=f"how long the link works (1-{admin.MAX_RESET_HOURS}, default {admin.RESET_HOURS})",
    )
    reset.add_argument(
        "--base-url",
        type=_base_url,
        help="the webmail's address as people reach it (default: LOCALPOST_WEB_URL)",
    )
    cli_aliases.add_parser(commands)
    cli_lists.add_parsers(commands)
    return top


def _hours(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= admin.MAX_RESET_HOURS:
        raise argparse.ArgumentTypeError(f"must be a whole number 1-{admin.MAX_RESET_HOURS}")
    return int(text)


def _quota(text: str) -> int | None:
    if text.lower() == "default":
        return None
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _base_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise argparse.ArgumentTypeError(
            "must be an http or https URL such as https://mail.example.org"
        )
    return text


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command is None:
        run()
        return 0
    if args.command in ("alias", "list", "catchall"):
        return int(args.handler(args))
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        print(f"mailstore: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_command(config, args))
    except CommandError as exc:
        print(f"mailstore: {exc}", file=sys.stderr)
        return 1
    return 0


async def _command(config: Config, args: argparse.Namespace) -> None:
    pool = await _connect(config)
    try:
        address = getattr(args, "address", "").lower()
        if args.command == "reset-password":
            await _reset(pool, address, hours=args.hours, base_url=args.base_url or config.web_url)
        elif args.action == "list":
            for row in await db.list_admins(pool):
                print(row["address"])
        elif args.action == "quota":
            usage = await admin.set_quota(pool, address, args.size, default=config.default_quota)
            print(admin.quota_line(address, args.size, usage))
            await _tell_gateways(config, "admin quota")
        elif args.action in ("disable", "enable"):
            await admin.set_disabled(pool, address, disabled=args.action == "disable")
            print(f"{address} is {args.action}d", file=sys.stderr)
            # The IMAP gateway ends the account's open IMAP and POP3 sessions on hearing it.
            event = {"event": "disabled", "account": address}
            if args.action == "disable" and not await events.announce(
                config.amqp_url, config.queue_prefix, event
            ):
                print(
                    f"{address}: the broker did not take the news; its open IMAP and POP3"
                    " sessions go on until they end (new logins are refused)",
                    file=sys.stderr,
                )
            await _tell_gateways(config, f"admin {args.action}")
        else:
            await admin.set_admin(pool, address, admin=args.action == "grant")
            role = "now an administrator" if args.action == "grant" else "not an administrator"
            print(f"{address} is {role}", file=sys.stderr)
            # Role addresses (postmaster@ and the rest) reach the administrators.
            await _tell_gateways(config, f"admin {args.action}")
    except AccountNotFound:
        raise CommandError(f"no account has the address {address!r}") from None
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
        raise CommandError(
            "the database's schema is older than this command: start the mail store once"
            " (it applies its migrations), then run the command again"
        ) from None
    finally:
        await pool.close()


async def _tell_gateways(config: Config, reason: str) -> None:
    # After a change to who an address reaches, the gateways forget their cached RCPT
    # answers (events.py, ``directory``).
    await events.tell_gateways(config.amqp_url, config.queue_prefix, reason, command="mailstore")


async def _reset(pool: db.Pool, address: str, *, hours: int, base_url: str) -> None:
    link, expires_at = await admin.issue_reset(pool, address, base_url=base_url, hours=hours)
    print(link)
    print(
        f"Give this link to the owner of {address}. It works once, until"
        f" {expires_at:%Y-%m-%d %H:%M %Z}; a new link replaces it. Setting the password"
        " through it ends every session of the account.",
        file=sys.stderr,
    )


async def _connect(config: Config) -> db.Pool:
    # Errors describe the database without quoting DATABASE_URL: it may hold a password.
    try:
        return await asyncpg.create_pool(
            config.database_url,
            min_size=1,
            max_size=1,
            init=db.init_connection,
            timeout=CONNECT_TIMEOUT,
        )
    except asyncpg.InvalidCatalogNameError:
        raise CommandError(
            "the database DATABASE_URL names does not exist: start the mail store once (it"
            " creates it), or check DATABASE_URL"
        ) from None
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise CommandError(
            f"cannot use the database DATABASE_URL names ({type(exc).__name__}: {exc})"
        ) from None
