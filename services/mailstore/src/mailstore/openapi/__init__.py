"""The OpenAPI 3.1 document of the internal API, served at ``/openapi.json``.

Hand-written, so that it says what the contract promises rather than what a generator
inferred; tests check that every route of the table appears here and nothing else. The
document is assembled from one module per part of the API.
"""

from __future__ import annotations

from typing import Any

from mailstore.openapi.admin import ADMIN_PATHS, ADMIN_SCHEMAS
from mailstore.openapi.common import COMMON_SCHEMAS, error
from mailstore.openapi.imap import IMAP_PATHS, IMAP_SCHEMAS
from mailstore.openapi.mail import MAIL_PATHS, MAIL_SCHEMAS
from mailstore.openapi.pop3 import POP3_PATHS, POP3_SCHEMAS
from mailstore.openapi.quotas import QUOTA_PATHS, QUOTA_SCHEMAS
from mailstore.openapi.resets import RESET_PATHS, RESET_SCHEMAS
from mailstore.openapi.web_folders import WEB_FOLDER_PATHS, WEB_FOLDER_SCHEMAS
from mailstore.openapi.web_state import WEB_PATHS, WEB_SCHEMAS

_PATHS: dict[str, Any] = {
    **MAIL_PATHS,
    **WEB_PATHS,
    **WEB_FOLDER_PATHS,
    **IMAP_PATHS,
    **POP3_PATHS,
    **RESET_PATHS,
    **ADMIN_PATHS,
    **QUOTA_PATHS,
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Localpost mail store (internal)",
        "version": "1",
        "description": (
            "Every call that names a message also names the account; a message outside "
            'that account is 404. Errors are JSON {"error": ...}; 422 adds "fields".'
        ),
    },
    "security": [{"bearer": []}],
    "paths": _PATHS,
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            **COMMON_SCHEMAS,
            **MAIL_SCHEMAS,
            **WEB_SCHEMAS,
            **WEB_FOLDER_SCHEMAS,
            **IMAP_SCHEMAS,
            **POP3_SCHEMAS,
            **RESET_SCHEMAS,
            **ADMIN_SCHEMAS,
            **QUOTA_SCHEMAS,
        },
    },
}

# Every /v1 operation answers 401 without the service token and 403 with a wrong one;
# said once here, not 30 times (auth/verify's own 401, a wrong password, stays).
for _path, _item in _PATHS.items():
    if _path.startswith("/v1/"):
        for _method, _operation in _item.items():
            if _method != "parameters":
                _operation["responses"].setdefault("401", error("No service token"))
                _operation["responses"]["403"] = error("Wrong service token")
