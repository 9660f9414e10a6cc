"""The administration and integration pages called as every role: allowed, 403, or the page's own
answer; and a refused call changes nothing (the audit trail has no entry of it)."""

from __future__ import annotations

import pytest
from admin_matrix import ADMIN_CONSOLE
from console_support import csrf, sign_in
from flask import Flask
from sqlalchemy import func, select

from certs.store import init_dev_pki
from exchange.log import append as log_append
from huiju.models import AuditEntry, User
from huiju.runtime import Runtime
from huiju.services import roster
from huiju.services.actors import load_actor

ACCOUNT = "officer-chaoyang-02"


def _fixtures(runtime: Runtime) -> dict[str, str]:
    init_dev_pki(runtime.settings.resolved_certs_folder)
    with runtime.db.transaction() as session:
        job = roster.start_import(session, load_actor(session, "admin"), "r.csv",
                                  "姓名,身份证号码,所属社区\n王建华,110105195001010020,望京西园社区\n".encode(), dry_run=True)  # fmt: skip
        entry = log_append(session, direction="out", kind="request", outcome="sent", message_id="m-1", system="sms",
                           operation="sms.send_sms", envelope="<a/>")  # fmt: skip
        return {"u": ACCOUNT, "s": "sms", "i": str(job.id), "e": str(entry.id), "m": "m-1", "p": "officer-manual"}


def _audit_count(runtime: Runtime) -> int:
    with runtime.db.sessions() as session:
        return session.scalar(select(func.count(AuditEntry.id))) or 0


@pytest.mark.parametrize(("method", "template", "expected"), ADMIN_CONSOLE,
                         ids=[f"{m} {p}" for m, p, _e in ADMIN_CONSOLE])  # fmt: skip
def test_admin_routes(runtime: Runtime, app: Flask, method: str, template: str, expected: dict[str, int]) -> None:
    path = template.format(**_fixtures(runtime))
    anonymous = app.test_client().open(path, method=method)
    assert anonymous.status_code in (302, 400), path
    for username, status in sorted(expected.items(), key=lambda kv: kv[1] in (200, 303)):
        client = app.test_client()
        assert sign_in(client, username) == 302
        before = _audit_count(runtime)
        data = {"csrf_token": csrf(client, "/console/"), "reason": "调离", "days": "30"}
        reply = client.open(path, method=method, data=data if method == "POST" else None)
        assert reply.status_code == status, f"{username} {method} {path}: {reply.status_code}, expected {status}"
        if status == 403:
            assert _audit_count(runtime) == before, f"{username} {method} {path} left an audit entry"
            with runtime.db.sessions() as session:
                assert session.scalar(select(User.active).where(User.username == ACCOUNT)) is True
