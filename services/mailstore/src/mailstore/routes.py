"""The mail store's HTTP route table: health, metrics, OpenAPI and the internal /v1 API."""

from __future__ import annotations

from aiohttp import web

from mailstore import db
from mailstore.views import (
    accounts,
    admin,
    admin_lists,
    drafts,
    folders,
    health,
    imap,
    imap_append,
    messages,
    pop3,
    profile,
    quotas,
    recipients,
    resets,
    sessions,
    throttle,
)

ACCOUNT = "/v1/accounts/{address}"
MESSAGE = ACCOUNT + "/messages/{id:[0-9]{1,20}}"
FOLDER = ACCOUNT + "/folders/{folder:" + db.FOLDER_ID + "}"
# The IMAP gateway's calls (views.imap): folders by name, messages by UID.
IMAP = ACCOUNT + "/imap"
# Routes whose path holds a secret: logs show their pattern, never the path (middlewares.py).
SECRET_ROUTES = frozenset(
    {"session", "end_session", "token_owner", "password_reset", "use_password_reset", "invitation"}
)
# Routes whose success may change what /v1/recipients and /v1/mailboxes answer for some
# address (who it reaches, whether it takes mail, the room under a quota): a
# ``directory`` event follows each (middlewares.directory_middleware, events.py), and
# the gateways forget their cached answers. Not every delivery or deletion that changes
# an account's usage: those leave the cache to its TTL; an emptied Trash does not.
DIRECTORY_ROUTES = frozenset(
    {
        "create_account",
        "delete_account",
        "set_quota",
        "empty_trash",
        "admin_create_account",
        "admin_disable",
        "admin_enable",
        "admin_set_admin",  # role addresses (postmaster@...) reach the administrators
        "admin_delete",
        "admin_set_quota",
        "admin_add_alias",
        "admin_remove_alias",
        "admin_create_list",
        "admin_delete_list",
        "admin_add_members",
        "admin_remove_members",
        "admin_list_policy",
        "admin_set_catchall",
        "admin_unset_catchall",
    }
)
# The web's /admin pages (views/admin.py): the web checks that its user is an administrator.
ADMIN = "/v1/admin"
ADMIN_LIST = ADMIN + "/lists/{address}"
ADMIN_ACCOUNT = ADMIN + "/accounts/{address}"


