"""The inbox of a busy office: filtered, ordered and paged by the database, never a first slice.

The inbox used to read the first 200 tasks and filter and sort those in Python: an office with more
open tasks saw wrong counts, and a filter missed every matching task past the 200th. Here two
communities of one street hold 800 open tasks (about 280 for each community's officers and 240 for
the street), and every page, filter and order is checked against the answer computed in Python
over *all* rows — through the service, the API and the console page.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from console_support import OFFICER, OTHER_OFFICER, REVIEWER, sign_in
from flask import Flask
from sqlalchemy import event, select, text

from bench.inbox_data import Offices, TaskFactory, add_residents
from huiju.app.seed import DEMO_PASSWORD
from huiju.calendar import CHINA
from huiju.errors import InputError
from huiju.models import Case, Item, Org, Resident, Role
from huiju.runtime import Runtime
from huiju.services.actors import Actor, load_actor
from huiju.services.worklist import COUNT_CAP, InboxFilter, inbox_page
from tests.api.api_support import basic
from workflows_bpmn.models import HumanTask, HumanTaskStatus

OPEN_TASKS = 800


@pytest.fixture
def busy(runtime: Runtime) -> Offices:
    rng = random.Random(9)
    with runtime.db.engine.begin() as conn:
        orgs = {code: org_id for org_id, code in conn.execute(select(Org.id, Org.code))}
        home, neighbour, street = orgs["110105001001"], orgs["110105001002"], orgs["110105001"]
        offices = Offices({street: [home, neighbour]}, {home: OFFICER, neighbour: OTHER_OFFICER}, {street: REVIEWER})
        TaskFactory(conn, offices, add_residents(conn, offices, 6, rng), rng).add(OPEN_TASKS)
    return offices


def _actor(runtime: Runtime, username: str) -> Actor:
    with runtime.db.sessions() as session:
        return load_actor(session, username)


def expected(runtime: Runtime, actor: Actor, f: InboxFilter) -> list[str]:
    """Every task the actor may see with the filters, in the inbox's order, worked out in Python."""
    with runtime.db.sessions() as session:
        rows = session.execute(
            select(HumanTask, Case.status, Item.code, Resident.name, Resident.id_number)
            .outerjoin(Case, Case.id == HumanTask.case_id)
            .outerjoin(Item, Item.id == Case.item_id)
            .outerjoin(Resident, Resident.id == Case.applicant_id)
        ).all()
    kept = []
    for task, status, item, name, number in rows:
        if task.status is not HumanTaskStatus.READY or task.role != actor.role.value:
            continue
        if task.assignee not in (None, actor.username):
            continue
        if actor.role is Role.COMMUNITY_OFFICER and task.community_id != actor.org_id:
            continue
        if actor.role is Role.STREET_REVIEWER and task.street_id != actor.org_id:
            continue
        if f.item and item != f.item or f.status and (status is None or status.value != f.status):
            continue
        if f.applicant and not (name and f.applicant in name or number == f.applicant):
            continue
        if f.due_before and (task.due_at is None or task.due_at.astimezone(CHINA).date() > f.due_before):
            continue
        kept.append(task)
    if f.sort == "received":
        return [t.id for t in sorted(kept, key=lambda t: (t.created_at, t.id), reverse=f.descending)]
    with_due = sorted((t for t in kept if t.due_at), key=lambda t: (t.due_at, t.created_at, t.id), reverse=f.descending)
    without = sorted((t for t in kept if not t.due_at), key=lambda t: (t.created_at, t.id), reverse=f.descending)
    return [t.id for t in with_due + without]


def walk(runtime: Runtime, actor: Actor, f: InboxFilter) -> tuple[list[str], list[str], int]:
    """Every page forwards (following ``next``), then backwards from the last (following
    ``previous``): the ids in order both ways, and the total the first page showed."""
    forwards, pages, total = [], [], -1
    page_filter = f
    with runtime.db.sessions() as session:
        while True:
            page = inbox_page(session, actor, page_filter)
            total = page.total if total < 0 else total
            assert len(page.rows) <= f.limit
            forwards += [r.task.id for r in page.rows]
            pages.append(page)
            if page.next is None:
                break
            page_filter = replace(f, after=page.next)
        backwards = [r.task.id for r in pages[-1].rows]
        previous = pages[-1].previous
        while previous is not None:
            page = inbox_page(session, actor, replace(f, before=previous))
            backwards = [r.task.id for r in page.rows] + backwards
            previous = page.previous
    return forwards, backwards, total


def _some_item(runtime: Runtime) -> str:
    with runtime.db.sessions() as session:
        return session.scalars(select(Item.code).order_by(Item.id)).first() or ""


