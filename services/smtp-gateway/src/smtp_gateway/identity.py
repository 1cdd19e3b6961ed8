"""Who a message says it is from, whether the gateway can vouch for that, and the
``Authentication-Results:`` field (RFC 8601) that records the answer.

- :func:`owns` is the one place that says whether an identity may use an address: its
  own, or an alias that delivers to it (the mail store's answer, issue 16).
- :func:`sender_fields` reads the ``From:`` and ``Sender:`` fields of a message's header
  section, every mailbox of every such field (groups flattened, comments and encoded
  words understood) with ``policy.default``'s parser, never ``email.utils`` (its results
  changed between Python patch releases, see smtplib_common.addresslist).
- :func:`delivery_verdict` and :func:`submission_verdict` judge them;
  :func:`stamp` strips every ``Authentication-Results:`` field that claims our authserv-id
  (RFC 8601 §5: such fields from outside are forgeries and MUST be removed) and
  prepends ours.

The method is ``localpost-sender``, an extension method (RFC 8601 §2.7.6): "the
RFC5322.From/Sender mailboxes in our domains are backed by an authenticated identity".
No registered method says that. ``auth`` (§2.7.4) only reports an SMTP AUTH, not what
the header claims; ``dmarc`` (RFC 7489 §11.2) means a DNS policy and SPF/DKIM alignment
that the gateway does not evaluate, and a downstream filter would act on a false claim.
An unregistered method is read by nobody but us, and is scoped by the authserv-id.
Submission adds the registered ``auth=pass smtp.auth=...`` beside it for other readers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.errors import HeaderParseError, ObsoleteHeaderDefect

METHOD = "localpost-sender"
PASS, FAIL, NONE = "pass", "fail", "none"

# From: and Sender: text read per message, all fields together. RFC 5322 §2.1.1 bounds a
# line at 998 octets but folding makes a field as long as a sender likes; a list of a
# few dozen mailboxes fits in 16 KiB. Past it the fields count as unreadable.
MAX_SENDER_CHARS = 16_384

_SENDER_NAMES = (b"from", b"sender")
_AUTH_RESULTS = b"authentication-results"
# RFC 5322 §3.2.3 atext, ASCII only: an address made of these is safe to copy into a
# header field (no ";", "(", quote, space or line break that could change its meaning).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_ADDR_SPEC = rf"{_ATEXT}+(?:\.{_ATEXT}+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_CLEAN_ADDRESS = re.compile(_ADDR_SPEC)
# The everyday forms, "a@b", "Name <a@b>", '"Name" <a@b>', read without the full parser
# (80 µs a field); anything else goes through it. Both give the same mailbox here.
_SIMPLE_MAILBOX = re.compile(
    rf"""[ \t]*(?:(?P<bare>{_ADDR_SPEC})
    |(?:"[^"\\]*"|[A-Za-z0-9 \t.'_-]*)[ \t]*<(?P<angle>{_ADDR_SPEC})>)[ \t]*""",
    re.VERBOSE,
)
_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")


@dataclass(frozen=True, slots=True)
class SenderFields:
    """The mailboxes of a message's From: and Sender: fields."""

    from_: tuple[str, ...]
    sender: tuple[str, ...]
    # False when a field had a defect the parser recovered from by guessing (a missing
    # ">", stray text, no "@"), or the fields were too long to read: what a mail reader
    # shows may then differ from what was read here.
    readable: bool
    # The fields' unfolded text, for a conservative look when they are unreadable.
    text: str

    @property
    def mailboxes(self) -> tuple[str, ...]:
        return self.from_ + self.sender


@dataclass(frozen=True, slots=True)
class Verdict:
    """One ``localpost-sender`` result, with the mailbox it is about."""

    result: str
    header_from: str | None = None
    comment: str | None = None


def owns(identity: str, address: str, aliases: Iterable[str] = ()) -> bool:
    """Whether ``identity`` (an account's canonical address) may send as ``address``:
    its own address, or one of ``aliases``, the aliases that deliver to it (the mail
    store's answer; an alias of several accounts is each one's).

    The local part exactly as the mail store spells it (RFC 5321 §2.4: it is the
    mailbox's own name); the domain without case (RFC 5321 §2.4).
    """
    local, _, domain = address.rpartition("@")
    for mine in (identity, *aliases):
        own_local, _, own_domain = mine.rpartition("@")
        if local == own_local and domain.lower() == own_domain.lower():
            return True
    return False


def in_domains(address: str, domains: Iterable[str]) -> bool:
    return address.rpartition("@")[2].lower().rstrip(".") in domains


def header_section(message: bytes) -> bytes:
    """The header section: up to the first empty line (CRLF only: the server refuses
    bare CR or LF in DATA, docs/smtp.md "SMTP smuggling")."""
    end = message.find(b"\r\n\r\n")
    return message if end < 0 else message[: end + 2]


def _grouped(header: bytes) -> list[list[bytes]]:
    """The header section's lines, each field's continuation lines with it (RFC 5322
    §2.2.3: a line starting with a blank continues the field before it)."""
    groups: list[list[bytes]] = []
    for line in header.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and groups:
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


def _field(group: list[bytes]) -> tuple[bytes, bytes]:
    """(lower-cased name, unfolded value) of a field; ``b""`` names a line that is none.
    A name keeps no trailing blanks, so an obsolete ``From :`` (RFC 5322 §4.5.3) counts."""
    head, colon, rest = group[0].partition(b":")
    if not colon:
        return b"", b""
    return head.rstrip(b" \t").lower(), rest + b"".join(group[1:])


