"""Wrong SMS codes are counted on the server, in the transaction that reads the registration: an old
cookie sent again, or many attempts at once, cannot reset or outrun the count. On SQLite and on
PostgreSQL, through the portal with the citizen information and SMS sandbox (secure mode, mTLS)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from web_support import PORTAL_COOKIE, token

from adapters.config import AdapterConfig
from adapters.sandbox.people import seeded_people
from adapters.sandbox.server import SandboxServer
from adapters.tls import ServerTls
from certs.store import load_signing_identity
from certs.trust import TrustStore
from huiju.errors import InputError
from huiju.models import PendingRegistration, Resident, User
from huiju.runtime import Runtime
from huiju.services.registration import MAX_CODE_ATTEMPTS, confirm_registration

PASSWORD = "Huiju2026pass"
PHONE = "13912345678"


@pytest.fixture(scope="module")
def sandbox(pki: Path) -> Iterator[SandboxServer]:
    server = SandboxServer(port=0, trust=TrustStore.load(pki), signer=load_signing_identity(pki, "sandbox"),
                           tls=ServerTls.from_store(pki, "sandbox"))  # fmt: skip
    with server:
        yield server


@pytest.fixture
def waiting(app: Flask, runtime: Runtime, sandbox: SandboxServer) -> tuple[FlaskClient, str]:
    """A browser whose registration waits for its code; the code the SMS sandbox received."""
    with runtime.db.transaction() as session:
        for system in ("citizen_info", "sms"):
            session.execute(update(AdapterConfig).where(AdapterConfig.system == system)
                            .values(endpoint=f"{sandbox.url}/{system}", operation_timeout=5.0))  # fmt: skip
        taken = set(session.scalars(select(Resident.id_number).join(User, User.resident_id == Resident.id)))
        known = set(session.scalars(select(Resident.id_number)))
        person = next(p for p in seeded_people() if p.id_number in known and p.id_number not in taken)
        session.scalars(select(Resident).where(Resident.id_number == person.id_number)).one().phone = PHONE
    browser = app.test_client()
    data = {"phone": PHONE, "name": person.name, "id_number": person.id_number, "password": PASSWORD,
            "password2": PASSWORD, "csrf_token": token(browser, "/portal/register")}  # fmt: skip
    reply = browser.post("/portal/register", data=data)
    assert reply.status_code == 302, reply.get_data(as_text=True)[:400]
    codes = [m["params"]["code"] for m in sandbox.state.stores.sms.values()
             if m["phone"] == PHONE and m["template"] == "REGISTRATION_CODE"]  # fmt: skip
    return browser, str(codes[-1])


def confirm(browser: FlaskClient, code: str) -> Any:
    return browser.post("/portal/register/confirm", data={"code": code, "csrf_token": token(browser, "/portal/")})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_an_old_cookie_sent_again_does_not_reset_the_count(waiting: tuple[FlaskClient, str], runtime: Runtime) -> None:
    browser, code = waiting
    cookie = browser.get_cookie(PORTAL_COOKIE)
    assert cookie is not None
    old = cookie.value  # the cookie as it was before any wrong code
    for _ in range(MAX_CODE_ATTEMPTS):
        assert "验证码不正确" in confirm(browser, wrong(code)).get_data(as_text=True)
        browser.set_cookie(PORTAL_COOKIE, old)  # sent again each time, as a replaying client would
    reply = confirm(browser, code)  # the right code, too late
    assert reply.status_code == 400 and "错误次数过多" in reply.get_data(as_text=True)
    with runtime.db.sessions() as session:
        assert session.scalar(select(PendingRegistration.attempts)) == MAX_CODE_ATTEMPTS
        assert session.scalar(select(User.id).where(User.username == PHONE)) is None


def test_attempts_at_once_cannot_outrun_the_count(waiting: tuple[FlaskClient, str], runtime: Runtime) -> None:
    _browser, code = waiting
    with runtime.db.sessions() as session:
        token_hash = session.scalars(select(PendingRegistration.token_hash)).one()
    # The service by the stored row (the token itself only the browser has): a stand-in token whose
    # hash is the row's, so that twelve threads can guess at once.
    with runtime.db.transaction() as session:
        session.execute(update(PendingRegistration).values(token_hash=hashlib.sha256(b"parallel-token").hexdigest()))
    assert token_hash
    outcomes: list[str] = []
    lock = threading.Lock()

    def guess(n: int) -> None:
        try:
            confirm_registration(runtime.db, "parallel-token", f"{n:06d}" if f"{n:06d}" != code else wrong(code),
                                 runtime.settings.secret_key.encode())  # fmt: skip
        except InputError as refused:
            with lock:
                outcomes.append(refused.message)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(set(outcomes)) == ["the code is not the one we sent", "too many wrong codes; register again"]
    assert outcomes.count("the code is not the one we sent") == MAX_CODE_ATTEMPTS
    with runtime.db.sessions() as session:
        assert session.scalar(select(PendingRegistration.attempts)) == MAX_CODE_ATTEMPTS


def test_the_right_code_within_the_attempts_registers(waiting: tuple[FlaskClient, str], runtime: Runtime) -> None:
    browser, code = waiting
    confirm(browser, wrong(code))
    assert confirm(browser, code).status_code == 302
    with runtime.db.sessions() as session:
        assert session.scalar(select(User.id).where(User.username == PHONE)) is not None
        assert session.scalar(select(PendingRegistration.token_hash)) is None  # used up
