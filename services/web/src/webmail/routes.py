"""The web service's route table: pages, the JSON API, live updates, health."""

from __future__ import annotations

from aiohttp import web

from webmail import assets, autoconfig, autodiscover
from webmail.views import (
    account_settings,
    accounts,
    admin,
    admin_lists,
    api,
    api_admin,
    api_folders,
    compose,
    conversations,
    drafts,
    folders,
    health,
    live,
    mail,
    mail_programs,
    reset,
    trash,
)
from webmail.views.common import FOLDER_ID

MESSAGE = r"/messages/{id:[0-9]{1,19}}"
API_MESSAGE = r"/api/v1/messages/{id:[0-9]{1,19}}"
FOLDER = "/folders/{folder:" + FOLDER_ID + "}"
API_TOKEN = r"/api/v1/tokens/{id:[0-9]{1,19}}"  # noqa: S105 - a path, not a secret
SETTINGS = "/settings/mail-programs"
# A one-time password-reset link; its token is a secret (access_log.py keeps it out of logs).
RESET = "/reset/{token}"
# A one-time sign-up invitation (registration "invite"); a secret like RESET's.
INVITE = "/invite/{token}"
ADMIN_ACCOUNT = "/admin/accounts/{address}"
API_ADMIN = "/api/v1/admin"
ADMIN_ACTION = "{action:disable|enable|grant|revoke|reset-link}"
LIST_ACTION = "{action:members|members/remove|policy|delete}"
SETTINGS_SESSION = r"/settings/sessions/{id:[0-9]{1,19}}"
SETTINGS_TOKEN = r"/settings/tokens/{id:[0-9]{1,19}}"  # noqa: S105 - a path, not a secret


