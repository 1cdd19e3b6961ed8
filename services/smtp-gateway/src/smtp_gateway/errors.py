"""The gateway's domain errors. The SMTP hooks in handler.py turn them into replies.

The whole tree::

    GatewayError                base class; never raised itself
    ├── DirectoryUnavailable    mailstore could not answer a directory question: the
    │   │                       connection failed, or it answered 5xx (503 when its
    │   │                       bcrypt queue is full) or refused our service token.
    │   │                       Never read as "no" (RCPT → 451 4.4.3, AUTH → 454 4.7.0).
    │   │                       ``reason`` names the case for metrics
    │   └── DirectoryTimeout    no answer within the call's budget
    ├── LoginThrottled          mailstore refused to check a login: too many failed
    │                           logins for the account or from the client, on any
    │                           channel (429). AUTH → 454 4.7.0, never 535
    └── PublishFailed           the broker did not confirm a message; the DATA reply is
        │                       451 4.3.0, never 250 (RFC 5321 §6.1). ``reason`` names
        │                       the case for logs and metrics
        ├── BrokerUnavailable   no broker connection, or it was lost during the publish
        ├── PublishTimeout      no confirm within the publish timeout (the message may
        │                       still reach the queue: the client's retry is then a
        │                       second copy with a new id, see docs/architecture.md)
        ├── MessageReturned     the broker could not route the message (mandatory flag)
        └── MessageNacked       the broker refused the message (basic.nack)
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base class of the gateway's domain errors."""


class DirectoryUnavailable(GatewayError):
    """The mail store's directory could not be asked."""

    reason = "unavailable"


class DirectoryTimeout(DirectoryUnavailable):
    reason = "timeout"


class LoginThrottled(GatewayError):
    """``retry_after``: whole seconds until mailstore would check again."""

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(f"login throttled; retry after {retry_after} s")
        self.retry_after = retry_after


class PublishFailed(GatewayError):
    """The broker did not take responsibility for a message."""

    reason = "publish_failed"


class BrokerUnavailable(PublishFailed):
    reason = "broker_unavailable"


class PublishTimeout(PublishFailed):
    reason = "publish_timeout"


class MessageReturned(PublishFailed):
    reason = "message_returned"


class MessageNacked(PublishFailed):
    reason = "message_nacked"