def test_every_task_of_a_busy_office_is_on_a_page_in_order(runtime: Runtime, busy: Offices) -> None:
    for username in (OFFICER, REVIEWER):
        actor = _actor(runtime, username)
        for sort, descending in (("due", False), ("due", True), ("received", False), ("received", True)):
            f = InboxFilter(sort=sort, descending=descending, limit=50)
            want = expected(runtime, actor, f)
            assert len(want) > 200, "more open tasks than the inbox used to read"
            forwards, backwards, total = walk(runtime, actor, f)
            assert forwards == want, (username, sort, descending)
            assert backwards == want, (username, sort, descending)
            assert total == len(want)


@pytest.mark.parametrize("username", [OFFICER, REVIEWER])
def test_filters_find_matching_tasks_past_the_first_two_hundred(runtime: Runtime, busy: Offices, username: str) -> None:
    actor = _actor(runtime, username)
    everything = expected(runtime, actor, InboxFilter())
    with runtime.db.sessions() as session:
        surname = session.scalars(select(Resident.name).where(Resident.id_number.startswith("110101"))).first()
        number = session.scalars(select(Resident.id_number).where(Resident.id_number.startswith("110101"))).first()
    last_due = max(t for t in expected_due_days(runtime, everything))
    filters = [
        InboxFilter(item=_some_item(runtime)),
        InboxFilter(status="street_review" if username == REVIEWER else "review"),
        InboxFilter(applicant=(surname or "")[:1]),
        InboxFilter(applicant=number),
        InboxFilter(due_before=last_due - timedelta(days=5)),
        InboxFilter(
            item=_some_item(runtime), due_before=last_due - timedelta(days=2), sort="received", descending=True
        ),
    ]
    beyond = 0
    for f in filters:
        f = replace(f, limit=40)
        want = expected(runtime, actor, f)
        assert want, f"no task matches {f}: the data do not test it"
        forwards, backwards, total = walk(runtime, actor, f)
        assert forwards == want and backwards == want, f
        assert total == len(want)
        beyond += sum(1 for task_id in want if everything.index(task_id) >= 200)
    assert beyond > 0, "some matching tasks lie past the first 200 of the unfiltered inbox"


def expected_due_days(runtime: Runtime, ids: list[str]) -> Iterator[date]:
    with runtime.db.sessions() as session:
        for due in session.scalars(select(HumanTask.due_at).where(HumanTask.id.in_(ids))):
            if due is not None:
                yield due.astimezone(CHINA).date()


def test_a_task_claimed_by_a_colleague_leaves_the_inbox_and_a_task_i_hold_stays(
    runtime: Runtime, busy: Offices
) -> None:
    actor = _actor(runtime, OFFICER)
    first = expected(runtime, actor, InboxFilter())[:3]
    with runtime.db.transaction() as session:
        session.get(HumanTask, first[0]).assignee = "officer-chaoyang-01b"  # type: ignore[union-attr]
        session.get(HumanTask, first[1]).assignee = OFFICER  # type: ignore[union-attr]
    with runtime.db.sessions() as session:
        shown = [r.task.id for r in inbox_page(session, actor, InboxFilter(limit=5)).rows]
    assert first[0] not in shown and first[1] in shown and first[2] in shown


def test_pages_keep_their_place_while_tasks_are_decided(runtime: Runtime, busy: Offices) -> None:
    """A keyset page starts after the last task seen: tasks decided meanwhile neither repeat a row
    on the next page nor hide one."""
    actor = _actor(runtime, OFFICER)
    want = expected(runtime, actor, InboxFilter())
    with runtime.db.sessions() as session:
        first = inbox_page(session, actor, InboxFilter(limit=50))
    with runtime.db.transaction() as session:  # two tasks of the first page are decided meanwhile
        for task_id in want[:2]:
            session.get(HumanTask, task_id).status = HumanTaskStatus.COMPLETED  # type: ignore[union-attr]
    with runtime.db.sessions() as session:
        second = inbox_page(session, actor, InboxFilter(limit=50, after=first.next))
    assert [r.task.id for r in second.rows] == want[50:100]


def test_bad_filters_and_cursors_are_refused_with_reasons(runtime: Runtime, busy: Offices) -> None:
    actor = _actor(runtime, OFFICER)
    with runtime.db.sessions() as session:
        page = inbox_page(session, actor, InboxFilter(limit=10))
        assert page.next is not None
        bad = [
            (InboxFilter(sort="applicant"), "cannot sort by 'applicant'"),
            (InboxFilter(status="dreaming"), "unknown case status"),
            (InboxFilter(item="no-such-item"), "unknown item"),
            (InboxFilter(limit=0), "between 1 and 200"),
            (InboxFilter(limit=201), "between 1 and 200"),
            (InboxFilter(after="not-a-cursor"), "is not one Huiju gave"),
            (InboxFilter(after=page.next, sort="received"), "belongs to another order"),
            (InboxFilter(after=page.next, descending=True), "belongs to another order"),
            (InboxFilter(after=page.next, before=page.next), "not both"),
            (InboxFilter(applicant="张" * 51), "longer than 50"),
        ]
        for f, reason in bad:
            with pytest.raises(InputError, match=reason):
                inbox_page(session, actor, f)


