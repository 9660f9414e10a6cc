"""Nothing of a resident's leaks to, or is changed by, anyone else: every portal route and the API
routes are tried as another resident, as a logged-out visitor, with forged numbers and ids, and
with POSTs that carry no CSRF token."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from portal_support import OTHER_RESIDENT, PNG, RESIDENT, add_other_resident, csrf_token, log_in, request_supplement
from sqlalchemy import func, select

from huiju.app.seed import DEMO_PASSWORD
from huiju.models import Case, CaseEvent, Document, Draft, Material, Rating
from huiju.runtime import Runtime
from huiju.services import applications
from huiju.services.actors import load_actor
from huiju.services.materials import Upload, UploadStore
from workflows_bpmn.models import HumanTask, HumanTaskStatus

FORM = {"income_band": "subsistence", "disability": "none", "living_alone": True}


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


@pytest.fixture
def owned(runtime: Runtime) -> dict[str, Any]:
    """Resident Zhang's case (waiting for 补正, with materials) and a draft with a material."""
    add_other_resident(runtime)
    store = UploadStore(runtime.settings.resolved_uploads_folder, runtime.settings.upload_max_bytes)
    with runtime.db.transaction() as session:
        actor = load_actor(session, RESIDENT)
        draft = applications.start_draft(session, actor, "elderly-care-subsidy")
        applications.save_draft(session, actor, draft.id, FORM)
        for code in ("id_card", "household_register"):
            applications.add_draft_material(session, store, actor, draft.id, Upload(code, f"{code}.png", PNG))
        number = applications.submit_draft(session, runtime.engine, actor, draft.id).number
        case_material = session.scalars(select(Material.id).where(Material.case_id.is_not(None))).first()
        other = applications.start_draft(session, actor, "elderly-care-subsidy")
        draft_material = applications.add_draft_material(
            session, store, actor, other.id, Upload("id_card", "a.png", PNG)
        )
        ids = {"number": number, "draft": other.id, "case_material": case_material, "draft_material": draft_material.id}
    request_supplement(runtime, number, ["户口簿复印件"])
    with runtime.db.transaction() as session:  # a file kept toward the 补正 answer, not sent yet
        refused = applications.keep_supplement_files(
            session,
            store,
            load_actor(session, RESIDENT),
            number,
            [applications.SupplementFile(0, Upload("x", "hk.png", PNG))],
        )
        assert not refused
    with runtime.db.sessions() as session:
        ids["task"] = session.scalars(select(HumanTask.id).where(HumanTask.status == HumanTaskStatus.READY)).one()
        ids["pending"] = session.scalars(select(Material.id).where(Material.pending_case_id.is_not(None))).one()
        ids["document"] = session.scalars(select(Document.id)).first()
        assert ids["document"] is not None, "the 补正 notice is a written document of the case"
    return ids


def snapshot(runtime: Runtime) -> tuple[Any, ...]:
    with runtime.db.sessions() as session:
        count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
        drafts = [(d.id, dict(d.form_data)) for d in session.scalars(select(Draft).order_by(Draft.id))]
        statuses = [(c.number, c.status) for c in session.scalars(select(Case))]
        files = sorted(p.name for p in runtime.settings.resolved_uploads_folder.rglob("*") if p.is_file())
        return (count(Material), count(CaseEvent), count(Rating), drafts, statuses, files)


def routes(ids: dict[str, Any]) -> list[tuple[str, str]]:
    n, d, cm, dm = ids["number"], ids["draft"], ids["case_material"], ids["draft_material"]
    return [
        ("GET", f"/portal/cases/{n}"),
        ("GET", f"/portal/cases/{n}/documents/{ids['document']}"),
        ("GET", f"/portal/materials/{ids['pending']}"),
        ("POST", f"/portal/cases/{n}/supplement/{ids['pending']}/delete"),
        ("GET", f"/portal/drafts/{d}"),
        ("GET", f"/portal/materials/{cm}"),
        ("GET", f"/portal/materials/{dm}"),
        ("POST", f"/portal/drafts/{d}"),
        ("POST", f"/portal/drafts/{d}/materials/{dm}/delete"),
        ("POST", f"/portal/cases/{n}/supplement"),
        ("POST", f"/portal/cases/{n}/withdraw"),
        ("POST", f"/portal/cases/{n}/rating"),
    ]