def setup_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/healthz", health.healthz, name="healthz")
    router.add_get("/readyz", health.readyz, name="readyz")
    router.add_get("/metrics", health.metrics, name="metrics")
    router.add_get("/static/" + assets.NAME, assets.serve, name="static")
    router.add_get("/favicon.ico", health.favicon, name="favicon")

    # Mail programs' autoconfiguration (no login: programs ask before they have one).
    for n, path in enumerate(autoconfig.PATHS):
        router.add_get(path, mail_programs.thunderbird, name=f"autoconfig_{n}")
    for n, path in enumerate(autodiscover.PATHS):
        router.add_post(path, mail_programs.outlook, name=f"autodiscover_{n}")
        router.add_get(path, mail_programs.outlook, name=f"autodiscover_probe_{n}")
    router.add_get("/settings", account_settings.show, name="settings")
    router.add_post("/settings/profile", account_settings.save_profile, name="save_profile")
    router.add_post("/settings/reading", account_settings.save_reading, name="save_reading")
    router.add_post("/settings/delete", account_settings.delete_account, name="delete_account")
    router.add_post("/settings/password", account_settings.change_password, name="password")
    router.add_post(SETTINGS_SESSION + "/end", account_settings.end_session, name="end_session")
    router.add_post("/settings/sessions/end-others", account_settings.end_other_sessions,
                    name="end_other_sessions")  # fmt: skip
    router.add_post("/settings/tokens", account_settings.create_token, name="create_token")
    router.add_post(SETTINGS_TOKEN + "/revoke", account_settings.revoke_token, name="revoke_token")
    router.add_get(SETTINGS, mail_programs.page, name="mail_programs")
    router.add_get(SETTINGS + "/profile.mobileconfig", mail_programs.profile, name="profile")
    router.add_post(SETTINGS + "/profile.mobileconfig", mail_programs.profile, name="profile_pw")
    router.add_get(SETTINGS + "/localpost.crt", mail_programs.certificate_file, name="certificate")

    router.add_get("/", mail.home, name="home")
    router.add_get("/register", accounts.register_form, name="register_form")
    router.add_post("/register", accounts.register, name="register")
    router.add_get("/login", accounts.login_form, name="login_form")
    router.add_post("/login", accounts.login, name="login")
    router.add_post("/logout", accounts.logout, name="logout")
    router.add_get(RESET, reset.reset_form, name="reset_form")
    router.add_post(RESET, reset.reset, name="reset")
    router.add_get(INVITE, accounts.register_form, name="invite_form")
    router.add_post(INVITE, accounts.register, name="invite")

    # Administrators only (views/admin.py); a 404 for everyone else.
    router.add_get("/admin", admin.overview, name="admin")
    router.add_post("/admin/registration", admin.set_registration, name="admin_registration")
    router.add_get("/admin/accounts", admin.accounts, name="admin_accounts")
    router.add_post("/admin/accounts", admin.create_account, name="admin_create_account")
    router.add_post(ADMIN_ACCOUNT + "/" + ADMIN_ACTION,
                    admin.account_action, name="admin_account_action")  # fmt: skip
    router.add_post(ADMIN_ACCOUNT + "/quota", admin.set_quota, name="admin_set_quota")
    router.add_get(ADMIN_ACCOUNT + "/delete", admin.delete_form, name="admin_delete_form")
    router.add_post(ADMIN_ACCOUNT + "/delete", admin.delete_account, name="admin_delete")
    router.add_get("/admin/aliases", admin.aliases, name="admin_aliases")
    router.add_post("/admin/aliases", admin.add_alias, name="admin_add_alias")
    router.add_post("/admin/aliases/{address}/delete", admin.remove_alias,
                    name="admin_remove_alias")  # fmt: skip
    router.add_get("/admin/lists", admin_lists.lists, name="admin_lists")
    router.add_post("/admin/lists", admin_lists.create_list, name="admin_create_list")
    router.add_get("/admin/lists/{address}", admin_lists.one_list, name="admin_list")
    router.add_post("/admin/lists/{address}/" + LIST_ACTION, admin_lists.list_action,
                    name="admin_list_action")  # fmt: skip
    router.add_post("/admin/catchall", admin_lists.set_catchall, name="admin_catchall")
    router.add_get("/admin/invitations", admin.invitations, name="admin_invitations")
    router.add_post("/admin/invitations", admin.create_invitation, name="admin_invite")
    router.add_post(r"/admin/invitations/{id:[0-9]{1,18}}/revoke", admin.revoke_invitation,
                    name="admin_revoke_invitation")  # fmt: skip
    router.add_get("/admin/audit", admin.audit, name="admin_audit")
    router.add_get("/admin/unclaimed", admin.unclaimed, name="admin_unclaimed")
    router.add_get("/admin/unclaimed/{id}/raw", admin.unclaimed_raw, name="admin_unclaimed_raw")
    router.add_post("/admin/unclaimed/{id}/delete", admin.delete_unclaimed,
                    name="admin_delete_unclaimed")  # fmt: skip
    router.add_post("/admin/unclaimed/{id}/deliver", admin.deliver_unclaimed,
                    name="admin_deliver_unclaimed")  # fmt: skip

    # Before the folder pattern: "starred" is no folder id, but would match it.
    router.add_get("/mail/starred", mail.folder, name="starred")
    router.add_get("/mail/{folder:" + FOLDER_ID + "}", mail.folder, name="folder")
    router.add_get("/folders", folders.manage, name="folders")
    router.add_post("/folders", folders.create, name="create_folder")
    router.add_post(FOLDER + "/rename", folders.rename, name="rename_folder")
    router.add_post(FOLDER + "/delete", folders.delete, name="delete_folder")
    router.add_get("/search", mail.search, name="search")
    router.add_post("/mail/actions", mail.bulk_action, name="bulk_action")
    router.add_post("/mail/trash/empty", trash.empty_trash, name="empty_trash")
    router.add_post("/mail/undo", trash.undo, name="undo")
    router.add_get(MESSAGE, mail.message, name="message")
    router.add_get(r"/conversations/{id:[0-9]{1,19}}", conversations.conversation,
                   name="conversation")  # fmt: skip
    router.add_get(MESSAGE + "/body", mail.message_body, name="message_body")
    router.add_post("/preferences/text-font", mail.text_font, name="text_font")
    router.add_get(MESSAGE + "/raw", mail.raw, name="message_raw")
    router.add_get(MESSAGE + "/attachments/{n:[0-9]{1,9}}", mail.attachment, name="attachment")
    router.add_post(MESSAGE + "/{action:read|unread|star|unstar|move|trash|restore|delete}",
                    mail.action, name="message_action")  # fmt: skip

    router.add_get("/compose", compose.compose_form, name="compose_form")
    router.add_post("/compose", compose.send, name="send")
    router.add_post("/compose/draft", drafts.save_draft, name="save_draft")
    router.add_get("/directory", compose.directory, name="directory")

    router.add_get("/live/events", live.events, name="live_events")
    router.add_get("/live/state", live.state, name="live_state")

    router.add_get("/api/v1/openapi.json", api.openapi, name="api_openapi")
    router.add_post("/api/v1/accounts", api.create_account, name="api_create_account")
    router.add_post("/api/v1/tokens", api.create_token, name="api_create_token")
    router.add_delete(API_TOKEN, api.revoke_token, name="api_revoke_token")
    router.add_get("/api/v1/messages", api.list_messages, name="api_messages")
    router.add_post("/api/v1/messages", api.send_message, name="api_send")
    router.add_post("/api/v1/drafts", drafts.api_save, name="api_save_draft")
    router.add_get(API_MESSAGE, api.get_message, name="api_message")
    router.add_delete(API_MESSAGE, api.delete_message, name="api_delete")
    router.add_get(API_MESSAGE + "/raw", api.get_raw, name="api_raw")
    router.add_get("/api/v1/search", api.search, name="api_search")
    router.add_get("/api/v1/folders", api_folders.list_folders, name="api_folders")
    router.add_post("/api/v1/folders", api_folders.create_folder, name="api_create_folder")
    router.add_patch("/api/v1" + FOLDER, api_folders.rename_folder, name="api_rename_folder")
    router.add_delete("/api/v1" + FOLDER, api_folders.delete_folder, name="api_delete_folder")
    router.add_patch(API_MESSAGE, api_folders.update_message, name="api_update")
    router.add_post(API_MESSAGE + "/move", api_folders.move_message, name="api_move")
    # Administrators' tokens only (views/api_admin.py); a 404 for everyone else.
    router.add_get(API_ADMIN + "/accounts", api_admin.list_accounts, name="api_admin_accounts")
    router.add_post(API_ADMIN + "/accounts", api_admin.create_account,
                    name="api_admin_create_account")  # fmt: skip
    router.add_post(API_ADMIN + "/accounts/{address}/" + ADMIN_ACTION, api_admin.account_action,
                    name="api_admin_account_action")  # fmt: skip
    router.add_delete(API_ADMIN + "/accounts/{address}", api_admin.delete_account,
                      name="api_admin_delete")  # fmt: skip
    router.add_put(API_ADMIN + "/registration", api_admin.set_registration,
                   name="api_admin_registration")  # fmt: skip
    router.add_get(API_ADMIN + "/audit", api_admin.audit, name="api_admin_audit")
    router.add_put(API_ADMIN + "/accounts/{address}/quota", api_admin.set_quota,
                   name="api_admin_quota")  # fmt: skip
    router.add_get(API_ADMIN + "/aliases", api_admin.list_aliases, name="api_admin_aliases")
    router.add_post(API_ADMIN + "/aliases", api_admin.add_alias, name="api_admin_add_alias")
    router.add_delete(API_ADMIN + "/aliases/{address}", api_admin.remove_alias,
                      name="api_admin_remove_alias")  # fmt: skip
    router.add_get(API_ADMIN + "/lists", api_admin.list_lists, name="api_admin_lists")
    router.add_post(API_ADMIN + "/lists", api_admin.create_list, name="api_admin_create_list")
    router.add_get(API_ADMIN + "/lists/{address}", api_admin.get_list, name="api_admin_list")
    router.add_patch(API_ADMIN + "/lists/{address}", api_admin.change_list,
                     name="api_admin_change_list")  # fmt: skip
    router.add_delete(API_ADMIN + "/lists/{address}", api_admin.delete_list,
                      name="api_admin_delete_list")  # fmt: skip
    router.add_get(API_ADMIN + "/catchalls", api_admin.list_catchalls,
                   name="api_admin_catchalls")  # fmt: skip
    router.add_put(API_ADMIN + "/catchalls/{domain}", api_admin.set_catchall,
                   name="api_admin_catchall")  # fmt: skip
    router.add_get(API_ADMIN + "/invitations", api_admin.list_invitations,
                   name="api_admin_invitations")  # fmt: skip
    router.add_post(API_ADMIN + "/invitations", api_admin.create_invitation,
                    name="api_admin_invite")  # fmt: skip
    router.add_delete(API_ADMIN + r"/invitations/{id:[0-9]{1,18}}", api_admin.revoke_invitation,
                      name="api_admin_revoke_invitation")  # fmt: skip
    router.add_get(API_ADMIN + "/unclaimed", api_admin.list_unclaimed,
                   name="api_admin_unclaimed")  # fmt: skip
    router.add_delete(API_ADMIN + "/unclaimed/{id}", api_admin.delete_unclaimed,
                      name="api_admin_delete_unclaimed")  # fmt: skip
    router.add_post(API_ADMIN + "/unclaimed/{id}/deliver", api_admin.deliver_unclaimed,
                    name="api_admin_deliver_unclaimed")  # fmt: skip
