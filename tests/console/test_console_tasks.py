"""Claim, release and transfer (转办): the task service and its API routes."""

from __future__ import annotations

import base64
import threading

import pytest
from console_support import COLLEAGUE, FAR_OFFICER, OFFICER, OTHER_OFFICER, REVIEWER, csrf, ready_task, sign_in, submit
from flask import Flask
from processes_support import audited
from sqlalchemy import select

from huiju.app.seed import DEMO_PASSWORD
from huiju.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from huiju.models import CaseEvent
from huiju.runtime import Runtime
from huiju.services import tasks as task_service
from huiju.services.actors import load_actor
from workflows_bpmn.models import HumanTask


def _as(runtime: Runtime, username: str, fn, *args):  # type: ignore[no-untyped-def]
    with runtime.db.transaction() as session:
        task = fn(session, load_actor(session, username), *args)
        return task.assignee


def test_claim_release_transfer_leave_a_timeline(runtime: Runtime) -> None:
    submit(runtime)
    task_id = ready_task(runtime, "intake")
    assert _as(runtime, OFFICER, task_service.claim_task, task_id) == OFFICER
    with pytest.raises(ConflictError, match="already claimed by officer-chaoyang-01"):
        _as(runtime, COLLEAGUE, task_service.claim_task, task_id)
    with pytest.raises(ConflictError, match="not yours to release"):
        _as(runtime, COLLEAGUE, task_service.release_task, task_id)
    # The colleague no longer sees it in the inbox; the holder does.
    with runtime.db.sessions() as session:
        assert task_id not in [t.id for t in task_service.inbox(session, load_actor(session, COLLEAGUE))]
        assert task_id in [t.id for t in task_service.inbox(session, load_actor(session, OFFICER))]
    assert _as(runtime, OFFICER, task_service.release_task, task_id) is None
    assert _as(runtime, OFFICER, task_service.transfer_task, task_id, COLLEAGUE, "休假") == COLLEAGUE
    with runtime.db.sessions() as session:
        kinds = [(e.kind, e.actor, e.detail) for e in session.scalars(select(CaseEvent).order_by(CaseEvent.id))]
        transfer = session.scalars(select(CaseEvent).where(CaseEvent.kind == "task_transferred")).one()
    assert [k for k in kinds if k[0].startswith("task_") and k[0] != "task_ready"] == [
        ("task_claimed", OFFICER, OFFICER),
        ("task_released", OFFICER, OFFICER),
        ("task_transferred", OFFICER, COLLEAGUE),
    ]
    assert transfer.data["reason"] == "休假"
    # The audit trail has who held the task before each change, and who after.
    held = [(e["action"], e["before"]["assignee"], e["after"]["assignee"])
            for e in audited(runtime, "task.claim", "task.release", "task.transfer")]  # fmt: skip
    assert held == [("task.claim", None, OFFICER), ("task.release", OFFICER, None),
                    ("task.transfer", None, COLLEAGUE)]  # fmt: skip


@pytest.mark.parametrize(
    ("target", "reason", "error", "text"),
    [
        (COLLEAGUE, "  ", InputError, "needs a reason"),
        (OTHER_OFFICER, "忙", InputError, "not an officer of the same community"),
        (REVIEWER, "忙", InputError, "not an officer of the same community"),
        ("nobody-here", "忙", InputError, "no active account"),
        (OFFICER, "忙", InputError, "to oneself"),
    ],
)
def test_bad_transfers_are_refused_and_change_nothing(
    runtime: Runtime, target: str, reason: str, error: type[Exception], text: str
) -> None:
    submit(runtime)
    task_id = ready_task(runtime, "intake")
    with pytest.raises(error, match=text):
        _as(runtime, OFFICER, task_service.transfer_task, task_id, target, reason)
    with runtime.db.sessions() as session:
        assert session.get(HumanTask, task_id).assignee is None  # type: ignore[union-attr]
        assert not session.scalars(select(CaseEvent).where(CaseEvent.kind == "task_transferred")).all()


