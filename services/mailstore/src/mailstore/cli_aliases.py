"""``python -m mailstore alias add|remove|list``: aliases, from the service's environment.

Run where the mail store runs (``docker compose exec mailstore python -m mailstore alias
list``): it reads DATABASE_URL and LOCALPOST_DOMAIN as the service does, applies any
pending migration (the runner's lock makes that safe beside a running service), and
changes the aliases table directly, each change recorded in the audit log (admin.py).
Aliases take effect for the next message stored; the gateway may answer from its cache
for a few seconds (docs/smtp.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import asyncpg

from mailstore import admin, db, events
from mailstore.errors import AliasRefused
from mailstore.migrations import apply_migrations
from mailstore.settings import Config, ConfigError, load_config
from mailstore.views.accounts import address_problem


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``alias`` subcommand, for ``__main__``'s dispatch."""
    parser = commands.add_parser("alias", help="add, remove or list aliases")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="ADDRESS delivers to TARGET accounts (added to any)")
    add.add_argument("address")
    add.add_argument("targets", metavar="TARGET", nargs="+", help="an account's address")
    remove = actions.add_parser("remove", help="delete the alias ADDRESS")
    remove.add_argument("address")
    actions.add_parser("list", help="every alias and its accounts")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Run one alias command; the process's exit status."""
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        print(f"mailstore alias: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.action in ("add", "remove"):
        args.address = args.address.lower()
        if problem := address_problem(args.address, config.domains):
            print(f"mailstore alias: {args.address}: {problem}", file=sys.stderr)
            return 1
    if args.action == "add":
        args.targets = [target.lower() for target in args.targets]
    return asyncio.run(_run(config, args))


async def _run(config: Config, args: argparse.Namespace) -> int:
    pool = await asyncpg.create_pool(
        config.database_url, min_size=1, max_size=2, init=db.init_connection
    )
    try:
        await apply_migrations(pool)
        if args.action == "add":
            try:
                targets = await admin.add_alias(
                    pool, args.address, args.targets, actor=admin.cli_actor()
                )
            except AliasRefused as exc:
                print(f"mailstore alias: {exc.address}: {exc.reason}", file=sys.stderr)
                return 1
            print(f"{args.address} -> {', '.join(targets)}")
        elif args.action == "remove":
            if not await admin.remove_alias(pool, args.address, actor=admin.cli_actor()):
                print(f"mailstore alias: {args.address}: no such alias", file=sys.stderr)
                return 1
            print(f"{args.address} removed")
        else:
            for address, targets in (await db.list_aliases(pool)).items():
                print(f"{address} -> {', '.join(targets)}")
            return 0
    finally:
        await pool.close()
    await events.tell_gateways(
        config.amqp_url, config.queue_prefix, f"alias {args.action}", command="mailstore alias"
    )
    return 0
