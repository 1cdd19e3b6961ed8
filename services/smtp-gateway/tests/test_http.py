"""The gateway's HTTP side: /healthz, /readyz, /metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from smtplib_common import replies

if TYPE_CHECKING:
    from conftest import FakeMailstore, Gateway, LineClient

    Connect = Callable[[int], Awaitable[LineClient]]

BOB = "bob@localpost.test"


async def test_healthz_is_200_ok(gateway: Gateway) -> None:
    response = await gateway.http.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_200_with_broker_and_directory(gateway: Gateway) -> None:
    response = await gateway.http.get("/readyz")

    assert response.status == 200
    assert await response.json() == {"status": "ready"}


async def test_readyz_is_503_with_a_reason_while_the_directory_fails(
    gateway: Gateway, mailstore: FakeMailstore
) -> None:
    mailstore.failing = True

    response = await gateway.http.get("/readyz")

    assert response.status == 503
    body = await response.json()
    assert body["status"] == "unavailable"
    assert "503" in body["reason"]

    mailstore.failing = False
    assert (await gateway.http.get("/readyz")).status == 200


async def test_readyz_is_503_while_the_mailstore_is_unreachable(
    gateway: Gateway, mailstore: FakeMailstore
) -> None:
    await mailstore.stop()

    response = await gateway.http.get("/readyz")

    assert response.status == 503
    assert "mailstore" in (await response.json())["reason"]


async def test_metrics_count_connections_messages_rejections_and_latency(
    gateway: Gateway, connect: Connect
) -> None:
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    content = client.message()
    answers = await client.transaction("sender@example.org", [BOB], content)
    client.queued_id(answers[-1])
    await client.command("MAIL FROM:<sender@example.org>")
    assert await client.command("RCPT TO:<x@example.org>") == replies.RELAY_DENIED

    response = await gateway.http.get("/metrics")

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = parse_samples(await response.text())
    delivery = '{listener="delivery"}'
    assert samples[f"localpost_gateway_smtp_connections_total{delivery}"] == 1
    assert samples[f"localpost_gateway_smtp_open_connections{delivery}"] == 1
    assert samples[f"localpost_gateway_messages_accepted_total{delivery}"] == 1
    received = samples[f"localpost_gateway_message_bytes_total{delivery}"]
    assert received > len(content)  # with the Received: header
    rejected = (
        'localpost_gateway_messages_rejected_total{listener="delivery",reason="relay_denied"}'
    )
    assert samples[rejected] == 1
    assert samples["localpost_gateway_publish_seconds_count"] == 1


def parse_samples(text: str) -> dict[str, float]:
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples
