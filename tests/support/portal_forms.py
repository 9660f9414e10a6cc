"""Signing in to the residents' portal through its own form, as a browser does (Flask's test client)."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from huiju.app.seed import DEMO_PASSWORD

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the form in ``html``."""
    match = _TOKEN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def log_in(client: FlaskClient, login: str, password: str = DEMO_PASSWORD) -> Any:
    """Sign in with the portal's sign-in form; the reply (302 on success)."""
    token = csrf_token(client.get("/portal/login").get_data(as_text=True))
    return client.post("/portal/login", data={"login": login, "password": password, "csrf_token": token})
