"""``python -m mailstore list ...`` and ``catchall ...``: lists and catch-alls.

Run where the mail store runs (``docker compose exec mailstore python -m mailstore list
show team@example.org``), like ``alias`` (mailstore.cli_aliases): the service's
environment, pending migrations applied, the tables of migration 0021 changed directly.
Changes take effect for the next message stored; the gateway may answer RCPT from its
cache for a few seconds (docs/smtp.md).

::

    list create ADDRESS [--policy members|local|anyone]   a list with no members
    list delete ADDRESS
    list add ADDRESS MEMBER...        accounts', aliases' or lists' addresses
    list remove ADDRESS MEMBER...
    list policy ADDRESS members|local|anyone               who may post
    list show ADDRESS | list list
    catchall set DOMAIN TARGET        an account's, an alias's or a list's address
    catchall unset DOMAIN | catchall show
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

import asyncpg

from mailstore import db, events, lists_admin
from mailstore.errors import CatchallRefused, ListRefused
from mailstore.migrations import apply_migrations
from mailstore.recipients import MEMBERS, POLICIES
from mailstore.settings import Config, ConfigError, load_config
from mailstore.views.accounts import address_problem


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``list`` and ``catchall`` subcommands, for ``__main__``'s dispatch."""
    parser = commands.add_parser("list", help="mailing lists: create, members, policy")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new list ADDRESS with no members")
    create.add_argument("address")
    create.add_argument("--policy", choices=POLICIES, default=MEMBERS, help="who may post")
    actions.add_parser("delete", help="delete the list ADDRESS").add_argument("address")
    for action, text in (("add", "add MEMBERs"), ("remove", "remove MEMBERs")):
        members = actions.add_parser(action, help=text)
        members.add_argument("address")
        members.add_argument(
            "members", metavar="MEMBER", nargs="+", help="an account's, alias's or list's address"
        )
    policy = actions.add_parser("policy", help="who may post: members, local or anyone")
    policy.add_argument("address")
    policy.add_argument("policy", choices=POLICIES)
    actions.add_parser("show", help="the list's policy and members").add_argument("address")
    actions.add_parser("list", help="every list, its policy and members")
    parser.set_defaults(handler=main)

    catchall = commands.add_parser("catchall", help="a domain's catch-all address")
    actions = catchall.add_subparsers(dest="action", required=True)
    set_ = actions.add_parser("set", help="DOMAIN's unknown addresses go to TARGET")
    set_.add_argument("domain")
    set_.add_argument("target", help="an account's, alias's or list's address")
    actions.add_parser("unset", help="turn DOMAIN's catch-all off").add_argument("domain")
    actions.add_parser("show", help="every domain's catch-all")
    catchall.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Run one list or catchall command; the process's exit status."""
    name = f"mailstore {args.command}"
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        return 2
    for key in ("address", "domain", "target"):
        if isinstance(getattr(args, key, None), str):
            setattr(args, key, getattr(args, key).lower())
    if hasattr(args, "members"):
        args.members = [member.lower() for member in args.members]
    problem = None
    if args.command == "list" and args.action == "create":
        problem = address_problem(args.address, config.domains)
    elif args.action in ("set", "unset") and args.domain not in config.domains:
        problem = f"must be a local domain ({', '.join(config.domains)})"
    if problem:
        subject = args.address if args.command == "list" else args.domain
        print(f"{name}: {subject}: {problem}", file=sys.stderr)
        return 1
    command = _list_command if args.command == "list" else _catchall_command
    return asyncio.run(_run(config, name, command, args))


# The actions that only read.
READING = frozenset({"list", "show"})


async def _run(
    config: Config,
    name: str,
    command: Callable[[db.Pool, argparse.Namespace], Awaitable[list[str]]],
    args: argparse.Namespace,
) -> int:
    # init: the audit rows' detail is jsonb (db.init_connection's codec).
    pool = await asyncpg.create_pool(
        config.database_url, min_size=1, max_size=2, init=db.init_connection
    )
    try:
        await apply_migrations(pool)
        lines = await command(pool, args)
    except ListRefused as exc:
        print(f"{name}: {exc.address}: {exc.reason}", file=sys.stderr)
        return 1
    except CatchallRefused as exc:
        print(f"{name}: {exc.domain}: {exc.reason}", file=sys.stderr)
        return 1
    finally:
        await pool.close()
    for line in lines:
        print(line)
    if args.action not in READING:
        reason = f"{args.command} {args.action}"
        await events.tell_gateways(config.amqp_url, config.queue_prefix, reason, command=name)
    return 0


async def _list_command(pool: db.Pool, args: argparse.Namespace) -> list[str]:
    # Each change is audited as cli:<os user> (lists_admin.py); reading is not.
    address = getattr(args, "address", "")
    if args.action == "create":
        await lists_admin.create_list(pool, address, args.policy, actor=None)
        return [_line(db.ListInfo(address, args.policy, []))]
    if args.action == "delete":
        await lists_admin.delete_list(pool, address, actor=None)
        return [f"{address} deleted"]
    if args.action in ("add", "remove"):
        add = args.action == "add"
        await lists_admin.change_members(pool, address, args.members, add=add, actor=None)
    elif args.action == "policy":
        await lists_admin.set_policy(pool, address, args.policy, actor=None)
    elif args.action == "list":
        return [_line(found) for found in await db.list_lists(pool)]
    found = await db.get_list(pool, address=address)
    if found is None:
        raise ListRefused(address, lists_admin.NO_SUCH_LIST)
    return [_line(found)]


async def _catchall_command(pool: db.Pool, args: argparse.Namespace) -> list[str]:
    if args.action == "set":
        await lists_admin.set_catchall(pool, args.domain, args.target, actor=None)
        return [f"{args.domain} -> {args.target}"]
    if args.action == "unset":
        await lists_admin.unset_catchall(pool, args.domain, actor=None)
        return [f"{args.domain} catch-all off"]
    return [f"{domain} -> {target}" for domain, target in (await db.list_catchalls(pool)).items()]


def _line(found: db.ListInfo) -> str:
    return f"{found.address} ({found.policy}) -> {', '.join(found.members)}"
