"""Commands of any state (RFC 9051 §6.1), ENABLE (RFC 5161), ID (RFC 2971), CHECK."""

from __future__ import annotations

from imap_gateway.session import responses
from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer
from imap_gateway.session.state import ENABLEABLE, Session, State
from imap_gateway.wire import codes, encoder
from imap_gateway.wire import commands as cmd


def capabilities(s: Session) -> list[str]:
    """What the server offers in the session's current state (RFC 9051 §7.2.2)."""
    literal = (
        codes.CAP_LITERAL_PLUS
        if s.settings.wire.max_nonsync_literal is None
        else codes.CAP_LITERAL_MINUS
    )
    caps = [codes.CAP_IMAP4REV1, codes.CAP_IMAP4REV2, literal, codes.CAP_SASL_IR]
    caps += [codes.CAP_ID, codes.CAP_ENABLE, codes.CAP_IDLE]
    if s.state is State.NOT_AUTHENTICATED:
        if s.settings.tls_context is not None and not s.tls:
            caps.append(codes.CAP_STARTTLS)
        if s.plaintext_allowed:
            caps += [codes.CAP_AUTH_PLAIN, CAP_AUTH_LOGIN]
        else:
            caps.append(codes.CAP_LOGINDISABLED)
        return caps
    return [
        *caps,
        codes.CAP_NAMESPACE,
        codes.CAP_UIDPLUS,
        codes.CAP_UNSELECT,
        codes.CAP_MOVE,
        codes.CAP_CHILDREN,
        codes.CAP_LIST_EXTENDED,
        codes.CAP_LIST_STATUS,
        codes.CAP_SPECIAL_USE,
        codes.CAP_CREATE_SPECIAL_USE,
        codes.CAP_ESEARCH,
        codes.CAP_SEARCHRES,
        codes.CAP_STATUS_SIZE,
        codes.CAP_QUOTA,
        codes.CAP_QUOTA_STORAGE,
        codes.CAP_CONDSTORE,
        codes.CAP_QRESYNC,
        codes.CAP_MULTIAPPEND,
        codes.appendlimit_capability(s.settings.wire.max_literal_size),
        codes.CAP_UTF8_ACCEPT,
        codes.CAP_BINARY,
        codes.CAP_SORT,
        codes.CAP_SORT_DISPLAY,
        codes.CAP_THREAD_ORDEREDSUBJECT,
        codes.CAP_THREAD_REFERENCES,
    ]


CAP_AUTH_LOGIN = "AUTH=LOGIN"  # draft-murchison-sasl-login: what Outlook and others use


def capability_code(s: Session) -> bytes:
    """The arguments of a ``[CAPABILITY ...]`` response code."""
    return b" ".join(name.encode("ascii") for name in capabilities(s))


async def capability(s: Session, c: cmd.Capability) -> Answer:
    s.out.write(responses.capability(capabilities(s)))
    return ok("CAPABILITY completed")


async def noop(s: Session, c: cmd.Noop | cmd.Check) -> Answer:
    # The updates go out around every command (the connection loop); NOOP only asks.
    return ok(f"{type(c).__name__.upper()} completed")


async def logout(s: Session, c: cmd.Logout) -> Answer:
    s.out.status(None, codes.BYE, "Logging out")
    await s.deselect()
    if s.user is not None:
        await s.user.logout()
        s.user = None
    s.state = State.LOGOUT
    return ok("LOGOUT completed")


async def enable(s: Session, c: cmd.Enable) -> Answer:
    """RFC 5161 §3.1: unknown names are ignored; ENABLED lists what was turned on now."""
    wanted = [name for name in c.capabilities if name in {e.upper() for e in ENABLEABLE}]
    by_upper = {e.upper(): e for e in ENABLEABLE}
    turned_on = []
    for upper in wanted:
        name = by_upper[upper]
        if name not in s.enabled:
            s.enabled.add(name)
            turned_on.append(name)
    if codes.CAP_QRESYNC in s.enabled:
        s.enabled.add(codes.CAP_CONDSTORE)  # RFC 7162 §3.2.3: QRESYNC implies CONDSTORE
    s.out.write(responses.enabled(turned_on))
    return ok("ENABLE completed")


async def id_(s: Session, c: cmd.Id) -> Answer:
    fields = []
    for key, value in s.settings.server_id:
        fields += [encoder.string(key), encoder.string(value)]
    s.out.untagged(b"ID", encoder.paren_list(fields) if fields else encoder.NIL)
    return ok("ID completed")
