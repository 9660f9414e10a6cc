"""The resident's use cases through the service layer: drafts and materials, 代办, 补正, withdrawing,
rating with its follow-up, service requests. Every case runs the real BPMN processes."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from portal_support import (
    JPEG,
    OFFICER,
    OTHER_RESIDENT,
    PDF,
    PNG,
    RESIDENT,
    add_other_resident,
    approve,
    csrf_token,
    decide,
    log_in,
    request_supplement,
    submit,
)
from sqlalchemy import func, select

from huiju.app.seed import DEMO_APPLICANT
from huiju.errors import ConflictError, InputError, NotFoundError
from huiju.models import Case, CaseStatus, Material, Rating
from huiju.runtime import Runtime
from huiju.services import applications, ratings
from huiju.services.actors import load_actor
from huiju.services.cases import get_case, list_cases
from huiju.services.materials import Upload, UploadStore
from huiju.services.tasks import inbox
from tests.support.canned import deliver_replies
from workflows_bpmn.models import HumanTask, HumanTaskStatus

FORM = {"income_band": "subsistence", "disability": "none", "living_alone": True}


def uploads(runtime: Runtime) -> UploadStore:
    return UploadStore(runtime.settings.resolved_uploads_folder, runtime.settings.upload_max_bytes)


def stored_files(runtime: Runtime) -> list[Path]:
    folder = runtime.settings.resolved_uploads_folder
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def apply_with_materials(runtime: Runtime, username: str = RESIDENT, **who: str) -> str:
    with runtime.db.transaction() as session:
        actor = load_actor(session, username)
        draft = applications.start_draft(session, actor, "elderly-care-subsidy", **who)
        applications.save_draft(session, actor, draft.id, FORM)
        for code in ("id_card", "household_register"):
            applications.add_draft_material(
                session, uploads(runtime), actor, draft.id, Upload(code, f"{code}.png", PNG)
            )
        if who:
            upload = Upload(applications.CONSENT_FORM, "授权委托书.pdf", PDF)
            applications.add_draft_material(session, uploads(runtime), actor, draft.id, upload)
        statement = "申请人本人同意由其子女代为申请并签署了授权委托书" if who else ""
        return applications.submit_draft(session, runtime.engine, actor, draft.id, consent_statement=statement).number


def test_draft_is_kept_and_its_materials_move_to_the_case(runtime: Runtime) -> None:
    number = apply_with_materials(runtime)
    with runtime.db.sessions() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        moved = session.scalars(select(Material).where(Material.case_id == case.id)).all()
        assert sorted(m.code for m in moved) == ["household_register", "id_card"]
        assert all(m.draft_id is None and len(m.sha256) == 64 and m.content_type == "image/png" for m in moved)
    assert len(stored_files(runtime)) == 2


def test_a_draft_without_the_required_materials_is_not_submitted(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        actor = load_actor(session, RESIDENT)
        draft_id = applications.start_draft(session, actor, "elderly-care-subsidy").id
        applications.save_draft(session, actor, draft_id, FORM)
    with pytest.raises(InputError, match="materials missing: 居民身份证, 户口簿"), runtime.db.transaction() as session:
        applications.submit_draft(session, runtime.engine, load_actor(session, RESIDENT), draft_id)
    with runtime.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_another_resident_cannot_read_or_submit_my_draft(runtime: Runtime) -> None:
    add_other_resident(runtime)
    with runtime.db.transaction() as session:
        draft_id = applications.start_draft(session, load_actor(session, RESIDENT), "elderly-care-subsidy").id
    with pytest.raises(NotFoundError), runtime.db.transaction() as session:
        applications.submit_draft(session, runtime.engine, load_actor(session, OTHER_RESIDENT), draft_id)


def test_an_agent_applies_with_consent_and_both_see_the_case(runtime: Runtime) -> None:
    add_other_resident(runtime)
    with runtime.db.sessions() as session:
        applicant = load_actor(session, RESIDENT)
        from huiju.models import Resident

        name = session.scalars(select(Resident.name).where(Resident.id == applicant.resident_id)).one()
    number = apply_with_materials(
        runtime, OTHER_RESIDENT, applicant_id_number=DEMO_APPLICANT, applicant_name=name, relation="child"
    )
    with runtime.db.sessions() as session:
        for username in (RESIDENT, OTHER_RESIDENT):
            case = get_case(session, load_actor(session, username), number)
            assert [c.number for c in list_cases(session, load_actor(session, username))] == [number]
        assert case.agent is not None and case.agent.username == OTHER_RESIDENT
        assert case.agent_relation == "child"
        assert case.consent is not None and case.consent["method"] == "signed_consent_form"
        consent_material = session.get(Material, case.consent["material_id"])
        assert consent_material is not None and consent_material.case_id == case.id


def test_an_agent_must_name_the_applicant_exactly(runtime: Runtime) -> None:
    add_other_resident(runtime)
    with pytest.raises(InputError, match="no resident with this name"), runtime.db.transaction() as session:
        applications.start_draft(
            session,
            load_actor(session, OTHER_RESIDENT),
            "elderly-care-subsidy",
            applicant_id_number=DEMO_APPLICANT,
            applicant_name="李四",
            relation="child",
        )


def test_supplement_answered_with_uploads_goes_back_to_intake(runtime: Runtime) -> None:
    number = apply_with_materials(runtime)
    request_supplement(runtime, number, ["户口簿复印件", "银行卡复印件"])
    files = [applications.SupplementFile(0, Upload("x", "户口簿.pdf", PDF))]
    with pytest.raises(InputError, match="银行卡复印件"), runtime.db.transaction() as session:
        applications.answer_supplement(session, runtime.engine, uploads(runtime), load_actor(session, RESIDENT),
                                       number, files)  # fmt: skip
    assert len(stored_files(runtime)) == 2  # only the application's two
    files.append(applications.SupplementFile(1, Upload("x", "bank.jpg", PNG)))
    with pytest.raises(InputError, match="does not match its extension"), runtime.db.transaction() as session:
        applications.answer_supplement(session, runtime.engine, uploads(runtime), load_actor(session, RESIDENT),
                                       number, files)  # fmt: skip
    assert len(stored_files(runtime)) == 2  # the first file of the refused answer went with the rollback
    files[1] = applications.SupplementFile(1, Upload("x", "bank.png", PNG))
    with runtime.db.transaction() as session:
        applications.answer_supplement(session, runtime.engine, uploads(runtime), load_actor(session, RESIDENT),
                                       number, files, "已补交")  # fmt: skip
    with runtime.db.sessions() as session:
        case = get_case(session, load_actor(session, RESIDENT), number)
        assert case.status is CaseStatus.INTAKE
        assert [m.round for m in session.scalars(select(Material).where(Material.case_id == case.id))] == [0, 0, 1, 1]
        assert [e.kind for e in case.events].count("material_uploaded") == 2
    assert len(stored_files(runtime)) == 4


def test_withdraw_before_acceptance_cancels_the_process(runtime: Runtime) -> None:
    number = submit(runtime, RESIDENT, DEMO_APPLICANT)
    deliver_replies(runtime)
    with runtime.db.transaction() as session:
        case = applications.withdraw_case(session, runtime.engine, load_actor(session, RESIDENT), number, "不需要了")
        assert case.status is CaseStatus.WITHDRAWN
    with runtime.db.sessions() as session:
        officer = load_actor(session, OFFICER)
        assert [t for t in inbox(session, officer) if t.case_id == case.id] == []
        cancelled = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id)).all()
        assert {t.status for t in cancelled} == {HumanTaskStatus.CANCELLED}
        assert "withdrawn" in [e.kind for e in get_case(session, officer, number).events]
    with pytest.raises(ConflictError), runtime.db.transaction() as session:
        applications.withdraw_case(session, runtime.engine, load_actor(session, RESIDENT), number)


def test_an_accepted_case_cannot_be_withdrawn(runtime: Runtime) -> None:
    number = submit(runtime, RESIDENT, DEMO_APPLICANT)
    decide(runtime, OFFICER, "intake", "accept")
    with pytest.raises(ConflictError, match="can no longer be withdrawn"), runtime.db.transaction() as session:
        applications.withdraw_case(session, runtime.engine, load_actor(session, RESIDENT), number)


def test_a_bad_rating_opens_a_follow_up_that_leaves_the_case_concluded(runtime: Runtime) -> None:
    number = submit(runtime, RESIDENT, DEMO_APPLICANT)
    with pytest.raises(ConflictError, match="once it is concluded"), runtime.db.transaction() as session:
        ratings.rate_case(session, runtime.engine, load_actor(session, RESIDENT), number, 5)
    approve(runtime)
    with runtime.db.transaction() as session:
        rating = ratings.rate_case(session, runtime.engine, load_actor(session, RESIDENT), number, 1, "等了太久")
        assert rating.follow_up_instance_id is not None
    with pytest.raises(ConflictError, match="rated already"), runtime.db.transaction() as session:
        ratings.rate_case(session, runtime.engine, load_actor(session, RESIDENT), number, 5)
    with runtime.db.sessions() as session:
        officer = load_actor(session, OFFICER)
        case = get_case(session, officer, number)
        task = next(t for t in inbox(session, officer) if t.case_id == case.id)
        assert (task.step, task.decisions) == ("follow_up", ["done"])
        assert case.status is CaseStatus.CONCLUDED and case.outcome == "approved"
    decide(runtime, OFFICER, "follow_up", "done", {"note": "已电话回访"})
    with runtime.db.sessions() as session:
        case = get_case(session, load_actor(session, OFFICER), number)
        assert case.status is CaseStatus.CONCLUDED and case.outcome == "approved"
        assert [e.step for e in case.events if e.kind == "task_completed"][-1] == "follow_up"
        assert session.scalar(select(func.count()).select_from(Rating)) == 1


def test_a_good_rating_opens_nothing(runtime: Runtime) -> None:
    number = submit(runtime, RESIDENT, DEMO_APPLICANT)
    approve(runtime)
    with runtime.db.transaction() as session:
        assert (
            ratings.rate_case(session, runtime.engine, load_actor(session, RESIDENT), number, 4).follow_up_instance_id
            is None
        )


def test_a_service_request_is_answered_by_the_community(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        actor = load_actor(session, RESIDENT)
        draft = applications.start_draft(session, actor, "repair-request")
        applications.save_draft(session, actor, draft.id, {"category": "lighting", "description": "楼道灯不亮了三天"})
        applications.add_draft_material(session, uploads(runtime), actor, draft.id, Upload("photo", "灯.jpg", JPEG))
        number = applications.submit_draft(session, runtime.engine, actor, draft.id).number
    deliver_replies(runtime)
    with runtime.db.sessions() as session:
        assert get_case(session, load_actor(session, RESIDENT), number).status is CaseStatus.ANSWERING
    decide(runtime, OFFICER, "answer", "answer", {"answer": "物业已于今日更换灯泡。"})
    with runtime.db.sessions() as session:
        case = get_case(session, load_actor(session, RESIDENT), number)
        assert (case.status, case.outcome) == (CaseStatus.CONCLUDED, "answered")


def test_applications_on_someones_behalf_are_limited_per_address(app: Flask, client: FlaskClient) -> None:
    # Each try tells whether a name and an ID number belong to a resident here: they are counted.
    app.config["PORTAL_APPLY_FOR_LIMIT"] = "2 per hour"
    assert log_in(client).status_code == 302
    path = "/portal/items/elderly-care-subsidy/apply-for"
    for _ in range(2):
        token = csrf_token(client.get(path).get_data(as_text=True))
        reply = client.post(path, data={"csrf_token": token, "name": "某某", "id_number": "110105193801012340"})
        assert reply.status_code != 429
    token = csrf_token(client.get(path).get_data(as_text=True))
    assert client.post(path, data={"csrf_token": token, "name": "某某", "id_number": "1"}).status_code == 429
