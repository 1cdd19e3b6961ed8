"""The gateway's HTTP route table. Its HTTP side only reports health; mail arrives over SMTP."""

from __future__ import annotations

from aiohttp import web

from smtp_gateway import views


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", views.healthz, name="healthz")
    app.router.add_get("/readyz", views.readyz, name="readyz")
    app.router.add_get("/metrics", views.metrics, name="metrics")
