"""Community services in the portal: a son living elsewhere links to his mother with her consent (the
code sent to her phone), orders for her, follows, cancels; nobody else sees or changes the order."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from portal_support import OTHER_RESIDENT, add_other_resident, csrf_token, log_in
from sqlalchemy import func, select

from adapters.sandbox.server import SandboxServer
from huiju.app.seed import DEMO_APPLICANT
from huiju.models import FamilyLink, LinkStatus, Order, OrderEvent, OrderStatus, Resident
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.o2o import family

SON = "family-zhang"


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def sent_link_code(sandbox: SandboxServer, phone: str) -> str:
    codes = [m["params"]["code"] for m in sandbox.state.stores.sms.values()
             if m["phone"] == phone and m["template"] == "FAMILY_LINK_CODE"]  # fmt: skip
    assert codes, f"no link code was sent to {phone}"
    return str(codes[-1])


def mother(runtime: Runtime) -> Resident:
    with runtime.db.sessions() as session:
        return session.scalars(select(Resident).where(Resident.id_number == DEMO_APPLICANT)).one()


def link_at_centre(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        family.record_at_centre(session, load_actor(session, "officer-chaoyang-01"), username=SON,
                                parent_id_number=DEMO_APPLICANT, parent_name="张秀英", relation="child")  # fmt: skip


def order_a_meal(client: FlaskClient) -> str:
    page = text(client.get("/portal/services/YY-MEAL"))
    slot = re.search(r'name="slot" value="(\d+)"', page)
    who = re.search(r'<option value="(\d+)" selected', page)
    assert slot and who, "the order form offers no time or no person"
    reply = client.post("/portal/services/YY-MEAL", data={
        "csrf_token": csrf_token(page), "for": who.group(1), "slot": slot.group(1), "quantity": "1",
        "address": "望京西园四区7号楼2单元302", "phone": "13700001965"})  # fmt: skip
    assert reply.status_code == 302, text(reply)
    return str(reply.location.rsplit("/", 1)[-1])


def test_the_son_links_with_his_mothers_code_and_orders_for_her(
    client: FlaskClient, runtime: Runtime, citizen_info: SandboxServer
) -> None:
    assert log_in(client, SON).status_code == 302  # a family account: no resident record here
    page = text(client.get("/portal/services"))
    assert "/portal/family" in page and "张秀英" not in page  # nobody to order for yet
    page = text(client.get("/portal/family"))
    wrong = client.post("/portal/family/link", data={"csrf_token": csrf_token(page), "name": "张秀兰",
                                                     "id_number": DEMO_APPLICANT, "relation": "child"})  # fmt: skip
    assert wrong.status_code == 400  # a wrong name names no one
    reply = client.post("/portal/family/link", data={"csrf_token": csrf_token(page), "name": "张秀英",
                                                     "id_number": DEMO_APPLICANT, "relation": "child"})  # fmt: skip
    assert reply.status_code == 302
    code = sent_link_code(citizen_info, str(mother(runtime).phone))
    page = text(client.get(reply.location))
    link_id = re.search(r"/portal/family/(\d+)/confirm", page)
    assert link_id
    bad = client.post(
        f"/portal/family/{link_id.group(1)}/confirm",
        data={"csrf_token": csrf_token(page), "code": "000000" if code != "000000" else "1"},
    )
    assert bad.status_code == 400
    with runtime.db.sessions() as session:
        assert session.get(FamilyLink, int(link_id.group(1))).attempts == 1  # a wrong code counts
    good = client.post(f"/portal/family/{link_id.group(1)}/confirm", data={"csrf_token": csrf_token(page),
                                                                          "code": code})  # fmt: skip
    assert good.status_code == 302
    with runtime.db.sessions() as session:
        assert session.get(FamilyLink, int(link_id.group(1))).status is LinkStatus.ACTIVE
    page = text(client.get("/portal/services?category=meal_delivery"))
    assert "张秀英" in page and "¥600.00" in page  # her service credit
    number = order_a_meal(client)
    page = text(client.get(f"/portal/orders/{number}"))
    assert number in page and "¥15.00" in page
    listed = text(client.get("/portal/orders"))
    assert number in listed and "自付" not in listed  # the credit covers it: no payment to speak of
    credit = text(client.get("/portal/credit"))
    assert "¥585.00" in credit
    # Ending the link asks first (a disclosure that names the parent), then ends it.
    page = text(client.get("/portal/family"))
    assert f'id="end-link-{link_id.group(1)}"' in page and "确定解除绑定吗" in page and "张秀英" in page
    ended = client.post(f"/portal/family/{link_id.group(1)}/revoke", data={"csrf_token": csrf_token(page)})
    assert ended.status_code == 302
    with runtime.db.sessions() as session:
        assert session.get(FamilyLink, int(link_id.group(1))).status is not LinkStatus.ACTIVE


def test_nobody_else_sees_or_changes_the_order(client: FlaskClient, runtime: Runtime) -> None:
    link_at_centre(runtime)
    add_other_resident(runtime)
    log_in(client, SON)
    number = order_a_meal(client)
    client.post("/portal/logout", data={"csrf_token": csrf_token(text(client.get("/portal/")))})
    with runtime.db.sessions() as session:
        before = (session.scalar(select(func.count()).select_from(OrderEvent)),
                  session.scalars(select(Order.status).where(Order.number == number)).one())  # fmt: skip
    paths = [f"/portal/orders/{number}", f"/portal/orders/{number}/photo"]
    posts = [f"/portal/orders/{number}/{action}" for action in ("cancel", "confirm", "rating", "complaint")]
    for path in paths + posts:  # logged out: to the sign-in page
        reply = client.get(path) if path in paths else client.post(path, data={
            "csrf_token": csrf_token(text(client.get("/portal/login")))})  # fmt: skip
        assert reply.status_code == 302 and "/portal/login" in reply.location, path
    log_in(client, OTHER_RESIDENT)
    token = csrf_token(text(client.get("/portal/")))
    for path in paths:
        assert client.get(path).status_code == 404, path
    for path in posts:
        data = {"csrf_token": token, "confirm": "yes", "level": "1", "text": "投诉投诉投诉"}
        assert client.post(path, data=data).status_code == 404, path
    assert number not in text(client.get("/portal/orders"))
    with runtime.db.sessions() as session:
        assert (session.scalar(select(func.count()).select_from(OrderEvent)),
                session.scalars(select(Order.status).where(Order.number == number)).one()) == before  # fmt: skip
    # The mother herself sees the order her son placed for her, and may cancel it.
    client.post("/portal/logout", data={"csrf_token": token})
    log_in(client, "resident-zhang")
    page = text(client.get(f"/portal/orders/{number}"))
    assert number in page
    reply = client.post(f"/portal/orders/{number}/cancel", data={"csrf_token": csrf_token(page), "confirm": "yes"})
    assert reply.status_code == 302
    with runtime.db.sessions() as session:
        assert session.scalars(select(Order.status).where(Order.number == number)).one() is OrderStatus.CANCELLED


def test_providers_and_the_operator_use_the_console_not_the_portal(client: FlaskClient) -> None:
    for username in ("provider-yiyang", "operator"):
        reply = log_in(client, username)
        assert reply.status_code == 200 and "工作台" in text(reply)


def test_a_relative_living_elsewhere_registers_without_a_community_here(
    client: FlaskClient, runtime: Runtime, citizen_info: SandboxServer
) -> None:
    """Known to the citizen information system, not a resident here: an account to order for a parent."""
    from adapters.sandbox.people import seeded_people
    from huiju.models import User

    with runtime.db.transaction() as session:  # someone the national registry knows, who lives in another city
        taken = set(session.scalars(select(User.resident_id).where(User.resident_id.is_not(None))))
        person = next(p for p in seeded_people() if p.id_number != DEMO_APPLICANT and p.birth_date.year > 1970)
        resident = session.scalars(select(Resident).where(Resident.id_number == person.id_number)).one()
        assert resident.id not in taken
        session.delete(resident)
    page = text(client.get("/portal/register"))
    assert 'value="elsewhere"' in page
    reply = client.post("/portal/register", data={
        "csrf_token": csrf_token(page), "phone": "13601760002", "name": person.name, "id_number": person.id_number,
        "community": "elsewhere", "password": "Huiju2026pass", "password2": "Huiju2026pass"})  # fmt: skip
    assert reply.status_code == 302, text(reply)
    code = [m["params"]["code"] for m in citizen_info.state.stores.sms.values()
            if m["phone"] == "13601760002" and m["template"] == "REGISTRATION_CODE"][-1]  # fmt: skip
    page = text(client.get("/portal/register/confirm"))
    assert (
        client.post("/portal/register/confirm", data={"code": code, "csrf_token": csrf_token(page)}).status_code == 302
    )
    with runtime.db.sessions() as session:
        user = session.scalars(select(User).where(User.username == "13601760002")).one()
        assert user.resident_id is None and user.display_name == person.name
        assert session.scalars(select(Resident).where(Resident.id_number == person.id_number)).first() is None
    assert "/portal/family" in text(client.get("/portal/services"))  # next: link to the parent


def test_a_bad_order_form_is_refused_in_words_and_spends_nothing(client: FlaskClient, runtime: Runtime) -> None:
    """A quantity that is no whole number from 1 to 10, a time or a person that names nothing, a
    category that is none of ours: each answered with the form and what is wrong; no order, no credit."""
    link_at_centre(runtime)
    log_in(client, SON)
    page = text(client.get("/portal/services/YY-MEAL"))
    slot = re.search(r'name="slot" value="(\d+)"', page)
    who = re.search(r'<option value="(\d+)" selected', page)
    assert slot and who
    good = {"csrf_token": csrf_token(page), "for": who.group(1), "slot": slot.group(1), "quantity": "1",
            "address": "望京西园四区7号楼2单元302", "phone": "13700001965"}  # fmt: skip
    with runtime.db.sessions() as session:
        before = session.scalar(select(func.count()).select_from(Order))
    for quantity in ("0", "-3", "abc", "11", "9" * 30):
        reply = client.post("/portal/services/YY-MEAL", data={**good, "quantity": quantity})
        assert reply.status_code == 400 and "1" in text(reply) and "10" in text(reply), quantity
    for field, value in (("slot", "9" * 23), ("for", "9" * 23), ("slot", "²")):
        reply = client.post("/portal/services/YY-MEAL", data={**good, field: value})
        assert reply.status_code == 400, (field, value)
    with runtime.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == before
    reply = client.get("/portal/services?category=bogus")
    assert reply.status_code == 400 and "bogus" in text(reply) and 'role="alert"' in text(reply)
    assert client.post(f"/portal/family/{'9' * 23}/confirm", data={"csrf_token": good["csrf_token"]}).status_code == 404
    assert client.get(f"/portal/drafts/{'9' * 23}").status_code == 404
