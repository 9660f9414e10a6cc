"""Accounts and roles: each role in its office, temporary passwords, disabling, and the audit of it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from huiju.app.seed import DEMO_APPLICANT, DEMO_PASSWORD
from huiju.errors import ConflictError, InputError, PermissionDenied
from huiju.models import AuditEntry, CaseEvent, Role, User
from huiju.runtime import Runtime
from huiju.services import accounts, users
from huiju.services.actors import Actor, authenticate, load_actor
from huiju.services.cases import submit_case
from huiju.services.tasks import claim_task
from tests.support.canned import deliver_replies
from workflows_bpmn.models import HumanTask, HumanTaskStatus

FORM = {"income_band": "subsistence", "disability": "none", "living_alone": True}


def _admin(runtime: Runtime):  # type: ignore[no-untyped-def]
    with runtime.db.sessions() as session:
        return load_actor(session, "admin")


@pytest.mark.parametrize(
    ("role", "office", "message"),
    [
        ("community_officer", None, "Community officer accounts belong to a community-level office: name one"),
        (
            "community_officer",
            "望京街道",
            "望京街道 is a street-level office; Community officer accounts belong to a community-level office",
        ),
        (
            "street_reviewer",
            "110105001001",
            "望京西园社区 is a community-level office; Street reviewer accounts belong to a street-level office",
        ),
        ("community_officer", "no such office", "no office 'no such office'"),
        ("auditor", None, "unknown role 'auditor'"),
        ("resident", None, "a resident's account needs the resident's ID number"),
    ],
)
def test_each_role_sits_in_its_office(runtime: Runtime, role: str, office: str | None, message: str) -> None:
    with pytest.raises(InputError, match=message), runtime.db.transaction() as session:
        users.create_user(session, _admin(runtime), users.NewAccount("new-one", role, office=office))
    with runtime.db.sessions() as session:
        assert session.scalar(select(User).where(User.username == "new-one")) is None


def test_an_unknown_role_lists_the_roles_in_words_with_the_code_to_type(runtime: Runtime) -> None:
    with pytest.raises(InputError) as info, runtime.db.transaction() as session:
        users.create_user(session, _admin(runtime), users.NewAccount("new-one", "auditor"))
    assert info.value.localized("en") == (
        "unknown role 'auditor'; one of: Resident(resident), Community officer(community_officer), "
        "Street reviewer(street_reviewer), Administrator(administrator), Integrator(integrator), "
        "Service provider(provider), Platform operator(operator)"
    )
    assert info.value.localized("zh_CN") == (
        "未知角色“auditor”；可选：居民(resident)、社区专干(community_officer)、街道审核员(street_reviewer)、"
        "管理员(administrator)、系统集成员(integrator)、服务商(provider)、平台运营方(operator)"
    )


def test_a_new_officer_gets_a_temporary_password_to_change_at_first_sign_in(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        created = users.create_user(
            session,
            _admin(runtime),
            users.NewAccount("Officer-Huajia-03", "community_officer", "花家地社区专干 钱多", "花家地社区"),
        )
        assert created.user.username == "officer-huajia-03" and created.user.org is not None
        assert created.user.org.code == "110105001002" and created.user.must_change_password
    temporary = created.temporary_password
    assert temporary and len(temporary) == 12
    with runtime.db.transaction() as session:
        authenticate(session, "officer-huajia-03", temporary)
    with pytest.raises(PermissionDenied, match="the current password is wrong"):
        accounts.change_password(runtime.db, "officer-huajia-03", "wrong", "abc12345")
    with pytest.raises(InputError, match="letters and digits"):
        accounts.change_password(runtime.db, "officer-huajia-03", temporary, "abcdefghij")
    accounts.change_password(runtime.db, "officer-huajia-03", temporary, "huajia2027")
    with runtime.db.sessions() as session:
        assert not users.must_change_password(session, "officer-huajia-03")
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(e.actor, e.action, e.target) for e in entries] == [
            ("admin", "user.create", "officer-huajia-03"),
            ("officer-huajia-03", "user.change_password", "officer-huajia-03"),
        ]
        assert json.loads(entries[0].after or "{}")["office"] == "110105001002"
        assert "password" not in (entries[0].after or "").replace("must_change_password", "")


def test_a_resident_account_is_bound_to_the_roster(runtime: Runtime) -> None:
    with runtime.db.transaction() as session, pytest.raises(ConflictError, match="has an account already"):
        users.create_user(
            session, _admin(runtime), users.NewAccount("zhang-2", "resident", resident_id_number=DEMO_APPLICANT)
        )
    with runtime.db.transaction() as session, pytest.raises(InputError, match="check digit"):
        users.create_user(
            session, _admin(runtime), users.NewAccount("li-2", "resident", resident_id_number="110105193801012341")
        )


def test_only_administrators_manage_accounts(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        integrator = load_actor(session, "integrator")
        with pytest.raises(PermissionDenied, match="only administrators manage accounts"):
            users.create_user(session, integrator, users.NewAccount("x-1", "integrator"))
        with pytest.raises(PermissionDenied):
            users.reset_password(session, integrator, "admin")


def test_disabling_signs_out_and_gives_the_held_tasks_back(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        number = submit_case(session, runtime.engine, load_actor(session, "officer-chaoyang-01"),
                             "elderly-care-subsidy", DEMO_APPLICANT, FORM).number  # fmt: skip
    deliver_replies(runtime)
    with runtime.db.transaction() as session:
        task = session.scalars(select(HumanTask).where(HumanTask.status == HumanTaskStatus.READY)).one()
        claim_task(session, load_actor(session, "officer-chaoyang-01"), task.id)
    with runtime.db.transaction() as session:
        users.disable_user(session, _admin(runtime), "officer-chaoyang-01", "调离")
    with runtime.db.transaction() as session:
        with pytest.raises(PermissionDenied):
            authenticate(session, "officer-chaoyang-01", DEMO_PASSWORD)
        assert session.get(HumanTask, task.id).assignee is None  # type: ignore[union-attr]
        released = session.scalars(select(CaseEvent).where(CaseEvent.kind == "task_released")).one()
        assert released.actor == "admin" and "officer-chaoyang-01" in released.detail
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.disable")).one()
        assert entry.detail == "调离" and json.loads(entry.after or "{}")["released_tasks"] == 1
        assert json.loads(entry.before or "{}")["active"] is True
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == ["case.submit", "task.claim", "user.disable"], number
        users.enable_user(session, _admin(runtime), "officer-chaoyang-01")
        authenticate(session, "officer-chaoyang-01", DEMO_PASSWORD)


def test_the_last_administrator_and_oneself_are_kept(runtime: Runtime) -> None:
    admin = _admin(runtime)
    with runtime.db.transaction() as session, pytest.raises(ConflictError, match="your own account"):
        users.disable_user(session, admin, "admin")
    with runtime.db.transaction() as session, pytest.raises(ConflictError, match="from yourself"):
        users.update_user(session, admin, "admin", role="integrator")
    with runtime.db.transaction() as session:
        users.create_user(session, admin, users.NewAccount("admin-2", "administrator", password="second2027"))
    with runtime.db.transaction() as session:
        second = load_actor(session, "admin-2")
        users.disable_user(session, second, "admin")
    operator = Actor("cli:root", Role.ADMINISTRATOR)  # at the terminal, not an account
    with runtime.db.transaction() as session, pytest.raises(ConflictError, match="admin-2 is the last active"):
        users.disable_user(session, operator, "admin-2")
    with runtime.db.transaction() as session, pytest.raises(ConflictError, match="admin-2 is the last active"):
        users.update_user(session, operator, "admin-2", role="integrator")


def test_moving_an_officer_to_another_community(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        user = users.update_user(session, _admin(runtime), "officer-chaoyang-02", office="六里屯北社区")
        assert user.org is not None and user.org.code == "110105002001"
        with pytest.raises(InputError, match="belong to a street-level office"):
            users.update_user(session, _admin(runtime), "officer-chaoyang-02", role="street_reviewer")
        user = users.update_user(session, _admin(runtime), "officer-chaoyang-02", role="street_reviewer",
                                 office="六里屯街道")  # fmt: skip
        assert user.role.value == "street_reviewer"
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.update")).all()
        assert [json.loads(e.before or "{}")["office"] for e in entries] == ["110105001002", "110105002001"]


def test_a_reset_password_must_be_changed(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        temporary = users.reset_password(session, _admin(runtime), "officer-chaoyang-01")
    with runtime.db.transaction() as session:
        with pytest.raises(PermissionDenied):
            authenticate(session, "officer-chaoyang-01", DEMO_PASSWORD)
        authenticate(session, "officer-chaoyang-01", temporary)
        assert users.must_change_password(session, "officer-chaoyang-01")
