"""The IMAP service's HTTP route table: health only; mail is read over IMAP."""

from __future__ import annotations

from aiohttp import web

from imap_gateway import views


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", views.healthz, name="healthz")
    app.router.add_get("/readyz", views.readyz, name="readyz")
    app.router.add_get("/metrics", views.metrics, name="metrics")
