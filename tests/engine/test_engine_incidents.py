"""Incidents with their reasons, as the incidents page, /healthz and the metrics read them."""

from __future__ import annotations

from engine_support import DEAD, OFFICER, OTHER_OFFICER, REVIEWER, CaseDriver

from huiju.labels import label
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.incidents import count_incidents, list_incidents
from workflows_bpmn.runner import CALL_FAILED, STEP_FAILED


def incidents_of(rt: Runtime, username: str) -> list[tuple[str | None, str, str]]:
    with rt.db.sessions() as session:
        found = list_incidents(session, load_actor(session, username))
        return [(i.case.number if i.case else None, i.kind, i.detail) for i in found]


def counts(rt: Runtime) -> dict[str, int]:
    with rt.db.sessions() as session:
        return count_incidents(session)


def test_a_failed_call_is_listed_with_its_reason_for_those_who_see_the_case_until_retried(rt: Runtime) -> None:
    driver = CaseDriver(rt).submit()
    driver.settle_all()
    driver.replies["egov.submit_case"] = [DEAD]
    driver.complete(OFFICER, "accept")
    driver.complete(REVIEWER, "approve")
    assert counts(rt) == {}
    driver.settle_all()  # the acceptance notice's SMS, then the extranet's call, which fails for good

    [(number, kind, detail)] = incidents_of(rt, OFFICER)
    assert (number, kind) == (driver.number, CALL_FAILED)
    assert detail.startswith("egov.submit_case: ") and "service busy" in detail
    assert incidents_of(rt, REVIEWER) == incidents_of(rt, "admin") == [(number, kind, detail)]
    assert incidents_of(rt, OTHER_OFFICER) == []  # another community's case
    assert counts(rt) == {CALL_FAILED: 1}
    assert label("incident", kind, "zh_CN") != kind and label("incident", kind, "en") != kind

    driver.retry_incident()
    assert incidents_of(rt, OFFICER) == [] and counts(rt) == {}
    instance = driver.instance()
    assert (instance.incident_kind, instance.incident_detail) == (None, None)


def test_a_step_that_cannot_be_taken_is_an_incident_of_its_own_kind(rt: Runtime) -> None:
    driver = CaseDriver(rt).submit()
    with rt.db.transaction() as session:
        rt.engine.mark_incident(session, driver.instance_id, "StepError: the model cannot take this reply")
    [(number, kind, detail)] = incidents_of(rt, OFFICER)
    assert (number, kind, detail) == (driver.number, STEP_FAILED, "StepError: the model cannot take this reply")
    assert counts(rt) == {STEP_FAILED: 1}
