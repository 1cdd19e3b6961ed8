"""The mail servers Localpost offers mail programs, in the order programs should try them.

One list feeds every autoconfiguration document and the Mail programs page, so they
cannot disagree. Implicit TLS comes before STARTTLS for each protocol (RFC 8314 §4.1:
clients should prefer it), and IMAP before POP3 (it keeps mail on the server, in folders).
"""

from __future__ import annotations

from dataclasses import dataclass

from webmail.settings import PublicServers

IMAP = "imap"
POP3 = "pop3"
SMTP = "smtp"
# Mozilla's socketType values, used as ours: TLS from the first byte, or upgraded.
SSL = "SSL"
STARTTLS = "STARTTLS"


@dataclass(frozen=True, slots=True)
class Server:
    protocol: str
    hostname: str
    port: int
    security: str

    @property
    def incoming(self) -> bool:
        return self.protocol != SMTP

    @property
    def security_label(self) -> str:
        """What mail programs call it in their account settings."""
        return "SSL/TLS" if self.security == SSL else "STARTTLS"


def servers(public: PublicServers) -> list[Server]:
    host = public.hostname
    found = [
        Server(IMAP, host, public.imaps_port, SSL),
        Server(IMAP, host, public.imap_port, STARTTLS),
    ]
    if public.pop3:
        found += [
            Server(POP3, host, public.pop3s_port, SSL),
            Server(POP3, host, public.pop3_port, STARTTLS),
        ]
    found += [
        Server(SMTP, host, public.submissions_port, SSL),
        Server(SMTP, host, public.submission_port, STARTTLS),
    ]
    return found


def local_domain(address: str, domains: tuple[str, ...]) -> str | None:
    """The local domain of ``address``, or None when it is not one of ours (or no address).

    Only the domain is looked at: whether the mailbox exists is not told to anyone who asks.
    """
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or len(address) > 320:  # RFC 5321 §4.5.3.1.1-2: 64 + @ + 255
        return None
    domain = domain.lower()
    return domain if domain in domains else None
