"""The elderly-care subsidy, every branch, through the real sandbox and a real worker process."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from sqlalchemy import select

from adapters.sandbox.people import id_number as make_id_number
from adapters.sandbox.people import seeded_people
from exchange.models import OutboxMessage
from huiju.models import Case, CaseStatus, Document, Org, Resident
from tests.integration.conftest import Driver, Sandbox, wait_for

pytestmark = pytest.mark.integration

APPLICANT = "110105193801012340"  # 张秀英, born 1938, 望京西园社区
ELIGIBLE = {"income_band": "subsistence", "disability": "none", "living_alone": True}
OFFICER, OTHER_OFFICER, REVIEWER = "officer-chaoyang-01", "officer-liulitun-01", "reviewer-wangjing-01"


def sms_templates(sandbox: Sandbox, number: str) -> list[str]:
    store = sandbox._request("GET", "/_sandbox/store")
    return [m["template"] for m in store["sms"] if number in str(m.get("params"))]


def kinds(case: object) -> list[str]:
    return [e.kind for e in case.events]  # type: ignore[attr-defined]


def test_approved_case_reports_notifies_and_publishes(driver: Driver, sandbox: Sandbox) -> None:
    number = driver.submit(APPLICANT, ELIGIBLE)
    driver.wait_status(number, CaseStatus.INTAKE)
    driver.complete(number, OFFICER, "accept")
    driver.wait_status(number, CaseStatus.STREET_REVIEW)
    driver.complete(number, REVIEWER, "approve")
    case = driver.wait_status(number, CaseStatus.CONCLUDED)
    assert case.outcome == "approved"
    systems = [e.system for e in case.events if e.kind == "service_replied"]
    assert systems == ["sms", "citizen_info", "citizen_info", "egov_approval", "sms", "data_exchange"]
    submitted = [j for j in sandbox.journal(operation="SubmitCase") if j["request"].get("caseNumber") == number]
    assert len(submitted) == 1 and submitted[0]["received_count"] == 1
    assert submitted[0]["request"]["decidedBy"] == REVIEWER
    # The receipt (受理回执), the acceptance notice's link (受理通知书), the decision with its link.
    assert sms_templates(sandbox, number) == ["CASE_RECEIVED", "CASE_ACCEPTED", "SUBSIDY_APPROVED"]
    store = sandbox._request("GET", "/_sandbox/store")
    # The receipt SMS went to the applicant's phone and names the case.
    with driver.rt.db.sessions() as session:
        phone = session.scalars(select(Resident.phone).where(Resident.id_number == APPLICANT)).one()
    (receipt,) = [m for m in store["sms"] if m["template"] == "CASE_RECEIVED" and m["params"]["case_number"] == number]
    assert phone and receipt["phone"] == phone
    assert receipt["params"] == {"case_number": number, "item": "居家养老服务补贴"}
    records = [r["fields"] for r in store["records"]["elderly_care_subsidy"] if r["fields"]["case_number"] == number]
    assert len(records) == 1 and records[0]["tier"] == "A" and records[0]["monthly_amount"] == "600"

    # The worker made the PDFs of both documents once their decisions had committed (nobody opened them).
    def made() -> list[Document]:
        with driver.rt.db.sessions() as session:
            found = session.scalars(select(Document).join(Case).where(Case.number == number)).all()
        return list(found) if len(found) == 2 and all(d.content is not None for d in found) else []

    documents = wait_for(made, "the worker to make the case's two documents")
    assert sorted(d.kind for d in documents) == ["acceptance_notice", "approval_decision"]
    for document in documents:
        assert document.content is not None and document.content.startswith(b"%PDF")
        assert document.sha256 == hashlib.sha256(document.content).hexdigest() and document.size == len(
            document.content
        )


def test_supplement_goes_back_to_the_applicant_and_returns(driver: Driver, sandbox: Sandbox) -> None:
    number = driver.submit(APPLICANT, ELIGIBLE)
    driver.wait_status(number, CaseStatus.INTAKE)
    driver.complete(number, OFFICER, "supplement", missing_materials=["低保证", "户口簿"])
    driver.wait_status(number, CaseStatus.AWAITING_SUPPLEMENT)
    assert "SUPPLEMENT_REQUESTED" in sms_templates(sandbox, number)
    driver.complete(number, "resident-zhang", "submit", materials=["低保证.pdf", "户口簿.pdf"])
    driver.wait_status(number, CaseStatus.INTAKE)
    driver.complete(number, OFFICER, "accept")
    driver.complete(number, REVIEWER, "approve")
    case = driver.wait_status(number, CaseStatus.CONCLUDED)
    assert case.outcome == "approved"
    assert kinds(case).count("task_completed") == 4


def test_refused_at_intake(driver: Driver, sandbox: Sandbox) -> None:
    number = driver.submit(APPLICANT, ELIGIBLE)
    driver.complete(number, OFFICER, "refuse", reason="户籍不在本社区")
    case = driver.wait_status(number, CaseStatus.CONCLUDED)
    assert case.outcome == "refused"
    assert "CASE_REFUSED" in sms_templates(sandbox, number)


def test_denied_by_the_street(driver: Driver, sandbox: Sandbox) -> None:
    number = driver.submit(APPLICANT, ELIGIBLE)
    driver.complete(number, OFFICER, "accept")
    driver.complete(number, REVIEWER, "deny", reason="收入核查不符")
    case = driver.wait_status(number, CaseStatus.CONCLUDED)
    assert case.outcome == "denied"
    assert "SUBSIDY_DENIED" in sms_templates(sandbox, number)
    assert not [j for j in sandbox.journal(operation="SubmitCase") if j["request"].get("caseNumber") == number]


def test_too_young_is_ineligible(driver: Driver, sandbox: Sandbox) -> None:
    young = next(p for p in seeded_people() if p.birth_date.year >= 1975)
    number = driver.submit(young.id_number, {"income_band": "subsistence", "disability": "none", "living_alone": False})
    case = driver.wait_status(number, CaseStatus.CONCLUDED)
    assert case.outcome == "ineligible"
    assert "SUBSIDY_INELIGIBLE" in sms_templates(sandbox, number)


def test_identity_mismatch_ends_the_case(driver: Driver, sandbox: Sandbox) -> None:
    # Known to Huiju, unknown to the citizen information system.
    stranger = make_id_number("110105", date(1940, 3, 3), 998)
    with driver.rt.db.transaction() as session:
        community = session.scalars(select(Org).where(Org.code == "110105001001")).one()
        session.add(Resident(id_number=stranger, name="钱多多", phone="13900000001",
                             birth_date=date(1940, 3, 3), community=community))  # fmt: skip
    number = driver.submit(stranger, ELIGIBLE)
    case = driver.wait_status(number, CaseStatus.CONCLUDED)
    assert case.outcome == "identity_mismatch"
    assert "IDENTITY_MISMATCH" in sms_templates(sandbox, number)


def test_citizen_information_down_raises_an_incident_task_then_retry_succeeds(driver: Driver, sandbox: Sandbox) -> None:
    sandbox.fault("VerifyIdentity", "server_fault")  # until cleared: every retry fails
    number = driver.submit(APPLICANT, ELIGIBLE)
    case = driver.wait_status(number, CaseStatus.INCIDENT)
    failed = [e for e in case.events if e.kind == "service_failed"]
    assert failed and failed[0].system == "citizen_info"
    with driver.rt.db.sessions() as session:
        message_id = failed[0].data["message_id"]
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one()
        assert message.attempts == 3 and message.status.value == "dead"
    assert not sandbox.journal(message_id=message_id)  # refused calls acted on nothing
    # The officer sees the incident as a task of the case, and retries once the system is back.
    sandbox.clear_faults()
    driver.complete(number, OFFICER, "retry")
    driver.wait_status(number, CaseStatus.INTAKE)


def test_citizen_information_down_and_the_officer_closes_the_case(driver: Driver, sandbox: Sandbox) -> None:
    sandbox.fault("QueryPerson", "http_500")
    number = driver.submit(APPLICANT, ELIGIBLE)
    driver.wait_status(number, CaseStatus.INCIDENT)
    driver.complete(number, OFFICER, "close", reason="申请人要求撤回")
    case = driver.wait_status(number, CaseStatus.CONCLUDED)
    assert case.outcome == "closed"


def test_uncaught_failure_is_an_incident_that_an_officer_retries(driver: Driver, sandbox: Sandbox) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.cases import retry_incident

    sandbox.fault("PublishRecord", "client_fault")  # permanent: dead at the first attempt
    number = driver.submit(APPLICANT, ELIGIBLE)
    driver.complete(number, OFFICER, "accept")
    driver.complete(number, REVIEWER, "approve")
    case = driver.wait_status(number, CaseStatus.INCIDENT)
    # The incident's own event: an SMS delivery report of the same case may be recorded after it.
    incidents = [e for e in case.events if e.kind == "incident"]
    assert [e.system for e in incidents] == ["data_exchange"]
    sandbox.clear_faults()
    with driver.rt.db.transaction() as session:
        sent = retry_incident(session, driver.rt.engine, load_actor(session, OFFICER), number)
    assert len(sent) == 1
    case = driver.wait_status(number, CaseStatus.CONCLUDED)
    assert case.outcome == "approved"
    assert [j["received_count"] for j in sandbox.journal(message_id=sent[0])] == [1]


def test_officer_of_another_community_never_sees_the_task(driver: Driver) -> None:
    from huiju.errors import NotFoundError
    from huiju.services.actors import load_actor
    from huiju.services.tasks import complete_task

    number = driver.submit(APPLICANT, ELIGIBLE)
    task_id = driver.task_of(number, OFFICER)
    with pytest.raises(NotFoundError), driver.rt.db.transaction() as session:
        complete_task(session, driver.rt.engine, load_actor(session, OTHER_OFFICER), task_id, "accept", {})
    assert driver.case(number).status is CaseStatus.INTAKE


def test_unanswered_supplement_expires_by_the_workers_timer(driver: Driver) -> None:
    from sqlalchemy import update

    from huiju.errors import ConflictError
    from huiju.models import Item
    from huiju.services.actors import load_actor
    from huiju.services.tasks import complete_task

    with driver.rt.db.transaction() as session:  # this item's residents get two seconds, not 30 days
        session.execute(update(Item).where(Item.code == "elderly-care-subsidy").values(supplement_wait="PT2S"))
    try:
        number = driver.submit(APPLICANT, ELIGIBLE)
    finally:
        with driver.rt.db.transaction() as session:
            session.execute(update(Item).where(Item.code == "elderly-care-subsidy").values(supplement_wait="P30D"))
    driver.complete(number, OFFICER, "supplement", missing_materials=["户口簿"])
    driver.wait_status(number, CaseStatus.AWAITING_SUPPLEMENT)
    task_id = driver.task_of(number, "resident-zhang")
    case = driver.wait_status(number, CaseStatus.CONCLUDED)
    assert case.outcome == "supplement_expired"
    assert {"timer_fired", "task_cancelled"} <= set(kinds(case))
    with pytest.raises(ConflictError), driver.rt.db.transaction() as session:
        complete_task(session, driver.rt.engine, load_actor(session, "resident-zhang"), task_id, "submit", {})


def test_integrator_sends_a_dead_message_again_with_the_same_id(driver: Driver, sandbox: Sandbox) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.messages import retry_message

    sandbox.fault("SubmitCase", "http_429")  # transient, but for longer than the retry budget
    number = driver.submit(APPLICANT, ELIGIBLE)
    driver.complete(number, OFFICER, "accept")
    driver.complete(number, REVIEWER, "approve")
    case = driver.wait_status(number, CaseStatus.INCIDENT)
    [incident] = [e for e in case.events if e.kind == "incident"]  # delivery reports may follow it
    message_id = incident.data["message_id"]
    sandbox.clear_faults()
    with driver.rt.db.transaction() as session:
        retry_message(session, driver.rt.engine, load_actor(session, "integrator"), message_id)
    case = driver.wait_status(number, CaseStatus.CONCLUDED)
    assert case.outcome == "approved"
    entries = sandbox.journal(message_id=message_id)
    assert len(entries) == 1 and entries[0]["received_count"] == 1


def test_sandbox_down_then_up_messages_wait_then_go_in_order(driver: Driver, sandbox: Sandbox) -> None:
    from sqlalchemy import update

    from adapters.config import AdapterConfig

    systems = ("sms", "citizen_info")  # the receipt SMS (受理回执) first, then the identity check
    with driver.rt.db.transaction() as session:  # a budget that outlasts the outage
        session.execute(update(AdapterConfig).where(AdapterConfig.system.in_(systems))
                        .values(max_attempts=10, backoff_seconds=0.3))  # fmt: skip
    sandbox.server.stop()
    try:
        numbers = [driver.submit(APPLICANT, ELIGIBLE) for _ in range(3)]

        def all_tried() -> bool:
            with driver.rt.db.sessions() as session:
                messages = session.scalars(select(OutboxMessage).where(OutboxMessage.case_number.in_(numbers))).all()
                return len(messages) == 3 and all(m.attempts >= 2 and m.last_error_transient for m in messages)

        wait_for(all_tried, "every case to try sending its receipt SMS while the sandbox is down")
        # Only the receipt SMS waits: the cases are still just submitted, nothing asked of the registry yet.
        assert all(driver.case(n).status is CaseStatus.SUBMITTED for n in numbers)
        sandbox.server.start()
        for number in numbers:
            driver.wait_status(number, CaseStatus.INTAKE)
    finally:
        sandbox.server.start()  # a no-op when it runs already
        with driver.rt.db.transaction() as session:  # the suite's budget again, once nothing waits on it
            session.execute(update(AdapterConfig).where(AdapterConfig.system.in_(systems))
                            .values(max_attempts=3, backoff_seconds=0.2))  # fmt: skip
    for number in numbers:
        operations = [j["operation"] for j in sandbox.journal() if j["message_id"] in _message_ids(driver, number)]
        assert operations == ["SendSms", "VerifyIdentity", "QueryPerson"]


def _message_ids(driver: Driver, number: str) -> set[str]:
    with driver.rt.db.sessions() as session:
        return set(session.scalars(select(OutboxMessage.message_id).where(OutboxMessage.case_number == number)))


def test_calls_carry_the_acting_officer_as_user_id(driver: Driver, sandbox: Sandbox) -> None:
    number = driver.submit(APPLICANT, ELIGIBLE, as_user="officer-chaoyang-01")
    driver.complete(number, OFFICER, "accept")
    driver.complete(number, REVIEWER, "approve")
    driver.wait_status(number, CaseStatus.CONCLUDED)
    with driver.rt.db.sessions() as session:
        users = dict(session.execute(
            select(OutboxMessage.operation, OutboxMessage.user_id).where(OutboxMessage.case_number == number)
        ).all())  # fmt: skip
    # The submission sends the receipt SMS (below); the identity check follows once the worker has
    # settled that SMS, so it is the system's, as the person query after it.
    assert users["citizen_info.verify_identity"] == "system"
    assert users["citizen_info.query_person"] == "system"
    assert users["egov.submit_case"] == REVIEWER  # sent by the street reviewer's approval
    with driver.rt.db.sessions() as session:
        sms = session.scalars(select(OutboxMessage).where(OutboxMessage.case_number == number,
                                                          OutboxMessage.operation == "sms.send_sms")
                              .order_by(OutboxMessage.id)).all()  # fmt: skip
    assert [(m.params["template"], m.user_id) for m in sms] == [
        ("CASE_RECEIVED", "officer-chaoyang-01"),  # the receipt SMS, sent by the submission
        ("CASE_ACCEPTED", OFFICER),  # the acceptance notice's link, sent by the officer's acceptance
        ("SUBSIDY_APPROVED", "system"),  # sent after the extranet's callback
    ]
    from exchange.log import query

    with driver.rt.db.sessions() as session:
        sent = [e for e in query(session, case_number=number, direction="out") if e.operation == "egov.submit_case"]
    assert sent and f">{REVIEWER}</" in (sent[0].envelope or "")  # the signed header's userId
