"""The declaration arguments are a contract with the mail store.

RabbitMQ refuses to re-declare a queue with other arguments (406 PRECONDITION_FAILED),
so a change here must be made in the mail store in the same commit.
"""

from __future__ import annotations

from smtp_gateway.topology import Names, dead_queue_arguments, incoming_queue_arguments


def test_names_follow_the_prefix() -> None:
    assert Names.for_prefix("lp") == Names(
        mail_exchange="lp.mail",
        incoming_queue="lp.mail.incoming",
        dead_exchange="lp.dead",
        dead_queue="lp.mail.dead",
        events_exchange="lp.events",
        directory_exchange="lp.directory",
    )


def test_incoming_queue_arguments_are_the_shared_ones() -> None:
    assert incoming_queue_arguments("lp") == {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "lp.dead",
        "x-delivery-limit": 100,
    }


def test_dead_queue_is_a_plain_quorum_queue() -> None:
    assert dead_queue_arguments() == {"x-queue-type": "quorum"}
