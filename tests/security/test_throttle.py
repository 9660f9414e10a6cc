"""One throttle (Flask-Limiter, storage from the settings: memory:// on SQLite here, Redis beside
PostgreSQL) for the portal, the console, the API's HTTP Basic and /exchange/soap. Failed sign-ins
slow an account down and stop an address; nobody can lock a resident out at will."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from web_support import OFFICER, RESIDENT, console_sign_in, portal_sign_in, token

from huiju.app.seed import DEMO_PASSWORD
from huiju.app.web import create_app
from huiju.errors import ConfigurationError
from huiju.runtime import Runtime
from huiju.settings import load_settings
from huiju.web.throttle import throttle_of
from tests.security.conftest import make_runtime

LIMITS = {"signin_slowdown_after": 3, "signin_max_delay": 2, "signin_address_limit": "12 per 15 minutes",
          "exchange_rate_limit": "3 per minute"}  # fmt: skip


@pytest.fixture
def throttled(tmp_path: Path, pki: Path, backend: dict[str, Any]) -> Iterator[tuple[Flask, Runtime]]:
    rt = make_runtime(tmp_path, pki, **LIMITS, **backend)
    yield create_app(rt, {"TESTING": True}), rt
    rt.db.dispose()


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def api(client: FlaskClient, username: str, password: str, address: str) -> Any:
    return client.get("/api/v1/tasks", headers=basic(username, password), environ_base={"REMOTE_ADDR": address})


def poll(call: Any, done: Any, deadline_seconds: float = 15.0) -> Any:
    """Call until ``done(reply)`` (each 429 on the way names a wait within the settings)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        reply = call()
        if done(reply) or time.monotonic() > deadline:
            return reply
        if reply.status_code == 429:
            assert 1 <= int(reply.headers["Retry-After"]) <= LIMITS["signin_max_delay"]
        time.sleep(0.25)


def test_the_api_slows_down_wrong_passwords_but_the_right_one_still_works(throttled: tuple[Flask, Runtime]) -> None:
    app, _rt = throttled
    client = app.test_client()
    answers = [api(client, OFFICER, f"guess-{n}", f"10.1.0.{n}").status_code for n in range(30)]
    # 30 wrong passwords from 30 addresses, as fast as they come: after the third, most must wait
    assert answers[:3] == [401, 401, 401] and answers.count(429) >= 10, answers
    # A wrong password taken just now (the wait after it is up to 2 s here, a minute by default) ...
    assert poll(lambda: api(client, OFFICER, "guess", "10.2.0.9"), lambda r: r.status_code == 401).status_code == 401
    refused = api(client, OFFICER, DEMO_PASSWORD, "10.2.0.1")
    assert refused.status_code == 429 and refused.headers["Retry-After"]  # ... so even the right one waits
    assert refused.json is not None and refused.json["status"] == 429
    reply = poll(lambda: api(client, OFFICER, DEMO_PASSWORD, "10.2.0.1"), lambda r: r.status_code != 429)
    assert reply.status_code == 200  # never locked out: the wait is short and the right password works


def test_an_address_that_guesses_many_accounts_is_stopped_and_only_it(throttled: tuple[Flask, Runtime]) -> None:
    app, _rt = throttled
    client = app.test_client()
    for n in range(12):
        assert api(client, f"user-{n}", "guess", "10.3.0.1").status_code == 401
    assert api(client, OFFICER, DEMO_PASSWORD, "10.3.0.1").status_code == 429  # this address waits
    assert api(client, OFFICER, DEMO_PASSWORD, "10.3.0.2").status_code == 200  # nobody else does


