"""The process, case-operation and catalogue pages called as every role: allowed, 403, or the page's
own answer; a refused call changes nothing (the case, its process and the item are as they were)."""

from __future__ import annotations

import pytest
from console_support import ITEM, csrf, sign_in, submit
from flask import Flask
from process_matrix import PROCESS_CONSOLE
from sqlalchemy import select

from huiju.models import Case, Item
from huiju.runtime import Runtime
from workflows_bpmn.models import ProcessDefinition, ProcessInstance


def _state(runtime: Runtime, number: str) -> tuple[object, ...]:
    with runtime.db.sessions() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        instance = session.get(ProcessInstance, case.process_instance_id)
        item = session.scalars(select(Item).where(Item.code == ITEM)).one()
        definitions = session.scalars(select(ProcessDefinition.id)).all()
        assert instance is not None
        return (case.status, instance.status, instance.definition_id, instance.lock_version, item.state,
                item.form_version, len(definitions))  # fmt: skip


@pytest.mark.parametrize(("method", "template", "expected"), PROCESS_CONSOLE,
                         ids=[f"{m} {p}" for m, p, _e in PROCESS_CONSOLE])  # fmt: skip
def test_process_routes(runtime: Runtime, app: Flask, method: str, template: str, expected: dict[str, int]) -> None:
    number = submit(runtime)
    path = template.format(pid="elderly_care_subsidy", ver=1, file="elderly_care_subsidy.bpmn", n=number, code=ITEM)
    anonymous = app.test_client().open(path, method=method)
    assert anonymous.status_code in (302, 400), path
    before = _state(runtime, number)
    for username, status in sorted(expected.items(), key=lambda kv: kv[1] in (200, 303)):
        client = app.test_client()
        assert sign_in(client, username) == 302
        data = {"csrf_token": csrf(client, "/console/"), "reason": "核查材料"}
        headers = {"X-CSRFToken": data["csrf_token"]}
        reply = client.open(path, method=method, data=data if method == "POST" else None, headers=headers)
        assert reply.status_code == status, f"{username} {method} {path}: {reply.status_code}, expected {status}"
        if status == 403:
            assert _state(runtime, number) == before, f"{username} {method} {path} changed something"
