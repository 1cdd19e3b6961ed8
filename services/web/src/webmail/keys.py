"""Every typed key the web service stores in its aiohttp application or requests."""

from __future__ import annotations

import jinja2
from aiohttp import web

from webmail.events import EventHub
from webmail.mailstore_client import MailstoreClient
from webmail.metrics import Metrics
from webmail.settings import Config
from webmail.submission import Submitter
from webmail.typedefs import ComposeForm, Principal

CONFIG = web.AppKey("config", Config)
MAILSTORE = web.AppKey("mailstore", MailstoreClient)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
SUBMITTER = web.AppKey("submitter", Submitter)
EVENTS = web.AppKey("events", EventHub)
METRICS = web.AppKey("metrics", Metrics)

# Per request: who it acts for (absent when nobody signed in).
PRINCIPAL = web.RequestKey("principal", Principal)
# The CSP nonce of the page being rendered.
NONCE = web.RequestKey("nonce", str)
# A CSRF cookie value created for this response (first visit).
NEW_CSRF_NONCE = web.RequestKey("new_csrf_nonce", str)
# The compose form, read as it streamed in by csrf_middleware (compose_form.py).
COMPOSE_FORM = web.RequestKey("compose_form", ComposeForm)
