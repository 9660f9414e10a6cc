"""The incidents page: each stopped case with its reason, in words, and when it stopped (Beijing time)."""

from __future__ import annotations

from console_support import FAR_OFFICER, OFFICER, sign_in, submit
from flask import Flask
from sqlalchemy import select

from huiju.calendar import CHINA
from huiju.models import Case
from huiju.runtime import Runtime
from workflows_bpmn.models import ProcessInstance


def test_the_incidents_page_shows_each_case_with_its_reason(app: Flask, runtime: Runtime) -> None:
    number = submit(runtime)
    with runtime.db.transaction() as session:
        instance_id = session.scalars(select(Case.process_instance_id).where(Case.number == number)).one()
        assert instance_id is not None
        runtime.engine.mark_incident(session, instance_id, "StepError: the model cannot take this reply")
    with runtime.db.sessions() as session:
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None
        since = instance.updated_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")

    client = app.test_client()
    assert sign_in(client, OFFICER) in (200, 302)
    page = client.get("/console/cases/incidents", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert number in page
    assert "流程步骤无法执行" in page and "StepError: the model cannot take this reply" in page
    assert since in page

    other = app.test_client()
    assert sign_in(other, FAR_OFFICER) in (200, 302)
    assert number not in other.get("/console/cases/incidents").get_data(as_text=True)