#: Routes that hold no resident's data, or only the signed-in resident's own lists.
PUBLIC_OR_OWN = {
    "/portal/",
    "/portal/login",
    "/portal/logout",
    "/portal/display",
    "/portal/items",
    "/portal/items/<code>",
    "/portal/cases",
    "/portal/register",
    "/portal/register/confirm",
    "/portal/account/password",  # the signed-in resident's own (tests/security/test_sessions.py)
    "/portal/items/<code>/apply",
    "/portal/items/<code>/apply-for",
    "/portal/<path:unknown>",
    "/portal/static/<path:filename>",
    "/portal/help",
    # community services: the catalogue for the signed-in account's own people, their own lists
    "/portal/services",
    "/portal/services/<code>",
    "/portal/orders",
    "/portal/credit",
    "/portal/family",
    "/portal/family/link",
}
#: An order's pages and a family link's actions: tried as another resident and logged out in test_portal_o2o.py.
O2O_OWNED = {
    "/portal/orders/<number>",
    "/portal/orders/<number>/photo",
    "/portal/orders/<number>/cancel",
    "/portal/orders/<number>/confirm",
    "/portal/orders/<number>/rating",
    "/portal/orders/<number>/complaint",
    "/portal/family/<int:link_id>/confirm",
    "/portal/family/<int:link_id>/revoke",
}


def test_every_portal_route_is_covered(app: Flask) -> None:
    pattern = {
        "/portal/cases/<number>", "/portal/drafts/<int:draft_id>", "/portal/materials/<int:material_id>",
        "/portal/drafts/<int:draft_id>/materials/<int:material_id>/delete", "/portal/cases/<number>/supplement",
        "/portal/cases/<number>/withdraw", "/portal/cases/<number>/rating",
        "/portal/cases/<number>/documents/<int:document_id>", "/portal/cases/<number>/supplement/<int:material_id>/delete",
    }  # fmt: skip
    found = {rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/portal")}
    assert found == pattern | PUBLIC_OR_OWN | O2O_OWNED, "a new portal route needs its place in the access tests"


def post_data(client: FlaskClient, with_token: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "level": "1", "comment": "x", "confirm": "yes", "action": "submit", "income_band": "ordinary",
        "file_0": (io.BytesIO(PNG), "a.png"), "file_id_card": (io.BytesIO(PNG), "b.png"),
    }  # fmt: skip
    if with_token:
        data["csrf_token"] = csrf_token(text(client.get("/portal/login")))
    return data


def test_another_resident_sees_and_changes_nothing(
    client: FlaskClient, runtime: Runtime, owned: dict[str, Any]
) -> None:
    before = snapshot(runtime)
    log_in(client, OTHER_RESIDENT)
    for method, path in routes(owned):
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data=post_data(client, True), content_type="multipart/form-data")
        assert response.status_code == 404, (method, path, response.status_code)
        body = text(response)  # the 404 page echoes the path asked for, nothing of the case
        assert "张秀英" not in body and "居家养老服务补贴" not in body and "户口簿复印件" not in body
    assert owned["number"] not in text(client.get("/portal/cases"))
    assert owned["number"] not in text(client.get("/portal/"))
    assert snapshot(runtime) == before


def test_logged_out_visitors_see_and_change_nothing(
    client: FlaskClient, runtime: Runtime, owned: dict[str, Any]
) -> None:
    before = snapshot(runtime)
    for method, path in routes(owned):
        if method == "GET":
            response = client.get(path)
            assert response.status_code == 302 and response.location.startswith("/portal/login"), path
        else:
            response = client.post(path, data=post_data(client, True), content_type="multipart/form-data")
            assert response.status_code == 302 and response.location.startswith("/portal/login"), path
    assert snapshot(runtime) == before