def test_the_count_stops_at_its_cap(runtime: Runtime, busy: Offices) -> None:
    """Counting never scans a whole office: past the cap the inbox says "1000+"."""
    rng = random.Random(3)
    street, members = next(iter(busy.streets.items()))
    with runtime.db.engine.begin() as conn:
        only_home = Offices({street: members[:1]}, busy.officers, busy.reviewers)
        TaskFactory(conn, only_home, add_residents(conn, only_home, 2, rng), rng).add(COUNT_CAP * 2)
    with runtime.db.sessions() as session:
        page = inbox_page(session, _actor(runtime, OFFICER), InboxFilter(limit=10))
    assert (page.total, page.total_capped) == (COUNT_CAP, True)


def test_each_inbox_is_read_in_the_order_of_an_index_without_sorting(runtime: Runtime, busy: Offices) -> None:
    """SQLite's plan of every statement an inbox page runs: an index of human_task, and no sort."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    for username, scope in ((OFFICER, "community"), (REVIEWER, "street")):
        actor = _actor(runtime, username)
        for sort in ("due", "received"):
            for descending in (False, True):
                statements.clear()
                event.listen(runtime.db.read_engine, "before_cursor_execute", record)
                try:
                    with runtime.db.sessions() as session:
                        f = InboxFilter(sort=sort, descending=descending, limit=20)
                        first = inbox_page(session, actor, f)
                        inbox_page(session, actor, replace(f, after=first.next))
                finally:
                    event.remove(runtime.db.read_engine, "before_cursor_execute", record)
                task_queries = [(s, p) for s, p in statements if "FROM human_task" in s and "ORDER BY" in s]
                assert len(task_queries) >= 2
                with runtime.db.read_engine.connect() as conn:
                    for statement, parameters in task_queries:
                        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                        plan = " / ".join(row[-1] for row in rows)
                        assert re.search(rf"USING (COVERING )?INDEX ix_human_task_{scope}_{sort}", plan), plan
                        assert "TEMP B-TREE" not in plan, plan


def test_the_api_pages_the_inbox(app: Flask, runtime: Runtime, busy: Offices) -> None:
    client = app.test_client()
    actor = _actor(runtime, REVIEWER)
    want = expected(runtime, actor, InboxFilter(status="street_review"))
    seen: list[str] = []
    query: dict[str, Any] = {"status": "street_review", "limit": 100}
    while True:
        reply = client.get("/api/v1/tasks", query_string=query, headers=basic(REVIEWER, DEMO_PASSWORD))
        assert reply.status_code == 200, reply.get_data(as_text=True)
        body = reply.get_json()
        assert body["total"] == len(want) and body["total_capped"] is False
        seen += [t["id"] for t in body["tasks"]]
        if body["next"] is None:
            break
        query["after"] = body["next"]
    assert seen == want
    refused = client.get("/api/v1/tasks?sort=item", headers={**basic(REVIEWER, DEMO_PASSWORD), "Accept-Language": "en"})
    assert refused.status_code == 400 and "cannot sort by 'item'" in refused.get_json()["detail"]


def test_the_console_inbox_pages_with_its_filters(app: Flask, runtime: Runtime, busy: Offices) -> None:
    client = app.test_client()
    assert sign_in(client, OFFICER) in (302, 303)
    item = _some_item(runtime)
    want = expected(runtime, _actor(runtime, OFFICER), InboxFilter(item=item, sort="received", descending=True))
    seen: list[str] = []
    url: str | None = f"/console/inbox/?item={item}&sort=received&order=desc"
    while url:
        html = client.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert f'<small id="inbox-total">{len(want)}</small>' in html
        seen += re.findall(r'<tr data-task="([^"]+)"', html)
        found = re.search(r'<a rel="next" href="([^"]+)"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
        if url:
            assert f"item={item}" in url and "sort=received" in url and "order=desc" in url
    assert seen == want


def test_the_inbox_statements_read_only_human_task_rows_of_the_scope(runtime: Runtime, busy: Offices) -> None:
    """The community's officers and the street's reviewers do not see each other's tasks."""
    with runtime.db.sessions() as session:
        officer = {r.task.role for r in inbox_page(session, _actor(runtime, OFFICER), InboxFilter(limit=200)).rows}
        reviewer = {r.task.role for r in inbox_page(session, _actor(runtime, REVIEWER), InboxFilter(limit=200)).rows}
        neighbour = inbox_page(session, _actor(runtime, OTHER_OFFICER), InboxFilter(limit=200)).rows
        assert session.execute(text("SELECT 1")).scalar() == 1
    assert officer == {Role.COMMUNITY_OFFICER.value} and reviewer == {Role.STREET_REVIEWER.value}
    home = next(iter(busy.streets.values()))[0]
    assert all(r.task.community_id != home for r in neighbour)
