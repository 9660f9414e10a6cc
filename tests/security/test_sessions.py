"""Server-side sessions: the cookie carries a random token only; signing out, a password change and
an administrator disabling a user end every session of that user at once; idle and absolute
timeouts are settings. On SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from freezegun import freeze_time
from sqlalchemy import event, func, select, update
from web_support import (
    CONSOLE_COOKIE,
    OFFICER,
    PORTAL_COOKIE,
    RESIDENT,
    console_sign_in,
    console_signed_in,
    copy_cookie,
    portal_sign_in,
    portal_signed_in,
    token,
)

from huiju.app.seed import DEMO_PASSWORD
from huiju.app.web import create_app
from huiju.models import User, WebSession
from huiju.runtime import Runtime
from huiju.services.sessions import end_sessions_of_user
from tests.security.conftest import make_runtime


def sessions(runtime: Runtime, username: str) -> int:
    with runtime.db.sessions() as session:
        return int(
            session.scalar(select(func.count()).select_from(WebSession).join(User).where(User.username == username))
            or 0
        )


def test_a_copied_portal_cookie_stops_working_at_sign_out(app: Flask, runtime: Runtime) -> None:
    browser = app.test_client()
    assert portal_sign_in(browser).status_code == 302
    thief = copy_cookie(app, browser, PORTAL_COOKIE, "/")
    assert portal_signed_in(thief)  # the copy works while the session lives
    browser.post("/portal/logout", data={"csrf_token": token(browser, "/portal/")})
    assert not portal_signed_in(browser)
    assert not portal_signed_in(thief)
    assert sessions(runtime, RESIDENT) == 0


def test_a_copied_console_cookie_stops_working_at_sign_out(app: Flask, runtime: Runtime) -> None:
    browser = app.test_client()
    assert console_sign_in(browser).status_code == 302
    thief = copy_cookie(app, browser, CONSOLE_COOKIE, "/console")
    assert console_signed_in(thief)
    browser.post("/console/login/out", data={"csrf_token": token(browser, "/console/inbox/")})
    assert not console_signed_in(browser)
    assert not console_signed_in(thief)
    assert sessions(runtime, OFFICER) == 0


def test_the_cookie_is_a_random_token_and_the_database_keeps_only_its_hash(app: Flask, runtime: Runtime) -> None:
    browser = app.test_client()
    before = token(browser, "/portal/login") and browser.get_cookie(PORTAL_COOKIE)
    portal_sign_in(browser)
    cookie = browser.get_cookie(PORTAL_COOKIE)
    assert cookie is not None and before is not None
    assert cookie.value != before.value  # a new token at sign-in: no session fixation
    assert len(cookie.value) >= 43 and "." not in cookie.value and RESIDENT not in cookie.value
    assert cookie.http_only and cookie.same_site == "Lax"
    with runtime.db.sessions() as session:
        hashes = set(session.scalars(select(WebSession.token_hash)))
    assert hashlib.sha256(cookie.value.encode()).hexdigest() in hashes
    assert cookie.value not in hashes and hashlib.sha256(before.value.encode()).hexdigest() not in hashes
    fixed = app.test_client()
    fixed.set_cookie(PORTAL_COOKIE, before.value)  # the token before sign-in is worth nothing now
    assert not portal_signed_in(fixed)


def test_a_password_change_signs_out_every_other_session(app: Flask, runtime: Runtime) -> None:
    phone, laptop = app.test_client(), app.test_client()
    portal_sign_in(phone)
    portal_sign_in(laptop)
    thief = copy_cookie(app, laptop, PORTAL_COOKIE, "/")
    reply = laptop.post(
        "/portal/account/password",
        data={"csrf_token": token(laptop, "/portal/account/password"), "current_password": DEMO_PASSWORD,
              "new_password": "new-secret-2026", "new_password2": "new-secret-2026"},
    )  # fmt: skip
    assert reply.status_code == 302, reply.get_data(as_text=True)[:500]
    assert portal_signed_in(laptop)  # the one who changed it goes on, in a new session
    assert not portal_signed_in(phone) and not portal_signed_in(thief)
    assert sessions(runtime, RESIDENT) == 1
    again = app.test_client()
    assert portal_sign_in(again, password=DEMO_PASSWORD).status_code == 200  # the old password is refused
    assert portal_sign_in(again, password="new-secret-2026").status_code == 302


def test_a_wrong_current_password_changes_nothing(app: Flask, runtime: Runtime) -> None:
    browser, other = app.test_client(), app.test_client()
    portal_sign_in(browser)
    portal_sign_in(other)
    reply = browser.post(
        "/portal/account/password",
        data={"csrf_token": token(browser, "/portal/account/password"), "current_password": "guess-12345",
              "new_password": "new-secret-2026", "new_password2": "new-secret-2026"},
    )  # fmt: skip
    assert reply.status_code == 400 and "当前密码不正确" in reply.get_data(as_text=True)
    assert portal_signed_in(browser) and portal_signed_in(other)


def test_disabling_a_user_ends_every_session_at_once(app: Flask, runtime: Runtime) -> None:
    officer, resident = app.test_client(), app.test_client()
    console_sign_in(officer)
    portal_sign_in(resident)
    with runtime.db.transaction() as session:  # what the administration's "disable" does
        for username in (OFFICER, RESIDENT):
            user = session.scalars(select(User).where(User.username == username)).one()
            user.active = False
            assert end_sessions_of_user(session, user.id) == 1
    assert not console_signed_in(officer) and not portal_signed_in(resident)
    with runtime.db.transaction() as session:  # enabled again: the old cookies still sign nobody in
        session.execute(update(User).values(active=True))
    assert not console_signed_in(officer) and not portal_signed_in(resident)


@pytest.fixture
def short_sessions(tmp_path: Path, pki: Path, backend: dict[str, Any]) -> Iterator[Flask]:
    """Idle after 1 minute, at most 5 minutes in all."""
    rt = make_runtime(tmp_path, pki, session_idle_minutes=1, session_max_hours=5 / 60, **backend)
    yield create_app(rt, {"TESTING": True, "WTF_CSRF_TIME_LIMIT": None})
    rt.db.dispose()


def test_idle_and_absolute_timeouts_are_settings(short_sessions: Flask) -> None:
    with freeze_time(datetime(2026, 12, 7, 9, 0, tzinfo=UTC)) as clock:
        idle, busy = short_sessions.test_client(), short_sessions.test_client()
        portal_sign_in(idle)
        portal_sign_in(busy)
        for _minute in range(4):  # busy: a request every 50 s
            clock.tick(50)
            assert portal_signed_in(busy)
        assert not portal_signed_in(idle)  # 200 s without a request: over the idle limit
        clock.tick(50)
        assert portal_signed_in(busy)  # 250 s
        clock.tick(55)
        assert not portal_signed_in(busy)  # 305 s: past the absolute limit, however active


def test_an_officer_changing_the_password_in_the_console_signs_out_the_other_sessions(
    app: Flask, runtime: Runtime
) -> None:
    desk, laptop = app.test_client(), app.test_client()
    console_sign_in(desk)
    console_sign_in(laptop)
    reply = desk.post(
        "/console/account/password",
        data={"csrf_token": token(desk, "/console/account/password"), "current_password": DEMO_PASSWORD,
              "new_password": "officer-2026-pass", "new_password2": "officer-2026-pass"},
    )  # fmt: skip
    assert reply.status_code == 302, reply.get_data(as_text=True)[-800:]
    assert console_signed_in(desk) and not console_signed_in(laptop)
    assert sessions(runtime, OFFICER) == 1
    assert console_sign_in(app.test_client(), OFFICER, "officer-2026-pass").status_code == 302


@pytest.mark.parametrize(("sign_in", "signed_in", "username"), [
    (portal_sign_in, portal_signed_in, RESIDENT), (console_sign_in, console_signed_in, OFFICER),
])  # fmt: skip
def test_a_page_reads_its_user_with_the_session_and_still_refuses_a_deactivated_one(
    app: Flask, runtime: Runtime, sign_in: Any, signed_in: Any, username: str
) -> None:
    """One statement reads the session and its user (with office and street); the user is not read
    again. Deactivated behind the sessions' back (no sign-out anywhere), the user is refused all the same."""
    browser = app.test_client()
    assert sign_in(browser).status_code == 302
    assert signed_in(browser)  # the first page after signing in keeps the form token in the session
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engines = (runtime.db.engine, runtime.db.read_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        assert signed_in(browser)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)
    with_user = [s for s in statements if "huiju_user" in s and "FROM web_session" in s]
    user_alone = [s for s in statements if s.lstrip().startswith("SELECT huiju_user.")]
    assert len(with_user) == 1 and not user_alone, statements
    with runtime.db.transaction() as session:
        session.execute(update(User).where(User.username == username).values(active=False))
    assert not signed_in(browser)
