"""Signing in to the portal and the console through their forms, and copying a session cookie to
another browser (a test client of its own)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from huiju.app.seed import DEMO_PASSWORD

RESIDENT = "resident-zhang"
OFFICER = "officer-chaoyang-01"
PORTAL_COOKIE = "huiju_portal"
CONSOLE_COOKIE = "huiju_console"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def token(client: FlaskClient, path: str) -> str:
    found = _TOKEN.search(client.get(path, follow_redirects=True).get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def portal_sign_in(client: FlaskClient, login: str = RESIDENT, password: str = DEMO_PASSWORD) -> Any:
    data = {"login": login, "password": password, "csrf_token": token(client, "/portal/login")}
    return client.post("/portal/login", data=data, environ_base={"REMOTE_ADDR": "10.0.0.1"})


def console_sign_in(client: FlaskClient, username: str = OFFICER, password: str = DEMO_PASSWORD) -> Any:
    data = {"username": username, "password": password, "csrf_token": token(client, "/console/login/")}
    return client.post("/console/login/", data=data)


def portal_signed_in(client: FlaskClient) -> bool:
    reply = client.get("/portal/cases")
    return reply.status_code == 200


def console_signed_in(client: FlaskClient) -> bool:
    reply = client.get("/console/inbox/")
    return reply.status_code == 200


def copy_cookie(app: Flask, client: FlaskClient, name: str, path: str) -> FlaskClient:
    """Another browser holding a copy of ``client``'s cookie ``name`` (as a thief would)."""
    cookie = client.get_cookie(name, path=path)
    assert cookie is not None, f"no cookie {name}"
    thief = app.test_client()
    thief.set_cookie(name, cookie.value, path=path)
    return thief
