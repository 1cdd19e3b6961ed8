"""The mail store's HTTP route table (internal API; only health so far)."""

from __future__ import annotations

from aiohttp import web

from mailstore import views


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", views.healthz, name="healthz")
    app.router.add_get("/readyz", views.readyz, name="readyz")