def setup_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/healthz", health.healthz, name="healthz")
    router.add_get("/readyz", health.readyz, name="readyz")
    router.add_get("/metrics", health.metrics, name="metrics")
    router.add_get("/openapi.json", health.openapi, name="openapi")
    router.add_post("/v1/accounts", accounts.create_account, name="create_account")
    router.add_post("/v1/auth/verify", accounts.verify, name="verify")
    router.add_get("/v1/mailboxes/{address}", accounts.mailbox, name="mailbox")
    router.add_get("/v1/recipients/{address}", recipients.recipient, name="recipient")
    router.add_get("/v1/directory", accounts.directory, name="directory")
    router.add_get(ACCOUNT + "/folders", accounts.folders, name="folders")
    router.add_post(ACCOUNT + "/folders", folders.create, name="create_folder")
    router.add_patch(FOLDER, folders.rename, name="rename_folder")
    router.add_delete(FOLDER, folders.delete, name="delete_folder")
    router.add_get(ACCOUNT + "/messages", messages.list_folder, name="messages")
    router.add_get(ACCOUNT + "/starred", messages.list_starred, name="starred")
    router.add_post(ACCOUNT + "/messages/bulk", messages.bulk, name="bulk")
    router.add_post(ACCOUNT + "/trash/empty", messages.empty_trash, name="empty_trash")
    router.add_get(ACCOUNT + "/search", messages.search, name="search")
    router.add_get(MESSAGE, messages.get_message, name="message")
    router.add_get(MESSAGE + "/conversation", messages.get_conversation, name="conversation")
    router.add_patch(MESSAGE, messages.update, name="update_message")
    router.add_delete(MESSAGE, messages.delete, name="delete_message")
    router.add_get(MESSAGE + "/raw", messages.get_raw, name="raw_message")
    router.add_get(
        MESSAGE + "/attachments/{n:[0-9]{1,10}}", messages.get_attachment, name="attachment"
    )
    router.add_post(MESSAGE + "/trash", messages.trash, name="trash_message")
    router.add_post(MESSAGE + "/restore", messages.restore, name="restore_message")
    router.add_post(MESSAGE + "/move", messages.move, name="move_message")
    router.add_post(ACCOUNT + "/drafts", drafts.save, name="save_draft")
    router.add_delete(ACCOUNT + "/drafts/{id:[0-9]{1,20}}", drafts.delete, name="delete_draft")
    router.add_get(IMAP + "/folders", imap.list_folders, name="imap_folders")
    router.add_get(IMAP + "/status", imap.folder_status, name="imap_status")
    router.add_post(IMAP + "/folders", imap.create_folder, name="imap_create")
    router.add_post(IMAP + "/folders/rename", imap.rename_folder, name="imap_rename")
    router.add_post(IMAP + "/folders/delete", imap.delete_folder, name="imap_delete")
    router.add_post(IMAP + "/folders/subscription", imap.subscribe, name="imap_subscribe")
    router.add_get(IMAP + "/subscriptions", imap.list_subscriptions, name="imap_subscriptions")
    router.add_get(IMAP + "/select", imap.select, name="imap_select")
    router.add_post(IMAP + "/fetch", imap.fetch, name="imap_fetch")
    router.add_get(IMAP + "/raw", imap.raw, name="imap_raw")
    router.add_post(IMAP + "/store", imap.store, name="imap_store")
    router.add_post(IMAP + "/copy", imap.copy, name="imap_copy")
    router.add_post(IMAP + "/move", imap.move, name="imap_move")
    router.add_post(IMAP + "/expunge", imap.expunge, name="imap_expunge")
    router.add_get(IMAP + "/changes", imap.changes, name="imap_changes")
    router.add_post(IMAP + "/recent", imap.claim_recent, name="imap_recent")
    router.add_post(IMAP + "/append", imap_append.append, name="imap_append")
    router.add_post(IMAP + "/search", imap.search, name="imap_search")
    router.add_post(ACCOUNT + "/pop3/lock", pop3.take_lock, name="pop3_lock")
    router.add_delete(ACCOUNT + "/pop3/lock", pop3.release_lock, name="pop3_unlock")
    router.add_post("/v1/sessions", sessions.create_session, name="create_session")
    router.add_get("/v1/sessions/{secret}", sessions.get_session, name="session")
    router.add_delete("/v1/sessions/{secret}", sessions.end_session, name="end_session")
    router.add_delete(ACCOUNT + "/sessions", sessions.end_sessions_of, name="end_sessions")
    router.add_get(ACCOUNT + "/sessions", sessions.list_sessions, name="sessions")
    router.add_delete(
        ACCOUNT + "/sessions/{id:[0-9]{1,20}}", sessions.end_session_by_id, name="end_session_id"
    )
    router.add_post(ACCOUNT + "/password", accounts.change_password, name="change_password")
    router.add_post(ACCOUNT + "/delete", accounts.delete_account, name="delete_account")
    router.add_get(ACCOUNT + "/aliases", recipients.aliases, name="aliases")
    router.add_get(ACCOUNT + "/profile", profile.get_profile, name="profile")
    router.add_get(ACCOUNT + "/quota", quotas.get_quota, name="quota")
    router.add_put(ACCOUNT + "/quota", quotas.set_quota, name="set_quota")
    router.add_patch(ACCOUNT + "/profile", profile.update_profile, name="update_profile")
    router.add_post(ACCOUNT + "/tokens", sessions.create_token, name="create_token")
    router.add_get(ACCOUNT + "/tokens", sessions.list_tokens, name="tokens")
    router.add_delete(
        ACCOUNT + "/tokens/{id:[0-9]{1,20}}", sessions.revoke_token, name="revoke_token"
    )
    router.add_get("/v1/tokens/{token}", sessions.token_owner, name="token_owner")
    router.add_get("/v1/password-resets/{token}", resets.get_reset, name="password_reset")
    router.add_post("/v1/password-resets/{token}", resets.use_reset, name="use_password_reset")
    router.add_post("/v1/throttle", throttle.hit, name="throttle")
    router.add_delete("/v1/throttle/{key}", throttle.forget, name="forget_throttle")
    router.add_get("/v1/registration", admin.registration, name="registration")
    router.add_get("/v1/invitations/{token}", admin.invitation, name="invitation")
    router.add_get(ADMIN, admin.overview, name="admin_overview")
    router.add_put(ADMIN + "/registration", admin.set_registration, name="admin_registration")
    router.add_get(ADMIN + "/accounts", admin.list_accounts, name="admin_accounts")
    router.add_post(ADMIN + "/accounts", admin.create_account, name="admin_create_account")
    router.add_post(ADMIN_ACCOUNT + "/disable", admin.disable, name="admin_disable")
    router.add_post(ADMIN_ACCOUNT + "/enable", admin.enable, name="admin_enable")
    router.add_post(ADMIN_ACCOUNT + "/admin", admin.set_admin, name="admin_set_admin")
    router.add_post(ADMIN_ACCOUNT + "/delete", admin.delete_account, name="admin_delete")
    router.add_post(ADMIN_ACCOUNT + "/quota", admin.set_quota, name="admin_set_quota")
    router.add_post(ADMIN_ACCOUNT + "/reset-link", admin.reset_link, name="admin_reset_link")
    router.add_get(ADMIN + "/aliases", admin.list_aliases, name="admin_aliases")
    router.add_post(ADMIN + "/aliases", admin.add_alias, name="admin_add_alias")
    router.add_post(ADMIN + "/aliases/{address}/delete", admin.remove_alias,
                    name="admin_remove_alias")  # fmt: skip
    router.add_get(ADMIN + "/lists", admin_lists.list_lists, name="admin_lists")
    router.add_post(ADMIN + "/lists", admin_lists.create_list, name="admin_create_list")
    router.add_get(ADMIN_LIST, admin_lists.get_list, name="admin_list")
    router.add_post(ADMIN_LIST + "/delete", admin_lists.delete_list, name="admin_delete_list")
    router.add_post(ADMIN_LIST + "/members", admin_lists.add_members, name="admin_add_members")
    router.add_post(ADMIN_LIST + "/members/delete", admin_lists.remove_members,
                    name="admin_remove_members")  # fmt: skip
    router.add_post(ADMIN_LIST + "/policy", admin_lists.set_policy, name="admin_list_policy")
    router.add_get(ADMIN + "/catchalls", admin_lists.list_catchalls, name="admin_catchalls")
    router.add_post(ADMIN + "/catchalls/{domain}", admin_lists.set_catchall,
                    name="admin_set_catchall")  # fmt: skip
    router.add_post(ADMIN + "/catchalls/{domain}/delete", admin_lists.unset_catchall,
                    name="admin_unset_catchall")  # fmt: skip
    router.add_get(ADMIN + "/invitations", admin.list_invitations, name="admin_invitations")
    router.add_post(ADMIN + "/invitations", admin.create_invitation, name="admin_invite")
    router.add_post(ADMIN + "/invitations/{id:[0-9]{1,20}}/revoke", admin.revoke_invitation,
                    name="admin_revoke_invitation")  # fmt: skip
    router.add_get(ADMIN + "/audit", admin.audit, name="admin_audit")
    router.add_get(ADMIN + "/unclaimed", admin.list_unclaimed, name="admin_unclaimed")
    router.add_get(ADMIN + "/unclaimed/{id}/raw", admin.unclaimed_raw, name="admin_unclaimed_raw")
    router.add_post(ADMIN + "/unclaimed/{id}/delete", admin.delete_unclaimed,
                    name="admin_delete_unclaimed")  # fmt: skip
    router.add_post(ADMIN + "/unclaimed/{id}/deliver", admin.deliver_unclaimed,
                    name="admin_deliver_unclaimed")  # fmt: skip