def test_portal_console_and_api_share_one_count(throttled: tuple[Flask, Runtime]) -> None:
    app, _rt = throttled
    console_app = app.extensions["huiju.console"]
    web, console = throttle_of(app), throttle_of(console_app)
    assert web.limiter is console.limiter  # one limiter, one storage, for every front end
    # One wrong password for the same account through each front end (residents use the portal,
    # but a guess through the API or the console counts against them all the same).
    assert api(app.test_client(), RESIDENT, "guess-1", "10.4.0.1").status_code == 401
    assert portal_sign_in(app.test_client(), RESIDENT, "guess-2").status_code == 200  # the form and its error
    assert console_sign_in(app.test_client(), RESIDENT, "guess-3").status_code == 401
    assert web.failures(RESIDENT) == console.failures(RESIDENT) == 3
    assert portal_sign_in(app.test_client(), RESIDENT, DEMO_PASSWORD).status_code in (302, 429)
    reply = poll(lambda: portal_sign_in(app.test_client(), RESIDENT, DEMO_PASSWORD), lambda r: r.status_code != 429)
    assert reply.status_code == 302 and web.failures(RESIDENT) == 0  # a sign-in starts the count again


def test_the_portal_and_the_console_say_how_long_to_wait(tmp_path: Path, pki: Path) -> None:
    rt = make_runtime(tmp_path, pki, signin_slowdown_after=1, signin_max_delay=30)
    app = create_app(rt, {"TESTING": True})
    throttle = throttle_of(app)
    for account in (OFFICER, RESIDENT):
        for _ in range(6):
            throttle.failed(account, "10.7.0.1")  # the next attempt waits 30 s: time enough to look
    console = console_sign_in(app.test_client(), OFFICER, DEMO_PASSWORD)
    assert console.status_code == 429 and "秒后再试" in console.get_data(as_text=True)
    portal = portal_sign_in(app.test_client(), RESIDENT, DEMO_PASSWORD)
    assert portal.status_code == 429 and portal.headers["Retry-After"]
    assert "秒后再试" in portal.get_data(as_text=True)
    rt.db.dispose()


def test_unknown_and_known_accounts_are_throttled_alike(throttled: tuple[Flask, Runtime]) -> None:
    app, _rt = throttled
    client = app.test_client()
    known = [api(client, OFFICER, "guess", "10.5.0.1").status_code for _ in range(3)]
    unknown = [api(client, "officer-nobody", "guess", "10.5.0.2").status_code for _ in range(3)]
    assert known == unknown == [401, 401, 401]  # the answers say nothing about which accounts exist
    throttle = throttle_of(app)
    assert throttle.failures(OFFICER) == throttle.failures("officer-nobody") == 3


def test_the_inbound_endpoint_is_rate_limited(throttled: tuple[Flask, Runtime]) -> None:
    app, _rt = throttled
    client = app.test_client()
    statuses = [
        client.post("/exchange/soap", data=b"<x/>", environ_base={"REMOTE_ADDR": "10.6.0.1"}).status_code
        for _ in range(4)
    ]
    assert statuses[:3] == [500, 500, 500] and statuses[3] == 429  # refused faults, then throttled
    other = client.post("/exchange/soap", data=b"<x/>", environ_base={"REMOTE_ADDR": "10.6.0.2"})
    assert other.status_code == 500


def test_the_csrf_token_still_guards_the_sign_in_form(throttled: tuple[Flask, Runtime]) -> None:
    app, _rt = throttled
    client = app.test_client()
    assert token(client, "/portal/login")
    reply = client.post("/portal/login", data={"login": RESIDENT, "password": DEMO_PASSWORD})
    assert reply.status_code == 400


def test_the_counters_are_shared_by_every_web_process_when_scaled_out() -> None:
    assert load_settings(broker_url="", ratelimit_storage="").resolved_ratelimit_storage == "memory://"
    scaled = load_settings(broker_url="redis://10.0.0.5:6379/0", ratelimit_storage="")
    assert scaled.resolved_ratelimit_storage == "redis://10.0.0.5:6379/0"  # the broker's Redis, by default
    own = load_settings(broker_url="redis://10.0.0.5:6379/0", ratelimit_storage="redis://10.0.0.6:6379/2")
    assert own.resolved_ratelimit_storage == "redis://10.0.0.6:6379/2"
    with pytest.raises(ConfigurationError):
        load_settings(ratelimit_storage="mongodb://10.0.0.7")
