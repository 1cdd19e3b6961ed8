"""The SMTP hooks of the gateway's listeners (see smtplib_common.server.handler).

This is the edge where domain errors become SMTP replies:

- delivery (SMTP_PORT): mail for local recipients that reach an account only (its
  address, a subaddress, an alias, a list, a role address, a catch-all; the mail
  store expands them), and a list only from a sender its posting policy lets post.
  Never an open relay: a domain that is not ours is 550 5.7.1 whoever asks. No AUTH is offered, so a
  sender in our own domains (MAIL FROM) is 550 5.7.1 unless the client is in a
  trusted network; the null sender of bounces stays welcome. A From:/Sender: in our
  domains is delivered, marked ``localpost-sender=fail`` (identity.py) for the web.
- submission (RFC 6409; SUBMISSION_PORT with STARTTLS and SUBMISSIONS_PORT over
  implicit TLS, RFC 8314 §3.3, one handler class for both): AUTH first, and the envelope
  sender must be the authenticated account. The web service's principal may act for
  a user named with ``AUTH=<address>`` on MAIL (RFC 4954 §5); nobody else may. Every
  From:/Sender: mailbox must be that identity's too (553 5.7.1 after the data).

Both strip forged ``Authentication-Results:`` fields naming our host, prepend their
own, publish an accepted message once and answer 250 only after the broker's confirm
(RFC 5321 §6.1).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from smtp_gateway import identity
from smtp_gateway.directory import DISABLED, EXISTS, FULL, REFUSED, Account, Directory
from smtp_gateway.errors import DirectoryUnavailable, LoginThrottled, PublishFailed
from smtp_gateway.metrics import Metrics
from smtp_gateway.publisher import Publisher
from smtp_gateway.settings import IPNetwork
from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server import AuthResult, Credentials, Envelope, Session

log = logging.getLogger(__name__)

# The web service's submission login. It holds no "@", so no mail store account (all
# of which are addresses) can be mistaken for it, and it is never looked up there.
WEB_PRINCIPAL = "localpost-web"

DELIVERY = "delivery"
SUBMISSION = "submission"
SUBMISSIONS = "submissions"  # RFC 8314 §7.3's service name for implicit-TLS submission


class DeliveryHandler:
    """Hooks of the delivery listener; the submission handler builds on them."""

    listener = DELIVERY

    def __init__(
        self,
        *,
        domains: tuple[str, ...],
        directory: Directory,
        publisher: Publisher,
        metrics: Metrics,
        hostname: str,
        trusted_networks: tuple[IPNetwork, ...],
    ) -> None:
        self._domains = frozenset(domains)
        # The authserv-id of our Authentication-Results fields (RFC 8601 §2.5).
        self._hostname = hostname
        self._trusted = trusted_networks
        self._postmaster = f"postmaster@{domains[0]}"
        self._directory = directory
        self._publisher = publisher
        self._metrics = metrics
        # Per message: the labelled children once, not a labels() lookup each time.
        self._accepted = metrics.accepted.labels(listener=self.listener)
        self._accepted_bytes = metrics.accepted_bytes.labels(listener=self.listener)

    async def handle_connect(self, session: Session) -> Reply | None:
        self._metrics.connections.labels(listener=self.listener).inc()
        return None

    async def handle_mail(
        self, session: Session, envelope: Envelope, address: str, params: dict[str, str | None]
    ) -> Reply | None:
        # Our users send through submission, logged in. The null sender (bounces, RFC
        # 5321 §4.5.5) claims nobody; a trusted network is a relay we vouch for.
        local = bool(address) and identity.in_domains(address, self._domains)
        if local and not session.peer_in(self._trusted):
            return self._refuse(
                replies.LOCAL_SENDER_NOT_AUTHENTICATED, "local_sender", envelope, address
            )
        return None

    async def handle_rcpt(
        self, session: Session, envelope: Envelope, address: str, params: dict[str, str | None]
    ) -> Reply | None:
        local, _, domain = address.rpartition("@")
        if domain.lower() not in self._domains:
            # Also address literals ([192.0.2.1]): we deliver only to our domains.
            return self._refuse(replies.RELAY_DENIED, "relay_denied", envelope, address)
        # RFC 5321 §4.5.1: postmaster@ every domain we serve must be accepted.
        if local.lower() == "postmaster":
            return None
        # Every kind of address the mail store expands (an account, a subaddress, an
        # alias, a list, a role address, a catch-all) is one yes; the rest one 550 5.1.1
        # that names no kind. A list's posting policy is checked against the sender we
        # vouch for: the authenticated submitter, else MAIL FROM, which handle_mail
        # refused when it is in our domains and the client neither logged in nor is in
        # a trusted network; so a "local" sender here is one of ours (docs/smtp.md).
        sender = self._vouched_sender(session, envelope)

        async def state_of(mailbox: str) -> str:
            return await self._directory.recipient_state(mailbox, sender)

        refused = await self._require(
            state_of,
            address,
            envelope,
            address,
            replies.MAILBOX_UNAVAILABLE,
            "unknown_mailbox",
            disabled=replies.MAILBOX_DISABLED,
            full=replies.MAILBOX_FULL,
        )
        if refused is None and await self._too_large_for(envelope, address, sender):
            return self._refuse(replies.MESSAGE_OVER_QUOTA, "over_quota", envelope, address)
        return refused

    async def _too_large_for(self, envelope: Envelope, address: str, sender: str | None) -> bool:
        """Whether the size the client declared on MAIL (RFC 1870 SIZE=) exceeds the room
        this recipient has left: then this RCPT alone gets 552 5.2.2 (RFC 1870 §6.2: the
        storage one recipient lacks is refused at its RCPT), and the others still take
        the message. From the RCPT check's cached answer; unknown room is no refusal."""
        if envelope.declared_size is None:
            return False
        try:
            room = await self._directory.recipient_room(address, sender)
        except DirectoryUnavailable:
            return False
        return room is not None and envelope.declared_size > room

    async def handle_message(
        self, session: Session, envelope: Envelope, message: bytes
    ) -> Reply | None:
        checked = await self.check_message(session, envelope, message)
        if isinstance(checked, Reply):
            return checked
        message = checked
        if await self._over_quota(session, envelope, len(message)):
            return self._refuse(replies.MESSAGE_OVER_QUOTA, "over_quota", envelope, "*")
        try:
            latency = await self._publisher.publish(
                message_id=envelope.id,
                body=message,
                mail_from=envelope.mail_from,
                rcpt_to=[self._mailbox(rcpt) for rcpt in envelope.rcpt_tos],
                submitted_by=self.submitted_by(session, envelope),
            )
        except PublishFailed as exc:
            log.error("%s not queued (%s): %s", envelope.id, exc.reason, exc)
            self._count_rejected(exc.reason)
            return replies.LOCAL_ERROR
        # The publisher logs each confirmed batch, one line naming every message in it.
        self._metrics.publish_latency.observe(latency)
        self._accepted.inc()
        self._accepted_bytes.inc(len(message))
        return replies.MESSAGE_ACCEPTED.with_text(f"Ok: queued as {envelope.id}")

    def submitted_by(self, session: Session, envelope: Envelope) -> str | None:
        """The account whose Sent folder gets the message; None for delivered mail."""
        return None

    def _vouched_sender(self, session: Session, envelope: Envelope) -> str | None:
        """The sender a list's posting policy is checked against (handle_rcpt)."""
        return self.submitted_by(session, envelope) or envelope.mail_from or None

    async def _over_quota(self, session: Session, envelope: Envelope, size: int) -> bool:
        """Whether the message fits no recipient's mailbox (issue 16; docs/smtp.md).

        SMTP has one reply to DATA for all recipients (RFC 5321 §4.1.1.4), so the
        message is refused with 552 5.2.2 only when it is larger than the room of every
        one; when it fits some, all accept it and the mail store stores it for all, the
        full ones going over their quota: mail answered with 250 is never dropped. The
        room comes from the RCPT check's cached answer; when the directory cannot say,
        the message is accepted (quota is not worth a retry).
        """
        rooms = []
        for rcpt in envelope.rcpt_tos:
            if "@" not in rcpt or rcpt.partition("@")[0].lower() == "postmaster":
                return False  # RFC 5321 §4.5.1: postmaster takes mail whatever its quota
            try:
                # The RCPT check's sender: the same cached answer.
                sender = self._vouched_sender(session, envelope)
                rooms.append(await self._directory.recipient_room(rcpt, sender))
            except DirectoryUnavailable as exc:
                log.warning("%s <%s>: quota unknown, accepted: %s", envelope.id, rcpt, exc)
                return False
        return all(room is not None and size > room for room in rooms)

    async def check_message(
        self, session: Session, envelope: Envelope, message: bytes
    ) -> bytes | Reply:
        """The message to publish, with our Authentication-Results, or the refusal.

        Delivery refuses nothing here: a From: in our domains without a trusted network
        behind it is delivered, marked as failed, so the recipient sees the warning
        instead of a bounce telling the forger what works.
        """
        fields = identity.sender_fields(message)
        verdict = identity.delivery_verdict(
            fields, domains=self._domains, trusted=session.peer_in(self._trusted)
        )
        if verdict.result == identity.FAIL:
            log.info("%s From: claims <%s> unauthenticated", envelope.id, verdict.header_from)
        return self._stamp(message, verdict)

    def _stamp(
        self, message: bytes, verdict: identity.Verdict, smtp_auth: str | None = None
    ) -> bytes:
        self._metrics.sender_checks.labels(listener=self.listener, result=verdict.result).inc()
        results = identity.authentication_results(self._hostname, verdict, smtp_auth=smtp_auth)
        return identity.stamp(message, self._hostname, results)

    def _mailbox(self, rcpt: str) -> str:
        # RFC 5321 §4.1.1.3: a bare <postmaster> is the postmaster of this server.
        return rcpt if "@" in rcpt else self._postmaster

    async def _require(
        self,
        state_of: Callable[[str], Awaitable[str]],
        mailbox: str,
        envelope: Envelope,
        address: str,
        missing: Reply,
        reason: str,
        *,
        disabled: Reply | None = None,
        full: Reply | None = None,
    ) -> Reply | None:
        """None when the directory's ``state_of`` says ``mailbox`` takes mail;
        ``disabled`` (else ``missing``) when an administrator disabled it; ``full``
        when it is at its storage quota (else it takes mail); ``missing`` when it
        reaches nobody; 451 4.4.3 when the directory cannot say (a temporary failure,
        never a guess)."""
        try:
            state = await state_of(mailbox)
        except DirectoryUnavailable as exc:
            log.warning("%s <%s>: %s", envelope.id, address, exc)
            return self._refuse(
                replies.DIRECTORY_UNAVAILABLE, "directory_unavailable", envelope, address
            )
        if state == EXISTS or (state == FULL and full is None):
            return None
        if state == FULL and full is not None:
            return self._refuse(full, "mailbox_full", envelope, address)
        if state == DISABLED and disabled is not None:
            return self._refuse(disabled, "disabled_mailbox", envelope, address)
        if state == REFUSED:
            # RFC 3463 X.7.1: a list whose posting policy refuses this sender.
            return self._refuse(
                replies.SENDER_NOT_AUTHORIZED, "sender_not_authorized", envelope, address
            )
        return self._refuse(missing, reason, envelope, address)

    def _refuse(self, reply: Reply, reason: str, envelope: Envelope, address: str) -> Reply:
        log.info("%s refused <%s>: %s", envelope.id, address, reason)
        self._count_rejected(reason)
        return reply

    def _count_rejected(self, reason: str) -> None:
        self._metrics.rejected.labels(listener=self.listener, reason=reason).inc()


