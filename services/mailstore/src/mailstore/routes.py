"""The mail store's HTTP route table: health, metrics, OpenAPI and the internal /v1 API."""

from __future__ import annotations

from aiohttp import web

from mailstore.views import accounts, health, messages

MESSAGE = r"/v1/accounts/{address}/messages/{id:[0-9]{1,20}}"


def setup_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/healthz", health.healthz, name="healthz")
    router.add_get("/readyz", health.readyz, name="readyz")
    router.add_get("/metrics", health.metrics, name="metrics")
    router.add_get("/openapi.json", health.openapi, name="openapi")
    router.add_post("/v1/accounts", accounts.create_account, name="create_account")
    router.add_post("/v1/auth/verify", accounts.verify, name="verify")
    router.add_get("/v1/mailboxes/{address}", accounts.mailbox, name="mailbox")
    router.add_get("/v1/directory", accounts.directory, name="directory")
    router.add_get("/v1/accounts/{address}/folders", accounts.folders, name="folders")
    router.add_get("/v1/accounts/{address}/messages", messages.list_folder, name="messages")
    router.add_get("/v1/accounts/{address}/search", messages.search, name="search")
    router.add_get(MESSAGE, messages.get_message, name="message")
    router.add_patch(MESSAGE, messages.update, name="update_message")
    router.add_delete(MESSAGE, messages.delete, name="delete_message")
    router.add_get(MESSAGE + "/raw", messages.get_raw, name="raw_message")
    router.add_get(
        MESSAGE + "/attachments/{n:[0-9]{1,10}}", messages.get_attachment, name="attachment"
    )
    router.add_post(MESSAGE + "/trash", messages.trash, name="trash_message")
    router.add_post(MESSAGE + "/restore", messages.restore, name="restore_message")
