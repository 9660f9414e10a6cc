"""Reads never take the write lock: the API answers while the worker (here, a thread) holds it.

On SQLite a write transaction holds the database's only write lock from its first statement
(``BEGIN IMMEDIATE``); a read that opened a write transaction too would queue behind it for the
busy timeout (15 s) and then fail "database is locked".
"""

from __future__ import annotations

import threading

from api_support import Api, Calls
from sqlalchemy import select, update
from test_api_flow import start_case

from huiju.models import Case
from huiju.runtime import Runtime
from workflows_bpmn.models import ProcessInstance


def test_api_reads_answer_while_a_writer_holds_the_lock(api: Api, deliver: Calls, runtime: Runtime) -> None:
    number = start_case(api, deliver)
    task_id = api.get("/api/v1/tasks", user="officer_wang", expect=200).get_json()["tasks"][0]["id"]
    holding, release, finished = threading.Event(), threading.Event(), threading.Event()

    def worker_step() -> None:
        # What an engine step does first: lock its instance (a write) and keep the transaction open.
        with runtime.db.transaction() as session:
            instance_id = session.scalars(select(Case.process_instance_id).where(Case.number == number)).one()
            session.execute(update(ProcessInstance).where(ProcessInstance.id == instance_id).values(outcome=None))
            holding.set()
            release.wait(60)
        finished.set()

    writer = threading.Thread(target=worker_step)
    writer.start()
    try:
        assert holding.wait(30)
        reads = [
            ("/api/v1/tasks", "officer_wang"),
            (f"/api/v1/tasks/{task_id}", "officer_wang"),
            (f"/api/v1/cases/{number}", "zhang"),
            ("/api/v1/cases", "reviewer_li"),
            ("/api/v1/items", "zhang"),
            (f"/api/v1/items/{api.get('/api/v1/items', user='zhang', expect=200).get_json()['items'][0]['code']}",
             "admin"),
        ]  # fmt: skip
        for path, user in reads:
            api.get(path, user=user, expect=200)
            assert not finished.is_set(), f"{path} answered only after the writer let go"
    finally:
        release.set()
        writer.join(30)
    assert finished.is_set()
