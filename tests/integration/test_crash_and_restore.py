"""A killed worker loses nothing and repeats nothing; stored state survives a save/restore."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from huiju.models import Case, CaseStatus
from tests.integration.conftest import Driver, Sandbox, Worker, wait_for
from workflows_bpmn.models import ProcessInstance
from workflows_bpmn.serialization import WorkflowStore

pytestmark = pytest.mark.integration

APPLICANT = "110105193801012340"
ELIGIBLE = {"income_band": "low_income", "disability": "severe", "living_alone": True}


def submit_case_entries(sandbox: Sandbox, number: str) -> list[dict[str, object]]:
    return [j for j in sandbox.journal(operation="SubmitCase") if j["request"].get("caseNumber") == number]


def test_worker_killed_during_a_call_then_restarted_acts_once(driver: Driver, sandbox: Sandbox, worker: Worker) -> None:
    # The extranet acts, then answers only after 8 s: the worker dies in between.
    sandbox.fault("SubmitCase", "delay", count=1, seconds=8)
    number = driver.submit(APPLICANT, ELIGIBLE)
    driver.complete(number, "officer-chaoyang-01", "accept")
    driver.complete(number, "reviewer-wangjing-01", "approve")
    wait_for(lambda: submit_case_entries(sandbox, number), "the extranet to receive the case")
    worker.kill()
    assert driver.case(number).status is CaseStatus.PROCESSING
    worker.start()
    case = driver.wait_status(number, CaseStatus.CONCLUDED)
    assert case.outcome == "approved"
    entries = submit_case_entries(sandbox, number)
    # One request recorded for that message: the retry carried the same message id and the
    # extranet answered it from its journal instead of acting again.
    assert len(entries) == 1
    assert entries[0]["received_count"] == 2
    store = sandbox._request("GET", "/_sandbox/store")
    assert [c["case_number"] for c in store["cases"]].count(number) == 1


def test_every_wait_state_survives_a_save_restore_round_trip(driver: Driver) -> None:
    fresh = WorkflowStore()  # another serializer than the runtime's, as after a restart

    def round_trip(number: str) -> None:
        with driver.rt.db.transaction() as session:
            case = session.scalars(select(Case).where(Case.number == number)).one()
            instance = session.get(ProcessInstance, case.process_instance_id)
            assert instance is not None
            spec, subprocess_specs = driver.rt.engine.cache.get(instance.definition)
            restored = fresh.loads(instance.serialized, instance.serializer_version, spec, subprocess_specs, None)
            again = fresh.dumps(restored)
            assert again == instance.serialized
            instance.serialized = again  # carry on from the restored state

    number = driver.submit(APPLICANT, ELIGIBLE)
    for who, decision, data, status in [
        ("officer-chaoyang-01", "supplement", {"missing_materials": ["残疾人证"]}, CaseStatus.AWAITING_SUPPLEMENT),
        ("resident-zhang", "submit", {"materials": ["残疾人证.pdf"]}, CaseStatus.INTAKE),
        ("officer-chaoyang-01", "accept", {}, CaseStatus.STREET_REVIEW),
        ("reviewer-wangjing-01", "approve", {}, CaseStatus.CONCLUDED),
    ]:
        driver.wait_status(number, CaseStatus.INTAKE, CaseStatus.AWAITING_SUPPLEMENT, CaseStatus.STREET_REVIEW)
        round_trip(number)
        driver.complete(number, who, decision, **data)
        driver.wait_status(number, status)
    case = driver.wait_status(number, CaseStatus.CONCLUDED)
    assert case.outcome == "approved"
