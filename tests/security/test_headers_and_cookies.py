"""The same security headers on the portal, the console (its decision pages cannot be framed), the
JSON API and the inbound endpoint; HSTS and ``Secure`` cookies in production, on the portal too; a
console form posted without its CSRF token answers 400 with a page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from web_support import CONSOLE_COOKIE, PORTAL_COOKIE, console_sign_in, portal_sign_in, token

from huiju.app.web import create_app
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from tests.security.conftest import make_runtime
from tests.security.test_throttle import basic
from tests.support.canned import deliver_replies

SECRET = "a-production-secret-of-more-than-32-bytes"


def submitted(runtime: Runtime) -> str:
    with runtime.db.transaction() as session:
        case = submit_case(session, runtime.engine, load_actor(session, "officer-chaoyang-01"),
                           "elderly-care-subsidy", "110105193801012340",
                           {"income_band": "subsistence", "disability": "none", "living_alone": True})  # fmt: skip
        number = case.number
    deliver_replies(runtime)
    return number


def pages(app: Flask, runtime: Runtime) -> dict[str, tuple[FlaskClient, str]]:
    """A page of each front end, signed in where it needs it."""
    number = submitted(runtime)
    resident, officer, anonymous = app.test_client(), app.test_client(), app.test_client()
    portal_sign_in(resident)
    console_sign_in(officer)
    return {
        "portal home": (resident, "/portal/"),
        "portal sign-in": (anonymous, "/portal/login"),
        "portal 404": (anonymous, "/portal/nowhere"),
        "console sign-in": (anonymous, "/console/login/"),
        "console inbox": (officer, "/console/inbox/"),
        "console decision page": (officer, f"/console/cases/{number}"),
        "console 404": (officer, "/console/nowhere"),
        "api": (anonymous, "/api/v1/items"),
        "api 401": (anonymous, "/api/v1/tasks"),
        "inbound wsdl": (anonymous, "/exchange/soap?wsdl"),
        "health": (anonymous, "/healthz"),
    }


COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def test_every_front_end_sends_the_security_headers(sqlite_runtime: Runtime) -> None:
    app = create_app(sqlite_runtime, {"TESTING": True})
    for name, (client, path) in pages(app, sqlite_runtime).items():
        reply = client.get(path)
        assert reply.status_code in (200, 401, 404), (name, reply.status_code)
        for header, value in COMMON.items():
            assert reply.headers.get(header) == value, (name, header)
        assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"], name
        assert "camera=()" in reply.headers["Permissions-Policy"], name
        assert "Strict-Transport-Security" not in reply.headers, name  # plain HTTP in development
    decision = pages(app, sqlite_runtime)["console decision page"]
    assert "script-src 'self'" in decision[0].get(decision[1]).headers["Content-Security-Policy"]


@pytest.fixture
def production(tmp_path: Path, pki: Path) -> Iterator[tuple[Flask, Runtime]]:
    rt = make_runtime(tmp_path, pki, env="production", secret_key=SECRET)
    yield create_app(rt, {"TESTING": True}), rt
    rt.db.dispose()


def test_production_adds_hsts_and_secure_cookies_on_the_portal_too(production: tuple[Flask, Runtime]) -> None:
    app, rt = production
    for name, (client, path) in pages(app, rt).items():
        reply = client.get(path, base_url="https://localhost")
        assert reply.headers["Strict-Transport-Security"].startswith("max-age=31536000"), name
    resident, officer = app.test_client(), app.test_client()
    token(resident, "/portal/login")
    token(officer, "/console/login/")
    portal = resident.get_cookie(f"__Host-{PORTAL_COOKIE}")
    console = officer.get_cookie(f"__Secure-{CONSOLE_COOKIE}", path="/console")
    assert portal is not None and portal.secure and portal.http_only and portal.path == "/"
    assert console is not None and console.secure and console.http_only and console.path == "/console"


def test_a_console_post_without_its_csrf_token_is_a_400_page(app: Flask, runtime: Runtime) -> None:
    number = submitted(runtime)
    officer = app.test_client()
    console_sign_in(officer)
    for path in (
        "/console/login/out",
        f"/console/cases/{number}/retry",
        "/console/inbox/0/claim",
        f"/console/cases/{number}/tasks/0/decide",
    ):
        reply = officer.post(path, data={})
        assert reply.status_code == 400, (path, reply.status_code)
        body = reply.get_data(as_text=True)
        assert "<html" in body and "表单已过期" in body, path
    assert officer.get("/console/inbox/").status_code == 200  # still signed in: nothing was done


def test_the_api_sends_the_headers_on_its_answers_too(sqlite_runtime: Runtime) -> None:
    app = create_app(sqlite_runtime, {"TESTING": True})
    reply = app.test_client().get("/api/v1/tasks", headers=basic("officer-chaoyang-01", "huiju-demo"))
    assert reply.status_code == 200 and reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Content-Security-Policy"].startswith("default-src 'none'")