def test_other_communities_and_non_officers_cannot_take_a_task(runtime: Runtime) -> None:
    submit(runtime)
    task_id = ready_task(runtime, "intake")
    for username in (OTHER_OFFICER, FAR_OFFICER, REVIEWER):
        with pytest.raises(NotFoundError):
            _as(runtime, username, task_service.claim_task, task_id)
    for username in ("admin", "integrator", "resident-zhang"):
        with pytest.raises(PermissionDenied):
            _as(runtime, username, task_service.claim_task, task_id)


def _basic(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{DEMO_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept-Language": "en"}


def test_api_claim_release_transfer(runtime: Runtime, app: Flask) -> None:
    submit(runtime)
    task_id = ready_task(runtime, "intake")
    client = app.test_client()
    reply = client.post(f"/api/v1/tasks/{task_id}/claim", headers=_basic(OFFICER))
    assert reply.status_code == 200 and reply.json["assignee"] == OFFICER  # type: ignore[index]
    reply = client.post(f"/api/v1/tasks/{task_id}/claim", headers=_basic(COLLEAGUE))
    assert reply.status_code == 409  # same community: told who holds it
    assert client.post(f"/api/v1/tasks/{task_id}/claim", headers=_basic(OFFICER)).status_code == 409
    assert client.post(f"/api/v1/tasks/{task_id}/claim", headers=_basic(OTHER_OFFICER)).status_code == 404
    reply = client.post(f"/api/v1/tasks/{task_id}/transfer", headers=_basic(OFFICER), json={"to": COLLEAGUE})
    assert reply.status_code == 400
    reply = client.post(
        f"/api/v1/tasks/{task_id}/transfer", headers=_basic(OFFICER), json={"to": COLLEAGUE, "reason": "出差"}
    )
    assert reply.status_code == 200 and reply.json["assignee"] == COLLEAGUE  # type: ignore[index]
    assert client.post(f"/api/v1/tasks/{task_id}/release", headers=_basic(COLLEAGUE)).status_code == 200
    assert client.post(f"/api/v1/tasks/{task_id}/release", headers=_basic(COLLEAGUE)).status_code == 409


def test_two_officers_decide_the_same_task_at_once_in_the_console(runtime: Runtime, app: Flask) -> None:
    number = submit(runtime)
    task_id = ready_task(runtime, "intake")
    clients = {}
    for username in (OFFICER, COLLEAGUE):
        client = app.test_client()
        assert sign_in(client, username) == 302
        clients[username] = (client, csrf(client, f"/console/cases/{number}"))
    barrier = threading.Barrier(2)
    pages: dict[str, str] = {}

    def decide(username: str) -> None:
        client, token = clients[username]
        barrier.wait()
        reply = client.post(f"/console/cases/{number}/tasks/{task_id}/decide",
                            data={"csrf_token": token, "decision": "accept"}, follow_redirects=True)  # fmt: skip
        pages[username] = reply.get_data(as_text=True)

    threads = [threading.Thread(target=decide, args=(u,)) for u in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with runtime.db.sessions() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None and task.status.value == "completed" and task.completed_by in clients
        winner = task.completed_by
    loser = next(u for u in clients if u != winner)
    assert "已办理" in pages[winner]
    assert f"已由{winner}处理" in pages[loser]  # the clear message: who decided it first


def test_a_task_is_decided_only_under_its_own_case_number(runtime: Runtime, app: Flask) -> None:
    first = submit(runtime)
    first_task = ready_task(runtime, "intake")
    second = submit(runtime)
    client = app.test_client()
    assert sign_in(client, OFFICER) == 302
    token = csrf(client, f"/console/cases/{second}")
    reply = client.post(
        f"/console/cases/{second}/tasks/{first_task}/decide", data={"csrf_token": token, "decision": "accept"}
    )
    assert reply.status_code == 404
    with runtime.db.sessions() as session:
        task = session.get(HumanTask, first_task)
        assert task is not None and task.status.value == "ready"
    assert first != second
