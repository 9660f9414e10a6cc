"""The service credit (服务券): granted when a subsidy is approved (amount and validity from the
decision), topped up once a month while it lasts, spent and returned, never below zero."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from o2o_support import MOTHER_ID, OFFICER
from sqlalchemy import select

from huiju.calendar import CHINA
from huiju.db import utcnow
from huiju.models import Case, CreditEntry, CreditKind, Entitlement, Resident
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from huiju.services.o2o import credit
from huiju.services.tasks import complete_task, inbox
from tests.support.canned import deliver_replies

ELIGIBLE = {"income_band": "low_income", "disability": "none", "living_alone": True}  # tier B: ¥400 a month


def decide(runtime: Runtime, username: str, step: str, decision: str) -> None:
    with runtime.db.transaction() as session:
        actor = load_actor(session, username)
        task = next(t for t in inbox(session, actor) if t.step == step)
        complete_task(session, runtime.engine, actor, task.id, decision, {})
    deliver_replies(runtime)


def test_an_approved_subsidy_grants_credit_for_the_policys_months(runtime: Runtime) -> None:
    with runtime.db.sessions() as session:
        elder = session.scalars(
            select(Resident).where(Resident.birth_date < date(1950, 1, 1), Resident.community_id ==
                                   session.scalars(select(Resident.community_id)
                                                   .where(Resident.id_number == MOTHER_ID)).one(),
                                   Resident.id_number != MOTHER_ID)
        ).first()  # fmt: skip
        assert elder is not None
    with runtime.db.transaction() as session:
        number = submit_case(session, runtime.engine, load_actor(session, OFFICER), "elderly-care-subsidy",
                             elder.id_number, ELIGIBLE).number  # fmt: skip
    deliver_replies(runtime)
    decide(runtime, OFFICER, "intake", "accept")
    with runtime.db.sessions() as session:
        assert session.scalars(select(Entitlement).where(Entitlement.resident_id == elder.id)).first() is None
    decide(runtime, "reviewer-wangjing-01", "street_review", "approve")  # the extranet approves at once
    with runtime.db.sessions() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        assert case.outcome == "approved"
        entitlement = session.scalars(select(Entitlement).where(Entitlement.resident_id == elder.id)).one()
        today = utcnow().astimezone(CHINA).date()
        assert (entitlement.case_id, entitlement.tier, entitlement.monthly_fen) == (case.id, "B", 40000)
        assert entitlement.valid_from == today
        assert entitlement.valid_until == credit.add_months(today, 12) - timedelta(days=1)  # twelve months
        assert credit.balance(session, elder.id) == 40000
        entries = session.scalars(select(CreditEntry).join(Entitlement)).all()
        assert [(e.kind, e.period) for e in entries if e.entitlement_id == entitlement.id] == [
            (CreditKind.TOP_UP, credit.month_of(today))
        ]
    with runtime.db.transaction() as session:  # the approval seen again (a retried step): nothing more
        again = credit.grant(session, case.id, elder.id, monthly_fen=40000, tier="B", decided_on=today, months=12,
                             by="system")  # fmt: skip
        assert again is None
        assert credit.balance(session, elder.id) == 40000


def test_top_ups_come_once_a_month_while_the_entitlement_lasts(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        mother = session.scalars(select(Resident.id).where(Resident.id_number == MOTHER_ID)).one()
        entitlement = session.scalars(select(Entitlement).where(Entitlement.resident_id == mother)).one()
        first, last = entitlement.valid_from, entitlement.valid_until
        start = credit.balance(session, mother)
        nxt = credit.month_of(credit.add_months(first, 1))
        assert len(credit.top_up_month(session, nxt)) == 1
        assert credit.top_up_month(session, nxt) == []  # a second run gives nothing
        after = credit.month_of(credit.add_months(last, 1))
        assert credit.top_up_month(session, after) == []  # past its validity
        assert credit.balance(session, mother) == start + 60000 == credit.ledger_total(session, mother)


def test_months_are_checked(runtime: Runtime) -> None:
    with runtime.db.transaction() as session, pytest.raises(Exception, match="is not a month"):
        credit.top_up_month(session, "2026-13")