def sender_fields(message: bytes) -> SenderFields:
    found: dict[bytes, list[str]] = {name: [] for name in _SENDER_NAMES}
    texts: list[str] = []
    readable = True
    size = 0
    for group in _grouped(header_section(message)):
        name, raw = _field(group)
        if name not in found:
            continue
        value = raw.decode("utf-8", "replace")
        texts.append(value)
        size += len(value)
        if size > MAX_SENDER_CHARS:
            readable = False
            continue
        mailboxes, clean = _mailboxes(value)
        found[name].extend(mailboxes)
        readable = readable and clean
    return SenderFields(
        from_=tuple(found[b"from"]),
        sender=tuple(found[b"sender"]),
        readable=readable,
        text=" ".join(texts),
    )


def _mailboxes(value: str) -> tuple[list[str], bool]:
    simple = _SIMPLE_MAILBOX.fullmatch(value)
    if simple is not None:
        return [simple["bare"] or simple["angle"]], True
    try:
        header = policy.default.header_factory("From", value)
        addresses = header.addresses
    except (HeaderParseError, ValueError, IndexError, TypeError):
        # The parser's known failures on hostile input (smtplib_common.addresslist).
        return [], False
    # Obsolete syntax (RFC 5322 §4: "Alice B. Smith", a route) is still read exactly.
    clean = all(isinstance(defect, ObsoleteHeaderDefect) for defect in header.defects)
    mailboxes = []
    for address in addresses:
        if not address.username or not address.domain:
            clean = False
        else:
            mailboxes.append(address.addr_spec)
    return mailboxes, clean


def mentions_domain(text: str, domains: Iterable[str]) -> str | None:
    """The first of ``domains`` that ``text`` names after an "@", if any."""
    lowered = text.lower()
    for domain in domains:
        if re.search(rf"@[\s\"]*{re.escape(domain)}(?![a-z0-9-])", lowered):
            return domain
    return None


def delivery_verdict(fields: SenderFields, *, domains: frozenset[str], trusted: bool) -> Verdict:
    """Mail from outside: a From:/Sender: mailbox in our domains is backed only by a
    trusted network (nobody authenticated on the delivery port)."""
    claimed = next((box for box in fields.mailboxes if in_domains(box, domains)), None)
    if claimed is None and not fields.readable:
        # A mail reader may find an address the parser did not: judge by the text.
        claimed = mentions_domain(fields.text, domains)
    if claimed is None:
        return Verdict(NONE)
    if trusted:
        return Verdict(PASS, claimed, "trusted network")
    return Verdict(FAIL, claimed, "not authenticated")


def submission_verdict(
    fields: SenderFields, identity: str, aliases: Iterable[str] = ()
) -> Verdict | None:
    """Authenticated mail: None when a From:/Sender: mailbox is neither ``identity``'s
    nor one of its ``aliases`` (or the fields cannot be read); otherwise a pass."""
    aliases = tuple(aliases)
    if not fields.readable or not all(owns(identity, box, aliases) for box in fields.mailboxes):
        return None
    return Verdict(PASS, fields.from_[0] if fields.from_ else None)


def authentication_results(
    authserv_id: str, verdict: Verdict, *, smtp_auth: str | None = None
) -> bytes:
    """The ``Authentication-Results:`` field (RFC 8601 §2.2), CRLF-terminated."""
    results = []
    if smtp_auth is not None:
        results.append(f"auth=pass smtp.auth={_pvalue(smtp_auth)}")
    result = f"{METHOD}={verdict.result}"
    if verdict.header_from is not None:
        result += f" header.from={_pvalue(verdict.header_from)}"
    if verdict.comment is not None:
        result += f" ({verdict.comment})"
    results.append(result)
    fold = ";\r\n\t"
    return f"Authentication-Results: {authserv_id};\r\n\t{fold.join(results)}\r\n".encode()


def _pvalue(address: str) -> str:
    # RFC 8601 §2.2 pvalue: an addr-spec or a domain. A hostile local part (quotes, ";",
    # parentheses) could forge results, so only a clean address is copied whole.
    if _CLEAN_ADDRESS.fullmatch(address):
        return address
    domain = address.rpartition("@")[2]
    return domain if re.fullmatch(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*", domain) else "invalid"


def claims_authserv_id(value: bytes, authserv_id: str) -> bool:
    """Whether an ``Authentication-Results:`` value names ``authserv_id`` (RFC 8601 §2.2:
    the first token, possibly quoted, after comments)."""
    text = value.decode("utf-8", "replace")
    while (stripped := _COMMENT.sub(" ", text)) != text:  # nested comments, inside out
        text = stripped
    first = text.partition(";")[0].replace('"', " ").split()
    return bool(first) and first[0].lower() == authserv_id.lower()


def stamp(message: bytes, authserv_id: str, results: bytes) -> bytes:
    """``message`` with ``results`` on top and every field claiming ``authserv_id`` gone."""
    header = header_section(message)
    groups = _grouped(header)
    kept = [group for group in groups if not _claims(group, authserv_id)]
    if len(kept) == len(groups):
        return results + message
    return results + b"\r\n".join(line for group in kept for line in group) + message[len(header) :]


def _claims(group: list[bytes], authserv_id: str) -> bool:
    name, value = _field(group)
    return name == _AUTH_RESULTS and claims_authserv_id(value, authserv_id)
