"""Shared helpers of the portal tests: a seeded runtime, cases submitted through the service layer,
the government systems answered the way a worker would, and the CSRF token of a rendered form.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from huiju.app.seed import DEMO_APPLICANT, DEMO_PASSWORD
from huiju.models import Resident, Role, User
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from huiju.services.tasks import complete_task, inbox
from tests.support import files, portal_forms
from tests.support.canned import deliver_replies
from tests.support.portal_forms import csrf_token as csrf_token  # the portal tests take it from here

RESIDENT = "resident-zhang"
OTHER_RESIDENT = "resident-wang"
OFFICER = "officer-chaoyang-01"
ITEM = "elderly-care-subsidy"
FORM: dict[str, Any] = {"income_band": "subsistence", "disability": "none", "living_alone": True}


def add_other_resident(runtime: Runtime) -> str:
    """A second resident account, in the same community as the demo applicant."""
    with runtime.db.transaction() as session:
        home = session.scalars(select(Resident).where(Resident.id_number == DEMO_APPLICANT)).one()
        other = session.scalars(
            select(Resident).where(Resident.community_id == home.community_id, Resident.id != home.id)
        ).first()
        assert other is not None, "the seed has no second resident in the demo community"
        user = User(username=OTHER_RESIDENT, display_name=other.name, role=Role.RESIDENT,
                    org_id=other.community_id, resident=other)  # fmt: skip
        user.set_password(DEMO_PASSWORD)
        session.add(user)
        return other.id_number


def submit(runtime: Runtime, username: str, id_number: str) -> str:
    with runtime.db.transaction() as session:
        actor = load_actor(session, username)
        return submit_case(session, runtime.engine, actor, ITEM, id_number, FORM).number


def request_supplement(runtime: Runtime, number: str, missing: list[str]) -> None:
    """The community officer asks for more material (补正) on the case, through the service layer."""
    deliver_replies(runtime)
    with runtime.db.transaction() as session:
        officer = load_actor(session, OFFICER)
        task = next(t for t in inbox(session, officer) if t.step == "intake")
        complete_task(session, runtime.engine, officer, task.id, "supplement", {"missing_materials": missing})
    deliver_replies(runtime)


def log_in(client: FlaskClient, login: str = RESIDENT, password: str = DEMO_PASSWORD) -> Any:
    return portal_forms.log_in(client, login, password)


REVIEWER = "reviewer-wangjing-01"
# Real files: uploads are read by pikepdf and Pillow.
PNG, PDF, JPEG = files.PNG, files.PDF, files.JPEG


def decide(runtime: Runtime, username: str, step: str, decision: str, data: dict[str, Any] | None = None) -> None:
    """An officer takes the ready ``step`` of their inbox through the service layer, then the
    government systems answer what the step sent."""
    deliver_replies(runtime)
    with runtime.db.transaction() as session:
        officer = load_actor(session, username)
        task = next(t for t in inbox(session, officer) if t.step == step)
        complete_task(session, runtime.engine, officer, task.id, decision, data or {})
    deliver_replies(runtime)


def approve(runtime: Runtime) -> None:
    """Intake accepted, street review approved, the extranet's decision called back: concluded."""
    decide(runtime, OFFICER, "intake", "accept")
    decide(runtime, REVIEWER, "street_review", "approve")


def sent_code(sandbox: Any, phone: str) -> str:
    """The registration code the SMS sandbox last received for ``phone``."""
    codes = [m["params"]["code"] for m in sandbox.state.stores.sms.values()
             if m["phone"] == phone and m["template"] == "REGISTRATION_CODE"]  # fmt: skip
    assert codes, f"no registration code was sent to {phone}"
    return str(codes[-1])
