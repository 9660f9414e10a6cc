"""The permission matrix: every console route and the task/case API routes, called as each role and
as officers of other communities; allowed, 403 or 404 as it should be, and nothing changes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from admin_matrix import ADMIN_CONSOLE
from admin_matrix import PLACEHOLDERS as ADMIN_PLACEHOLDERS
from console_support import (
    COLLEAGUE,
    FAR_OFFICER,
    FAR_REVIEWER,
    FORM,
    ITEM,
    OFFICER,
    OTHER_OFFICER,
    REVIEWER,
    attach,
    csrf,
    place_order,
    ready_task,
    sign_in,
    submit,
)
from flask import Flask
from process_matrix import PLACEHOLDERS as PROCESS_PLACEHOLDERS
from process_matrix import PROCESS_CONSOLE
from sqlalchemy import select

from huiju.app.seed import DEMO_APPLICANT, DEMO_PASSWORD
from huiju.runtime import Runtime
from huiju.services import tasks as task_service
from huiju.services.actors import load_actor
from workflows_bpmn.models import HumanTask

USERS = [OFFICER, OTHER_OFFICER, FAR_OFFICER, REVIEWER, FAR_REVIEWER, "admin", "integrator"]
RESIDENT = "resident-zhang"  # the applicant of the case
OK = 200

#: (method, path template, expected status per user); {n}: case number, {t}: intake task id.
CONSOLE: list[tuple[str, str, dict[str, int]]] = [
    ("GET", "/console/inbox/", {OFFICER: OK, OTHER_OFFICER: OK, FAR_OFFICER: OK, REVIEWER: OK, FAR_REVIEWER: OK,
                                "admin": 403, "integrator": 403}),
    ("GET", "/console/cases/{n}", {OFFICER: OK, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: OK,
                                   FAR_REVIEWER: 404, "admin": OK, "integrator": OK}),
    ("GET", "/console/cases/{n}/diagram.bpmn", {OFFICER: OK, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: OK,
                                                FAR_REVIEWER: 404, "admin": OK, "integrator": OK}),
    ("GET", "/console/cases/incidents", {u: OK for u in USERS}),
    ("GET", "/console/dashboard/", {**{u: OK for u in USERS}, "integrator": 403}),
    ("GET", "/console/calendar/", {**{u: 403 for u in USERS}, "admin": OK}),
    ("POST", "/console/inbox/{t}/claim", {OFFICER: 303, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: 404,
                                          FAR_REVIEWER: 404, "admin": 403, "integrator": 403}),
    ("POST", "/console/cases/{n}/tasks/{t}/decide", {OFFICER: 303, OTHER_OFFICER: 404, FAR_OFFICER: 404,
                                                     REVIEWER: 404, FAR_REVIEWER: 404, "admin": 403,
                                                     "integrator": 403}),
    ("POST", "/console/cases/{n}/retry", {OFFICER: 303, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: 303,
                                          FAR_REVIEWER: 404, "admin": 303, "integrator": 303}),
    ("POST", "/console/calendar/days", {**{u: 403 for u in USERS}, "admin": 303}),
    ("POST", "/console/calendar/days/remove", {**{u: 403 for u in USERS}, "admin": 303}),
    ("POST", "/console/calendar/import", {**{u: 403 for u in USERS}, "admin": 303}),
    ("POST", "/console/calendar/publish", {**{u: 403 for u in USERS}, "admin": 303}),
    ("GET", "/console/cases/{n}/materials/{m}", {OFFICER: OK, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: OK,
                                                 FAR_REVIEWER: 404, "admin": OK, "integrator": OK}),
    ("GET", "/console/cases/{n}/documents/{d}", {OFFICER: OK, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: OK,
                                                 FAR_REVIEWER: 404, "admin": OK, "integrator": OK}),
    ("POST", "/console/inbox/{t}/release", {OFFICER: 303, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: 404,
                                            FAR_REVIEWER: 404, "admin": 403, "integrator": 403}),
    ("POST", "/console/inbox/{t}/transfer", {OFFICER: 303, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: 404,
                                             FAR_REVIEWER: 404, "admin": 403, "integrator": 403}),
    ("GET", "/console/", {u: 302 for u in USERS}),  # to the page of one's role
    # One's own password (tests/security/test_sessions.py); a post without the current one changes nothing.
    ("GET", "/console/account/password", {u: OK for u in USERS}),
    ("POST", "/console/account/password", {u: 400 for u in USERS}),
]  # fmt: skip
#: The community-services roles see none of the officers' pages; their own password is theirs.
for _method, _path, _expected in CONSOLE:
    _expected.update({user: _expected[OFFICER] if _path in ("/console/", "/console/account/password") else 403
                      for user in ("provider-yiyang", "operator")})  # fmt: skip
#: Console routes that need no row: sign-in and out, language, static files, FAB's own helpers.
EXEMPT = {"AuthView.login", "AuthView.logout", "LocaleView.index", "static", "appbuilder.static", "UtilView.back",
          "MenuApi.get_menu_data"}  # fmt: skip

API: list[tuple[str, str, dict[str, int]]] = [
    ("GET", "/api/v1/cases/{n}", {OFFICER: OK, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: OK,
                                  FAR_REVIEWER: 404, "admin": OK, "integrator": OK}),
    ("GET", "/api/v1/tasks/{t}", {OFFICER: OK, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: 404,
                                  FAR_REVIEWER: 404, "admin": OK, "integrator": OK}),
    ("POST", "/api/v1/tasks/{t}/claim", {OFFICER: OK, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: 404,
                                         FAR_REVIEWER: 404, "admin": 403, "integrator": 403}),
    ("POST", "/api/v1/tasks/{t}/complete", {OFFICER: 400, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: 404,
                                            FAR_REVIEWER: 404, "admin": 403, "integrator": 403, RESIDENT: 404}),
    ("POST", "/api/v1/tasks/{t}/release", {OFFICER: OK, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: 404,
                                           FAR_REVIEWER: 404, "admin": 403, "integrator": 403, RESIDENT: 403}),
    ("POST", "/api/v1/tasks/{t}/transfer", {OFFICER: OK, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: 404,
                                            FAR_REVIEWER: 404, "admin": 403, "integrator": 403, RESIDENT: 403}),
    ("POST", "/api/v1/cases/{n}/retry", {OFFICER: 409, OTHER_OFFICER: 404, FAR_OFFICER: 404, REVIEWER: 409,
                                         FAR_REVIEWER: 404, "admin": 409, "integrator": 409, RESIDENT: 403}),
    ("POST", "/api/v1/cases", {OFFICER: 201, OTHER_OFFICER: 403, FAR_OFFICER: 403, REVIEWER: 403,
                               FAR_REVIEWER: 403, "admin": 201, "integrator": 403, RESIDENT: 201}),
    ("GET", "/api/v1/cases", {u: OK for u in [*USERS, RESIDENT]}),
    ("GET", "/api/v1/tasks", {u: OK for u in [*USERS, RESIDENT]}),
    ("GET", "/api/v1/items", {u: OK for u in [*USERS, RESIDENT]}),
    ("GET", "/api/v1/items/{i}", {u: OK for u in [*USERS, RESIDENT]}),
    ("GET", "/api/v1/openapi.yaml", {u: OK for u in [*USERS, RESIDENT]}),
]  # fmt: skip
#: The community-services roles: lists answer (empty), a case or a task is not found, nothing is theirs to do.
_NEW_ROLES = {
    "/api/v1/cases/{n}": 404, "/api/v1/tasks/{t}": 404, "/api/v1/tasks/{t}/claim": 403,
    "/api/v1/tasks/{t}/complete": 404, "/api/v1/tasks/{t}/release": 403, "/api/v1/tasks/{t}/transfer": 403,
    "/api/v1/cases/{n}/retry": 404,
}  # fmt: skip
for _method, _path, _expected in API:
    status = 403 if (_method, _path) == ("POST", "/api/v1/cases") else _NEW_ROLES.get(_path, OK)
    _expected.update({user: status for user in ("provider-yiyang", "operator")})
#: What each user finds of the case in the lists (GET /api/v1/cases and /tasks).
SEES_CASE = {OFFICER: True, OTHER_OFFICER: False, FAR_OFFICER: False, REVIEWER: True, FAR_REVIEWER: False,
             "admin": True, "integrator": True, RESIDENT: True, "provider-yiyang": False,
             "operator": False}  # fmt: skip


@pytest.mark.parametrize(("method", "template", "expected"), CONSOLE, ids=[f"{m} {p}" for m, p, _e in CONSOLE])
def test_console_routes(runtime: Runtime, app: Flask, method: str, template: str, expected: dict[str, int]) -> None:
    number = submit(runtime)
    task_id = ready_task(runtime, "intake")
    if template.endswith("/release"):  # the officer holds the task: releasing it is theirs to do
        with runtime.db.transaction() as session:
            task_service.claim_task(session, load_actor(session, OFFICER), task_id)
    path = template.format(
        n=number,
        t=task_id,
        m=attach(runtime, number, "身份证.png") if "{m}" in template else 0,
        d=notice(runtime, number) if "{d}" in template else 0,
    )
    anonymous = app.test_client().open(path, method=method)
    assert anonymous.status_code in (302, 400), path  # to the sign-in page (a POST without token: 400)
    # The refused first: then the task must still be as it was; the allowed may change it.
    for username, status in sorted(expected.items(), key=lambda kv: kv[1] in (200, 303)):
        client = app.test_client()
        assert sign_in(client, username) == 302
        data = {"csrf_token": csrf(client, "/console/"), "decision": "accept", "day": "2030-10-08", "kind": "workday",
                "to": COLLEAGUE, "reason": "休假", "year": "2030", "schedule": "2030-10-08 workday"}  # fmt: skip
        reply = client.open(path, method=method, data=data if method == "POST" else None)
        got = reply.status_code
        assert got == status, f"{username} {method} {path}: {got}, expected {status}"
        if got in (403, 404):
            with runtime.db.sessions() as session:
                task = session.get(HumanTask, task_id)
                held = OFFICER if template.endswith("/release") else None
                assert task is not None and task.status.value == "ready" and task.assignee == held


def notice(runtime: Runtime, number: str) -> int:
    """A written document of the case (a 补正 notice, unsigned: no certificate authority here); its id."""
    from sqlalchemy import select

    from huiju.models import Case
    from huiju.services.documents import OfficeSigner, issue

    with runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        signer = OfficeSigner(runtime.settings.resolved_certs_folder)
        return issue(session, signer, case, "supplement_notice", {"missing": ["户口簿"]}).id


PROVIDERS_ONLY = {OFFICER: 403, REVIEWER: 403, "admin": 403, "integrator": 403, "operator": 403}
OPERATOR_ONLY = {OFFICER: 403, REVIEWER: 403, "admin": 403, "integrator": 403, "provider-yiyang": 403,
                 "provider-leshan": 403}  # fmt: skip
#: Community services. {n}: an order offered to 颐养 (on the complaints' row: a complaint about it);
#: {code}: 颐养's meal service on the provider's rows, 颐养 itself on the operator's.
O2O_CONSOLE: list[tuple[str, str, dict[str, int]]] = [
    ("GET", "/console/provider/", {**PROVIDERS_ONLY, "provider-yiyang": OK, "provider-leshan": OK}),
    ("POST", "/console/provider/orders/{n}/accept", {**PROVIDERS_ONLY, "provider-yiyang": 303, "provider-leshan": 404}),
    ("POST", "/console/provider/orders/{n}/decline", {**PROVIDERS_ONLY, "provider-yiyang": 303,
                                                      "provider-leshan": 404}),
    ("POST", "/console/provider/orders/{n}/arrive", {**PROVIDERS_ONLY, "provider-yiyang": 303, "provider-leshan": 404}),
    ("POST", "/console/provider/orders/{n}/done", {**PROVIDERS_ONLY, "provider-yiyang": 303, "provider-leshan": 404}),
    ("GET", "/console/provider/services", {**PROVIDERS_ONLY, "provider-yiyang": OK, "provider-leshan": OK}),
    ("POST", "/console/provider/services", {**PROVIDERS_ONLY, "provider-yiyang": 303, "provider-leshan": 303}),
    ("POST", "/console/provider/services/{code}/price", {**PROVIDERS_ONLY, "provider-yiyang": 303,
                                                      "provider-leshan": 404}),
    ("POST", "/console/provider/services/{code}/active", {**PROVIDERS_ONLY, "provider-yiyang": 303,
                                                       "provider-leshan": 404}),
    ("POST", "/console/provider/services/{code}/slots", {**PROVIDERS_ONLY, "provider-yiyang": 303,
                                                      "provider-leshan": 404}),
    ("GET", "/console/operator/", {**OPERATOR_ONLY, "operator": OK}),
    ("GET", "/console/operator/orders/{n}", {**OPERATOR_ONLY, "operator": OK}),
    ("POST", "/console/operator/orders/{n}/assign", {**OPERATOR_ONLY, "operator": 303}),
    ("POST", "/console/operator/orders/{n}/cancel", {**OPERATOR_ONLY, "operator": 303}),
    ("GET", "/console/operator/providers", {**OPERATOR_ONLY, "operator": OK}),
    ("POST", "/console/operator/providers", {**OPERATOR_ONLY, "operator": 303}),
    ("POST", "/console/operator/providers/{code}/areas", {**OPERATOR_ONLY, "operator": 303}),
    ("POST", "/console/operator/providers/{code}/suspend", {**OPERATOR_ONLY, "operator": 303}),
    ("POST", "/console/operator/providers/{code}/reinstate", {**OPERATOR_ONLY, "operator": 303}),
    ("POST", "/console/operator/services/{code}/active", {**OPERATOR_ONLY, "operator": 303}),
    ("GET", "/console/operator/complaints", {**OPERATOR_ONLY, "operator": OK}),
    ("POST", "/console/operator/complaints/{n}/answer", {**OPERATOR_ONLY, "operator": 303}),
    ("GET", "/console/operator/settlements", {**OPERATOR_ONLY, "operator": OK}),
    ("POST", "/console/operator/settlements", {**OPERATOR_ONLY, "operator": 303}),
    ("GET", "/console/operator/settlements/{month}.{kind}", {**OPERATOR_ONLY, "operator": OK}),
    ("GET", "/console/family/", {OFFICER: OK, REVIEWER: 403, "admin": 403, "integrator": 403, "provider-yiyang": 403,
                                 "operator": 403}),
    ("POST", "/console/family/", {OFFICER: 303, REVIEWER: 403, "admin": 403, "integrator": 403,
                                  "provider-yiyang": 403, "operator": 403}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "template", "expected"), O2O_CONSOLE, ids=[f"{m} {p}" for m, p, _e in O2O_CONSOLE])
def test_o2o_console_routes(runtime: Runtime, app: Flask, method: str, template: str, expected: dict[str, int]) -> None:
    from huiju.services.o2o import feedback

    number = place_order(runtime)
    if "complaints" in template:
        with runtime.db.transaction() as session:
            number = feedback.raise_complaint(session, runtime.engine, load_actor(session, "family-zhang"), number,
                                              "送餐太晚了，饭都凉了").number  # fmt: skip
    code = "YIYANG" if "/operator/providers/" in template else "YY-MEAL"
    path = template.format(n=number, code=code, month="2030-10", kind="csv")
    assert app.test_client().open(path, method=method).status_code in (302, 400)  # signed out: sign in first
    before = _order_state(runtime, number) if "complaints" not in template else None
    for username, status in sorted(expected.items(), key=lambda kv: kv[1] in (200, 303)):
        client = app.test_client()
        assert sign_in(client, username) == 302
        data = {"csrf_token": csrf(client, "/console/"), "reason": "送餐员不足", "note": "已送达", "price": "18",
                "active": "no", "answer": "已核实，向您致歉", "month": "2030-10", "areas": "110105001001"}  # fmt: skip
        reply = client.open(path, method=method, data=data if method == "POST" else None)
        assert reply.status_code == status, f"{username} {method} {path}: {reply.status_code}, expected {status}"
        if reply.status_code in (403, 404) and before is not None:
            assert _order_state(runtime, number) == before, f"{username} {method} {path} changed the order"


def test_every_console_route_has_its_row_in_the_matrix(app: Flask) -> None:
    console = app.extensions["huiju.console"]
    rows = {
        (method, template) for method, template, _expected in CONSOLE + ADMIN_CONSOLE + PROCESS_CONSOLE + O2O_CONSOLE
    }
    placeholders = {"<number>": "{n}", "<task_id>": "{t}", "<int:material_id>": "{m}", "<int:document_id>": "{d}",
                    **ADMIN_PLACEHOLDERS, **PROCESS_PLACEHOLDERS, "<month>": "{month}", "<kind>": "{kind}"}  # fmt: skip
    for rule in console.url_map.iter_rules():
        if rule.endpoint in EXEMPT:
            continue
        path = "/console" + rule.rule
        for name, placeholder in placeholders.items():
            path = path.replace(name, placeholder)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            assert (method, path) in rows, f"{method} {path} ({rule.endpoint}) has no row in the permission matrix"


@pytest.mark.parametrize(("method", "template", "expected"), API, ids=[f"{m} {p}" for m, p, _e in API])
def test_api_routes(runtime: Runtime, app: Flask, method: str, template: str, expected: dict[str, int]) -> None:
    number = submit(runtime)
    task_id = ready_task(runtime, "intake")
    if template.endswith("/release"):
        with runtime.db.transaction() as session:
            task_service.claim_task(session, load_actor(session, OFFICER), task_id)
    path = template.format(n=number, t=task_id, i=ITEM)
    bodies = {
        "complete": {"decision": "nonsense"},
        "transfer": {"to": COLLEAGUE, "reason": "休假"},
        "cases": {"item": ITEM, "applicant": DEMO_APPLICANT, "data": FORM},
    }
    for username, status in sorted(expected.items(), key=lambda kv: kv[1] in (200, 201)):
        token = base64.b64encode(f"{username}:{DEMO_PASSWORD}".encode()).decode()
        body = bodies.get(path.rsplit("/", 1)[-1]) if method == "POST" else None
        reply = app.test_client().open(path, method=method, json=body, headers={"Authorization": f"Basic {token}"})
        assert reply.status_code == status, f"{username} {method} {path}: {reply.status_code}, expected {status}"
        if path in ("/api/v1/cases", "/api/v1/tasks") and method == "GET":
            listed = number in reply.get_data(as_text=True)
            assert listed == (SEES_CASE[username] and (path == "/api/v1/cases" or username in (OFFICER, "admin",
                                                                                                 "integrator"))), (
                f"{username} {path}: the case {'is' if listed else 'is not'} listed"
            )  # fmt: skip


YIYANG, LESHAN, OPERATOR, SON = "provider-yiyang", "provider-leshan", "operator", "family-zhang"
#: Community services: {n} an order of 张秀英's son for her, offered to 颐养 (YIYANG); {i} 颐养's meal service.
#: Everyone else of the matrix: {OFFICER, OTHER_OFFICER, REVIEWER, "admin", "integrator", RESIDENT (the mother)}.
O2O_USERS = [OFFICER, REVIEWER, "admin", "integrator", RESIDENT, SON, YIYANG, LESHAN, OPERATOR]
_NOT_PROVIDERS = {OFFICER: 403, REVIEWER: 403, "admin": 403, "integrator": 403, RESIDENT: 403, SON: 403, OPERATOR: 403}
O2O_API: list[tuple[str, str, dict[str, int]]] = [
    ("GET", "/api/v1/o2o/orders", {u: OK for u in O2O_USERS}),
    ("GET", "/api/v1/o2o/orders/{n}", {OFFICER: 404, REVIEWER: 404, "admin": OK, "integrator": 404, RESIDENT: OK,
                                       SON: OK, YIYANG: OK, LESHAN: 404, OPERATOR: OK}),
    ("POST", "/api/v1/o2o/orders/{n}/accept", {**_NOT_PROVIDERS, YIYANG: OK, LESHAN: 404}),
    ("POST", "/api/v1/o2o/orders/{n}/decline", {**_NOT_PROVIDERS, YIYANG: OK, LESHAN: 404}),
    ("POST", "/api/v1/o2o/orders/{n}/arrive", {**_NOT_PROVIDERS, YIYANG: 409, LESHAN: 404}),
    ("POST", "/api/v1/o2o/orders/{n}/done", {**_NOT_PROVIDERS, YIYANG: 409, LESHAN: 404}),
    ("GET", "/api/v1/o2o/services", {**_NOT_PROVIDERS, YIYANG: OK, LESHAN: OK}),
    ("POST", "/api/v1/o2o/services/{i}/price", {**_NOT_PROVIDERS, YIYANG: OK, LESHAN: 404}),
    ("POST", "/api/v1/o2o/services/{i}/slots", {**_NOT_PROVIDERS, YIYANG: 201, LESHAN: 404}),
]  # fmt: skip
#: Who finds the order in GET /api/v1/o2o/orders.
SEES_ORDER = {"admin", RESIDENT, SON, YIYANG, OPERATOR}


@pytest.mark.parametrize(("method", "template", "expected"), O2O_API, ids=[f"{m} {p}" for m, p, _e in O2O_API])
def test_o2o_api_routes(runtime: Runtime, app: Flask, method: str, template: str, expected: dict[str, int]) -> None:
    number = place_order(runtime)
    path = template.format(n=number, i="YY-MEAL")
    later = (datetime.now(UTC) + timedelta(days=40)).replace(microsecond=0).isoformat()
    bodies = {"decline": {"reason": "送餐员不足"}, "done": {"note": "已送达"}, "price": {"price_fen": 1800},
              "slots": {"starts": [later]}}  # fmt: skip
    before = _order_state(runtime, number)
    for username, status in sorted(expected.items(), key=lambda kv: kv[1] in (200, 201)):
        token = base64.b64encode(f"{username}:{DEMO_PASSWORD}".encode()).decode()
        body = bodies.get(path.rsplit("/", 1)[-1], {}) if method == "POST" else None
        reply = app.test_client().open(path, method=method, json=body, headers={"Authorization": f"Basic {token}"})
        assert reply.status_code == status, f"{username} {method} {path}: {reply.status_code}, expected {status}"
        if reply.status_code in (403, 404, 409):
            assert _order_state(runtime, number) == before, f"{username} {method} {path} changed the order"
        if path == "/api/v1/o2o/orders":
            assert (number in reply.get_data(as_text=True)) == (username in SEES_ORDER), username


def _order_state(runtime: Runtime, number: str) -> tuple[object, ...]:
    from huiju.models import Order, Service

    with runtime.db.sessions() as session:
        order = session.scalars(select(Order).where(Order.number == number)).one()
        price = session.scalars(select(Service.price_fen).where(Service.code == "YY-MEAL")).one()
        return (order.status, order.provider_id, len(order.events), price)


def test_every_api_route_has_its_row_in_the_matrix(app: Flask) -> None:
    rows = {(method, template) for method, template, _expected in API + O2O_API}
    placeholders = {"<number>": "{n}", "<task_id>": "{t}", "<code>": "{i}"}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = rule.rule
        for name, placeholder in placeholders.items():
            path = path.replace(name, placeholder)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            assert (method, path) in rows, f"{method} {path} ({rule.endpoint}) has no row in the permission matrix"


def test_residents_cannot_sign_in_to_the_console(app: Flask) -> None:
    client = app.test_client()
    assert sign_in(client, "resident-zhang") == 401
    assert sign_in(client, OFFICER, "wrong password") == 401
    assert client.get("/console/inbox/").status_code == 302


def test_console_sign_in_is_refused_after_repeated_failures(app: Flask) -> None:
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, OFFICER, "wrong password") == 401
    # Slowed down, never locked: each next attempt waits a little (tests/security/test_throttle.py).
    assert sign_in(client, OFFICER) == 429
    assert sign_in(app.test_client(), OTHER_OFFICER) == 302  # another account from the same address
