"""The web service's route table (only health so far; pages arrive with the webmail issue)."""

from __future__ import annotations

from aiohttp import web

from webmail import views


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", views.healthz, name="healthz")
    app.router.add_get("/readyz", views.readyz, name="readyz")