def test_posts_without_a_csrf_token_change_nothing(
    client: FlaskClient, runtime: Runtime, owned: dict[str, Any]
) -> None:
    before = snapshot(runtime)
    log_in(client, RESIDENT)
    for method, path in routes(owned):
        if method == "POST":
            response = client.post(path, data=post_data(client, False), content_type="multipart/form-data")
            assert response.status_code == 400, path
            assert "页面已过期" in text(response)
    assert snapshot(runtime) == before
    assert client.get(f"/portal/cases/{owned['number']}").status_code == 200  # the owner does see it


@pytest.mark.parametrize(
    "path",
    [
        "/portal/cases/HJ2099010100001",
        "/portal/cases/%27%20OR%201=1",
        "/portal/materials/999999",
        "/portal/drafts/999999",
        "/portal/materials/-1",
        "/portal/drafts/0",
    ],
)
def test_forged_numbers_and_ids_are_not_found(client: FlaskClient, owned: dict[str, Any], path: str) -> None:
    log_in(client, RESIDENT)
    assert client.get(path).status_code == 404


def basic(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{DEMO_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_the_api_follows_the_same_rule(client: FlaskClient, runtime: Runtime, owned: dict[str, Any]) -> None:
    before = snapshot(runtime)
    other = basic(OTHER_RESIDENT)
    number, task = owned["number"], owned["task"]
    assert client.get(f"/api/v1/cases/{number}", headers=other).status_code == 404
    assert number not in text(client.get("/api/v1/cases", headers=other))
    assert task not in text(client.get("/api/v1/tasks", headers=other))
    assert client.get(f"/api/v1/tasks/{task}", headers=other).status_code == 404
    response = client.post(f"/api/v1/tasks/{task}/complete", headers=other, json={"decision": "submit", "data": {}})
    assert response.status_code == 404
    assert client.post(f"/api/v1/cases/{number}/retry", headers=other).status_code in (403, 404)
    assert client.get(f"/api/v1/cases/{number}").status_code == 401
    assert client.get(f"/api/v1/cases/{number}", headers=basic(RESIDENT)).status_code == 200
    assert snapshot(runtime) == before


def test_an_agent_and_the_applicant_both_see_the_case_in_the_portal_and_the_api(
    client: FlaskClient, runtime: Runtime
) -> None:
    from huiju.app.seed import DEMO_APPLICANT
    from huiju.models import Resident

    add_other_resident(runtime)
    store = UploadStore(runtime.settings.resolved_uploads_folder, runtime.settings.upload_max_bytes)
    with runtime.db.transaction() as session:
        agent = load_actor(session, OTHER_RESIDENT)
        name = session.scalars(select(Resident.name).where(Resident.id_number == DEMO_APPLICANT)).one()
        draft = applications.start_draft(session, agent, "elderly-care-subsidy", applicant_id_number=DEMO_APPLICANT,
                                         applicant_name=name, relation="child")  # fmt: skip
        applications.save_draft(session, agent, draft.id, FORM)
        for code in ("id_card", "household_register", applications.CONSENT_FORM):
            applications.add_draft_material(session, store, agent, draft.id, Upload(code, f"{code}.png", PNG))
        number = applications.submit_draft(session, runtime.engine, agent, draft.id,
                                           consent_statement="本人签字同意，见授权委托书").number  # fmt: skip
    for username in (RESIDENT, OTHER_RESIDENT):
        assert client.get(f"/api/v1/cases/{number}", headers=basic(username)).status_code == 200
        assert number in text(client.get("/api/v1/cases", headers=basic(username)))
        log_in(client, username)
        page = text(client.get(f"/portal/cases/{number}"))
        assert number in page
        client.post("/portal/logout", data={"csrf_token": csrf_token(page)})
    log_in(client, OTHER_RESIDENT)
    assert "由您代办" in text(client.get(f"/portal/cases/{number}"))
