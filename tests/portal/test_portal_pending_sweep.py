"""Files kept toward a 补正 answer (pending uploads) are forgotten by the worker's periodic round once
their case no longer waits for that answer: rows and bytes. While it waits, they stay."""

from __future__ import annotations

from portal_support import PNG, RESIDENT, request_supplement, submit
from sqlalchemy import func, select

from huiju.app.seed import DEMO_APPLICANT
from huiju.app.worker import create_celery
from huiju.models import Case, CaseStatus, Material
from huiju.runtime import Runtime
from huiju.services import applications
from huiju.services.actors import load_actor
from huiju.services.materials import Upload, UploadStore


def pending(runtime: Runtime) -> list[str]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(Material.storage_key).where(Material.pending_case_id.is_not(None))))


def test_the_kept_files_of_an_answer_no_longer_awaited_are_swept(runtime: Runtime) -> None:
    number = submit(runtime, RESIDENT, DEMO_APPLICANT)
    request_supplement(runtime, number, ["户口簿复印件", "银行卡复印件"])
    store = UploadStore.from_settings(runtime.settings)
    with runtime.db.transaction() as session:
        files = [applications.SupplementFile(i, Upload("x", f"file-{i}.png", PNG)) for i in (0, 1)]
        assert not applications.keep_supplement_files(session, store, load_actor(session, RESIDENT), number, files)
    kept = pending(runtime)
    assert len(kept) == 2 and all(store.path_of(key).exists() for key in kept)
    celery = create_celery(runtime.settings, lambda: runtime)
    assert celery.conf.beat_schedule["huiju-pending-uploads"]["task"] == "huiju.pending_uploads"
    sweep = celery.tasks["huiju.pending_uploads"]  # the round the beat runs, here in-process
    assert sweep() == 0 and pending(runtime) == kept  # the case still waits for the answer: kept

    with runtime.db.transaction() as session:
        applications.withdraw_case(session, runtime.engine, load_actor(session, RESIDENT), number)
    assert sweep() == 2
    assert pending(runtime) == [] and not any(store.path_of(key).exists() for key in kept)
    with runtime.db.sessions() as session:
        assert session.scalars(select(Case.status).where(Case.number == number)).one() is CaseStatus.WITHDRAWN
        assert session.scalar(select(func.count()).select_from(Material).where(Material.case_id.is_not(None))) == 0
    assert sweep() == 0


def test_each_worker_app_in_a_process_has_its_own_rounds(runtime: Runtime) -> None:
    """Two Celery apps built in one process (a test run, an embedded worker beside a web process):
    the second is not handed the first one's tasks, which would run on the first one's runtime."""
    first = create_celery(runtime.settings, lambda: runtime)
    second = create_celery(runtime.settings, lambda: runtime)
    names = ("huiju.deliver", "huiju.sweep", "huiju.reconcile", "huiju.pending_uploads", "huiju.o2o_top_up")
    for name in names:
        assert first.tasks[name].app is first and second.tasks[name].app is second, name
