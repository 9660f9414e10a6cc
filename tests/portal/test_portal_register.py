"""Registration: the identity is verified by a real signed SOAP call to the citizen information
sandbox (secure mode, mutual TLS), the phone by a code sent to it through the SMS sandbox; a
mismatch, bad input or a wrong code creates nothing; attempts are limited."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from portal_support import csrf_token, sent_code
from sqlalchemy import func, select

from adapters.sandbox.callbacks import FINAL
from adapters.sandbox.people import Person, seeded_people
from adapters.sandbox.server import SandboxServer
from exchange.log import MessageLogEntry, SignatureStatus
from huiju.models import Resident, User
from huiju.runtime import Runtime

PASSWORD = "Huiju2026pass"


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def unregistered(runtime: Runtime) -> Person:
    """A person of the sandbox who is a resident here, without an account yet."""
    with runtime.db.sessions() as session:
        taken = set(session.scalars(select(Resident.id_number).join(User, User.resident_id == Resident.id)))
        known = set(session.scalars(select(Resident.id_number)))
    return next(p for p in seeded_people() if p.id_number in known and p.id_number not in taken)


def register(client: FlaskClient, **fields: str) -> Any:
    token = csrf_token(text(client.get("/portal/register")))
    data = {"password": PASSWORD, "password2": PASSWORD, "csrf_token": token, **fields}
    return client.post("/portal/register", data=data)


def counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.db.sessions() as session:
        return (session.scalar(select(func.count()).select_from(User)) or 0,
                session.scalar(select(func.count()).select_from(MessageLogEntry)) or 0)  # fmt: skip


def confirm(client: FlaskClient, code: str) -> Any:
    token = csrf_token(text(client.get("/portal/register/confirm")))
    return client.post("/portal/register/confirm", data={"code": code, "csrf_token": token})


def test_register_verifies_the_identity_and_the_phone_then_signs_in(client: FlaskClient, runtime: Runtime,
                                                                   citizen_info: SandboxServer) -> None:  # fmt: skip
    person = unregistered(runtime)
    with runtime.db.transaction() as session:  # the phone the community has on record for them
        session.scalars(select(Resident).where(Resident.id_number == person.id_number)).one().phone = "13912345678"
    users, logged = counts(runtime)
    response = register(client, phone="139 1234 5678", name=person.name, id_number=person.id_number)
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/register/confirm")
    assert counts(runtime)[0] == users  # nothing created before the code comes back
    page = text(client.get("/portal/register/confirm"))
    assert "139****5678" in page
    code = sent_code(citizen_info, "13912345678")
    wrong = "000000" if code != "000000" else "111111"
    assert confirm(client, wrong).status_code == 400
    assert counts(runtime)[0] == users
    response = confirm(client, code)
    assert response.status_code == 302, text(response)
    assert "欢迎" in text(client.get("/portal/", follow_redirects=True))
    with runtime.db.sessions() as session:
        user = session.scalars(select(User).where(User.username == "13912345678")).one()
        assert user.resident is not None and user.resident.id_number == person.id_number
        assert user.resident.phone == "13912345678"
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        entries = session.scalars(select(MessageLogEntry).order_by(MessageLogEntry.id)).all()[logged:]
        # Each request went out signed, and each reply came back signed and verified.
        assert [(e.operation, e.signature_status) for e in entries] == [
            ("citizen_info.verify_identity", SignatureStatus.VALID),
            ("citizen_info.verify_identity", SignatureStatus.VALID),
            ("sms.send_sms", SignatureStatus.VALID),
            ("sms.send_sms", SignatureStatus.VALID),
        ]
    assert counts(runtime)[0] == users + 1
    client.post("/portal/logout", data={"csrf_token": csrf_token(text(client.get("/portal/")))})
    token = csrf_token(text(client.get("/portal/login")))
    assert client.post("/portal/login", data={"login": "13912345678", "password": PASSWORD,
                                              "csrf_token": token}).status_code == 302  # fmt: skip


def test_knowing_a_residents_name_and_id_number_is_not_enough_to_take_their_place(
    client: FlaskClient, runtime: Runtime, citizen_info: SandboxServer
) -> None:
    person = unregistered(runtime)  # a resident without an account; the community has their phone
    with runtime.db.sessions() as session:
        on_record = session.scalars(select(Resident.phone).where(Resident.id_number == person.id_number)).one()
    assert on_record
    users, _logged = counts(runtime)
    response = register(client, phone="13800000001", name=person.name, id_number=person.id_number)
    assert response.status_code == 400 and "社区登记的手机号码" in text(response)
    assert not [m for m in citizen_info.state.stores.sms.values() if m["phone"] == "13800000001"]
    # With the phone on record, the code goes to that phone, which the intruder does not hold.
    response = register(client, phone=on_record, name=person.name, id_number=person.id_number)
    assert response.status_code == 302
    for guess in ("123456", "000000", "111111", "222222", "333333"):
        if guess != sent_code(citizen_info, on_record):
            confirm(client, guess)
    refused = confirm(client, sent_code(citizen_info, on_record))  # even the right code, after 5 wrong ones
    assert refused.status_code == 400 and "错误次数过多" in text(refused)
    assert counts(runtime)[0] == users


def test_a_resident_without_a_phone_on_record_registers_after_the_community_records_it(
    client: FlaskClient, runtime: Runtime, citizen_info: SandboxServer
) -> None:
    person = unregistered(runtime)
    with runtime.db.transaction() as session:
        session.scalars(select(Resident).where(Resident.id_number == person.id_number)).one().phone = None
    response = register(client, phone="13700002222", name=person.name, id_number=person.id_number)
    assert response.status_code == 400 and "没有登记您的手机号码" in text(response)
    assert not [m for m in citizen_info.state.stores.sms.values() if m["phone"] == "13700002222"]


def test_a_name_that_does_not_match_is_refused_and_nothing_is_created(
    client: FlaskClient, runtime: Runtime, citizen_info: SandboxServer
) -> None:
    person = unregistered(runtime)
    users, logged = counts(runtime)
    response = register(client, phone="13912345679", name="王不对", id_number=person.id_number)
    assert response.status_code == 400
    assert "公民信息系统未能确认姓名 王不对" in text(response)
    assert counts(runtime) == (users, logged + 2)  # no account; the refused call is in the message log


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id_number": "110105193801012341"}, "校验"),  # GB 11643 check digit wrong
        ({"phone": "12345"}, "不是有效的大陆手机号码"),
        ({"password": "short1", "password2": "short1"}, "密码至少需要 8 个字符"),
        ({"password": "onlyletters", "password2": "onlyletters"}, "密码须同时包含字母和数字"),
        ({"password2": "Different123"}, "两次输入的密码不一致"),
    ],
)
def test_bad_input_is_refused_before_any_call(client: FlaskClient, runtime: Runtime, citizen_info: SandboxServer,
                                              fields: dict[str, str], message: str) -> None:  # fmt: skip
    person = unregistered(runtime)
    before = counts(runtime)
    data = {"phone": "13912345670", "name": person.name, "id_number": person.id_number, **fields}
    response = register(client, **data)
    assert response.status_code == 400
    assert message in text(response)
    assert counts(runtime) == before  # nothing created, nothing sent
    # Beside the field it concerns, tied to it, and in the summary that takes the focus.
    control = {"id_number": "id_number", "phone": "phone", "password": "password"}.get(next(iter(fields)), "password2")
    if "password2" in fields and "password" not in fields:
        control = "password2"
    page = text(response)
    assert f'id="{control}-error"' in page and f'aria-describedby="{control}-error"' in page
    assert f'<a href="#{control}">' in page and 'id="error-summary"' in page


def test_an_id_number_with_an_account_is_refused(client: FlaskClient, runtime: Runtime,
                                                 citizen_info: SandboxServer) -> None:  # fmt: skip
    from huiju.app.seed import DEMO_APPLICANT

    with runtime.db.sessions() as session:
        name = session.scalars(select(Resident.name).where(Resident.id_number == DEMO_APPLICANT)).one()
    before = counts(runtime)
    response = register(client, phone="13912345671", name=name, id_number=DEMO_APPLICANT)
    assert response.status_code == 400 and "该身份证号已注册账户" in text(response)
    assert counts(runtime)[0] == before[0]
    # Without the right name, nothing tells whether that ID number has an account.
    response = register(client, phone="13912345671", name="随便", id_number=DEMO_APPLICANT)
    assert response.status_code == 400 and "该身份证号已注册账户" not in text(response)


def test_registrations_are_limited_per_address(app: Flask, client: FlaskClient, runtime: Runtime) -> None:
    app.config["PORTAL_REGISTER_LIMIT"] = "2 per hour"
    for _ in range(2):
        assert register(client, phone="12", name="x", id_number="1").status_code == 400
    assert register(client, phone="12", name="x", id_number="1").status_code == 429


def test_the_registration_sms_delivery_report_is_accepted(app: Flask, client: FlaskClient, runtime: Runtime,
                                                          citizen_info: SandboxServer) -> None:  # fmt: skip
    """The SMS platform reports the registration code's delivery by a signed callback: the code went out
    while the resident waited (never through the outbox), and its report is accepted the first time."""
    import time

    from exchange.log import Kind, Outcome
    from tests.support.servers import serving

    person = unregistered(runtime)
    with runtime.db.transaction() as session:
        session.scalars(select(Resident).where(Resident.id_number == person.id_number)).one().phone = "13912345679"
    with serving(app) as url:
        citizen_info.call_back_to(f"{url}/exchange/soap", delay=0.05)
        try:
            response = register(client, phone="13912345679", name=person.name, id_number=person.id_number)
            assert response.status_code == 302, text(response)[:500]
            deadline = time.monotonic() + 30
            reports: list[Any] = []
            while time.monotonic() < deadline:
                known = citizen_info.callbacks.known.values()  # type: ignore[union-attr]
                reports = [c for c in known if c.operation == "NotifyDelivery"]
                if reports and all(c.outcome in FINAL for c in reports):
                    break
                time.sleep(0.1)
        finally:
            citizen_info.callbacks = citizen_info.app.callbacks = None
    assert [(c.outcome, c.attempts) for c in reports] == [("accepted", 1)], [c.to_json() for c in reports]
    with runtime.db.sessions() as session:
        logged = session.scalars(select(MessageLogEntry).where(MessageLogEntry.operation == "NotifyDelivery")).all()
        assert [(e.kind, e.outcome) for e in logged] == [(Kind.CALLBACK, Outcome.ACCEPTED)]
