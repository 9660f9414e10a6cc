"""A 补正 answer returns to the officer who asked for it: the new intake task is theirs (not the
community's queue), the timeline says so in words, and the others of the community do not see it in
their inbox. An officer who can no longer take it leaves it in the queue."""

from __future__ import annotations

from console_support import COLLEAGUE, OFFICER, PNG, decide, ready_task, submit
from sqlalchemy import select, update

from huiju.models import Case, CaseEvent, User
from huiju.runtime import Runtime
from huiju.services import applications, materials
from huiju.services import tasks as task_service
from huiju.services.actors import load_actor
from huiju.services.casefile import read_case_file
from tests.support.canned import deliver_replies
from workflows_bpmn.models import HumanTask


def answer(runtime: Runtime, number: str) -> None:
    store = materials.UploadStore.from_settings(runtime.settings)
    with runtime.db.transaction() as session:
        resident = load_actor(session, "resident-zhang")
        files = [applications.SupplementFile(0, materials.Upload("x", "hukou.png", PNG))]
        applications.answer_supplement(session, runtime.engine, store, resident, number, files, "已补交")
    deliver_replies(runtime)


def test_the_answer_goes_back_to_the_officer_who_asked(runtime: Runtime) -> None:
    number = submit(runtime)
    with runtime.db.transaction() as session:  # the colleague takes the case and asks for more material
        task_service.claim_task(session, load_actor(session, COLLEAGUE), ready_task(runtime, "intake"))
    decide(runtime, COLLEAGUE, "intake", "supplement", {"missing_materials": ["户口簿复印件"]})
    answer(runtime, number)
    with runtime.db.sessions() as session:
        task = session.get(HumanTask, ready_task(runtime, "intake"))
        assert task is not None and task.assignee == COLLEAGUE
        assert task.id in [t.id for t in task_service.inbox(session, load_actor(session, COLLEAGUE))]
        assert task.id not in [t.id for t in task_service.inbox(session, load_actor(session, OFFICER))]
        handed = session.scalars(select(CaseEvent).where(CaseEvent.kind == "task_assigned")).one()
        assert (handed.actor, handed.data["to"]) == ("system", COLLEAGUE)
        file = read_case_file(session, load_actor(session, OFFICER), number, "zh_CN")
        line = next(line for line in file.lines if line.kind == "task_assigned")
        assert line.what == "退回提出补正的专干" and "孙丽" in line.detail and COLLEAGUE not in line.detail
    # The officer it went back to decides it, as the holder.
    decide(runtime, COLLEAGUE, "intake", "accept")
    with runtime.db.sessions() as session:
        assert session.scalars(select(Case.status).where(Case.number == number)).one().value == "street_review"


def test_an_officer_who_left_leaves_the_answer_in_the_queue(runtime: Runtime) -> None:
    number = submit(runtime)
    decide(runtime, COLLEAGUE, "intake", "supplement", {"missing_materials": ["户口簿复印件"]})
    with runtime.db.transaction() as session:
        session.execute(update(User).where(User.username == COLLEAGUE).values(active=False))
    answer(runtime, number)
    with runtime.db.sessions() as session:
        task = session.get(HumanTask, ready_task(runtime, "intake"))
        assert task is not None and task.assignee is None
        assert task.id in [t.id for t in task_service.inbox(session, load_actor(session, OFFICER))]
        assert session.scalars(select(CaseEvent).where(CaseEvent.kind == "task_assigned")).all() == []