class SubmissionHandler(DeliveryHandler):
    """Hooks of the submission listener (RFC 6409): AUTH, then send as yourself."""

    listener = SUBMISSION

    def __init__(
        self,
        *,
        domains: tuple[str, ...],
        directory: Directory,
        publisher: Publisher,
        metrics: Metrics,
        hostname: str,
        trusted_networks: tuple[IPNetwork, ...],
        web_secret: str,
        listener: str = SUBMISSION,
    ) -> None:
        self.listener = listener  # the metrics' label; read by DeliveryHandler.__init__
        super().__init__(
            domains=domains,
            directory=directory,
            publisher=publisher,
            metrics=metrics,
            hostname=hostname,
            trusted_networks=trusted_networks,
        )
        self._web_secret = web_secret.encode()

    async def authenticate(self, session: Session, credentials: Credentials) -> AuthResult:
        # RFC 4616 §2: an authzid asks to act as someone else. Acting for others is
        # what AUTH= on MAIL is for, and only for the web principal, so refuse it here.
        if credentials.authzid and credentials.authzid != credentials.username:
            return self._auth_failed(session, "authzid")
        if credentials.username == WEB_PRINCIPAL:
            # Constant time: the comparison must not tell how much of a guess was right.
            if hmac.compare_digest(credentials.password.encode(), self._web_secret):
                return AuthResult(success=True, identity=WEB_PRINCIPAL)
            return self._auth_failed(session, "web_principal")
        if "@" not in credentials.username:
            return self._auth_failed(session, "not_an_address")
        try:
            account = await self._verify(session, credentials)
        except LoginThrottled as exc:
            # Not a verdict on the password, so never 535 (RFC 4954 §6: 454 4.7.0 is the
            # temporary failure); the client may try again later.
            log.info(
                "AUTH from %s throttled by the mail store (%d s)", session.peer_ip, exc.retry_after
            )
            self._count_rejected("auth_throttled")
            return AuthResult(success=False, reply=replies.LOGIN_THROTTLED)
        if account is None:
            return self._auth_failed(session, "invalid_credentials")
        # The mail store's spelling of the address, so later checks compare like with like.
        return AuthResult(success=True, identity=account.address)

    async def _verify(self, session: Session, credentials: Credentials) -> Account | None:
        """The mail store's verdict on a login, timed and, when it fails, counted.

        DirectoryUnavailable propagates: the library answers 454 4.7.0 (RFC 4954 §6).
        """
        started = time.monotonic()
        try:
            return await self._directory.verify(
                credentials.username, credentials.password, client=session.peer_ip
            )
        except DirectoryUnavailable as exc:
            self._metrics.auth_unavailable.labels(reason=exc.reason).inc()
            raise
        finally:
            self._metrics.auth_latency.observe(time.monotonic() - started)

    async def handle_mail(
        self, session: Session, envelope: Envelope, address: str, params: dict[str, str | None]
    ) -> Reply | None:
        identity = session.authenticated_as
        if identity is None:  # the listener has auth_required; kept as a guard
            return replies.AUTH_REQUIRED
        if identity == WEB_PRINCIPAL:
            return await self._check_on_behalf(envelope, address)
        # An ordinary user's AUTH= may only name themself (RFC 4954 §5 leaves trust to us).
        if envelope.auth_mailbox is not None and envelope.auth_mailbox.lower() != identity.lower():
            return self._refuse(replies.SENDER_NOT_OWNED, "sender_not_owned", envelope, address)
        return await self._check_sender(identity, envelope, address)

    async def _check_sender(self, user: str, envelope: Envelope, address: str) -> Reply | None:
        """RFC 6409 §6.1: the envelope sender is the user's address or an alias that
        delivers to the user; 451 4.4.3 when the directory cannot say which aliases."""
        if address.lower() == user.lower():
            return None
        aliases = await self._aliases(user, envelope)
        if isinstance(aliases, Reply):
            return aliases
        if address.lower() in aliases:
            return None
        return self._refuse(replies.SENDER_NOT_OWNED, "sender_not_owned", envelope, address)

    async def _aliases(self, user: str, envelope: Envelope) -> frozenset[str] | Reply:
        """The aliases ``user`` may send as, or 451 4.4.3 when the directory cannot say."""
        try:
            return await self._directory.aliases(user)
        except DirectoryUnavailable as exc:
            log.warning("%s <%s>: %s", envelope.id, user, exc)
            return self._refuse(
                replies.DIRECTORY_UNAVAILABLE, "directory_unavailable", envelope, user
            )

    async def _check_on_behalf(self, envelope: Envelope, address: str) -> Reply | None:
        """The web principal sends as the user it names with AUTH=, who must exist (and
        from the user's address or one of its aliases)."""
        user = envelope.auth_mailbox
        if user is None:
            return self._refuse(replies.SENDER_NOT_OWNED, "sender_not_owned", envelope, address)
        _, _, domain = user.rpartition("@")
        if domain.lower() not in self._domains:
            return self._refuse(replies.SENDER_NOT_OWNED, "sender_not_owned", envelope, address)
        if refused := await self._check_sender(user, envelope, address):
            return refused
        return await self._require(
            self._directory.mailbox_state,
            user,
            envelope,
            address,
            replies.SENDER_NOT_OWNED,
            "sender_not_owned",
        )

    def submitted_by(self, session: Session, envelope: Envelope) -> str | None:
        # handle_mail made sure that AUTH= names an existing user for the web principal.
        if session.authenticated_as == WEB_PRINCIPAL:
            return envelope.auth_mailbox
        return session.authenticated_as

    async def check_message(
        self, session: Session, envelope: Envelope, message: bytes
    ) -> bytes | Reply:
        """RFC 6409 §8.1: the headers must not say the message is from someone other than
        the sender, whom handle_mail established: the account logged in, or the user the
        web principal vouches for with AUTH=, or an alias that delivers to them."""
        sender = self.submitted_by(session, envelope)
        if sender is None:  # handle_mail refused MAIL without one; kept as a guard
            return replies.AUTH_REQUIRED
        fields = identity.sender_fields(message)
        verdict = identity.submission_verdict(fields, sender)
        if verdict is None and fields.readable:
            # Only a message from someone else costs the question about aliases.
            aliases = await self._aliases(sender, envelope)
            if isinstance(aliases, Reply):
                return aliases
            verdict = identity.submission_verdict(fields, sender, aliases)
        if verdict is None:
            if not fields.readable:
                reply, reason = replies.FROM_HEADER_UNREADABLE, "from_header_unreadable"
            else:
                reply, reason = replies.FROM_HEADER_NOT_OWNED, "from_header_not_owned"
            return self._refuse(reply, reason, envelope, sender)
        return self._stamp(message, verdict, smtp_auth=sender)

    def _auth_failed(self, session: Session, why: str) -> AuthResult:
        # The username may be a typo of the password: it stays out of the log.
        log.info("AUTH failed from %s (%s)", session.peer_ip, why)
        self._count_rejected("auth_failed")
        return AuthResult(success=False)
