"""Helpers of the console tests: a case brought to a step through the service layer, sign-in."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from huiju.app.seed import DEMO_APPLICANT, DEMO_PASSWORD
from huiju.models import Case
from huiju.runtime import Runtime
from huiju.services import materials
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from huiju.services.tasks import complete_task
from tests.support import files
from tests.support.canned import deliver_replies
from tests.support.seeded import bookable_slot
from workflows_bpmn.models import HumanTask, HumanTaskStatus

OFFICER = "officer-chaoyang-01"  # 望京西园社区, where the demo applicant lives
COLLEAGUE = "officer-chaoyang-01b"  # added by the fixture: same community
OTHER_OFFICER = "officer-chaoyang-02"  # 花家地社区, same street
FAR_OFFICER = "officer-liulitun-01"  # another street
REVIEWER = "reviewer-wangjing-01"
FAR_REVIEWER = "reviewer-liulitun-01"
ITEM = "elderly-care-subsidy"
FORM = {"income_band": "subsistence", "disability": "none", "living_alone": True}


def submit(runtime: Runtime) -> str:
    """A case of the demo applicant, its identity checked: waiting at intake."""
    with runtime.db.transaction() as session:
        number = submit_case(session, runtime.engine, load_actor(session, OFFICER), ITEM, DEMO_APPLICANT, FORM).number
    deliver_replies(runtime)
    return number


SON = "family-zhang"  # 张秀英's son in Shanghai, a family account (seed)
MOTHER = DEMO_APPLICANT  # 张秀英, with service credit (seed)


def place_order(runtime: Runtime, service_code: str = "YY-MEAL") -> str:
    """张秀英's son, linked to her at the service centre, orders a meal for her; it is offered to 颐养."""
    from huiju.models import Resident
    from huiju.services.o2o import family, orders

    with runtime.db.transaction() as session:
        family.record_at_centre(session, load_actor(session, OFFICER), username=SON, parent_id_number=MOTHER,
                                parent_name="张秀英", relation="child")  # fmt: skip
        mother = session.scalars(select(Resident).where(Resident.id_number == MOTHER)).one()
        placement = orders.Placement(service_code=service_code, beneficiary_id=mother.id,
                                     slot_id=bookable_slot(session, service_code),
                                     address="望京西园四区7号楼2单元302", contact_phone="13700001965")  # fmt: skip
        number = orders.place_order(session, runtime.engine, load_actor(session, SON), placement).number
    deliver_replies(runtime)
    return number


def ready_task(runtime: Runtime, step: str) -> str:
    with runtime.db.sessions() as session:
        return session.scalars(
            select(HumanTask.id).where(HumanTask.step == step, HumanTask.status == HumanTaskStatus.READY)
        ).one()


def decide(runtime: Runtime, username: str, step: str, decision: str, data: dict[str, Any] | None = None) -> None:
    task_id = ready_task(runtime, step)
    with runtime.db.transaction() as session:
        complete_task(session, runtime.engine, load_actor(session, username), task_id, decision, data or {})
    deliver_replies(runtime)


def csrf(client: FlaskClient, path: str = "/console/login/") -> str:
    page = client.get(path, follow_redirects=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str = DEMO_PASSWORD) -> int:
    reply = client.post(
        "/console/login/", data={"csrf_token": csrf(client), "username": username, "password": password}
    )
    return reply.status_code


PNG = files.PNG  # a real picture: uploads are decoded by Pillow


def attach(runtime: Runtime, number: str, name: str) -> int:
    """A PNG uploaded by the applicant onto the case; its material id."""
    with runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        store = materials.UploadStore.from_settings(runtime.settings)
        upload = materials.Upload("id_card", name, PNG)
        return materials.store(session, store, load_actor(session, "resident-zhang"), upload, case_id=case.id).id
