"""The 30-day supplement period (补正期限): a due timer concludes the case, cancelling the task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_support import OFFICER, CaseDriver
from freezegun import freeze_time

from huiju.db import utcnow
from huiju.errors import ConflictError
from huiju.models import CaseStatus
from huiju.runtime import Runtime
from workflows_bpmn.models import HumanTaskStatus, InstanceStatus
from workflows_bpmn.tasks import due_timer_instances


def test_supplement_expires_after_thirty_days(rt: Runtime) -> None:
    driver = CaseDriver(rt).submit()
    driver.settle_all()
    driver.complete(OFFICER, "supplement", {"missing_materials": ["户口簿复印件"]})
    driver.settle_all()
    assert driver.status is CaseStatus.AWAITING_SUPPLEMENT
    supplement = driver.ready_task()
    due = driver.instance().next_timer_due
    assert due is not None and timedelta(days=29, hours=23) < due - utcnow() <= timedelta(days=30)

    with freeze_time(utcnow() + timedelta(days=29)):
        assert due_timer_instances(rt.db) == []
        with rt.db.transaction() as session:
            assert rt.engine.wake_timers(session, driver.instance_id) is None
    assert driver.status is CaseStatus.AWAITING_SUPPLEMENT

    with freeze_time(utcnow() + timedelta(days=31)):
        assert due_timer_instances(rt.db) == [driver.instance_id]
        with rt.db.transaction() as session:
            result = rt.engine.wake_timers(session, driver.instance_id)
        assert result is not None
        assert due_timer_instances(rt.db) == []

    case = driver.case()
    assert (case.status, case.outcome) == (CaseStatus.CONCLUDED, "supplement_expired")
    instance = driver.instance()
    assert (instance.status, instance.next_timer_due) == (InstanceStatus.COMPLETED, None)
    [cancelled] = driver.tasks(HumanTaskStatus.CANCELLED)
    assert cancelled.id == supplement.id and cancelled.step == "supplement"
    assert driver.timeline()[-3:] == ["timer_fired", "task_cancelled", "process_completed"]
    with pytest.raises(ConflictError, match="already cancelled"):
        driver.complete_id(supplement.id, "resident-zhang", "submit")
