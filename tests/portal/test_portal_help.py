"""The residents' help page, and the new password a resident must choose after a reset."""

from __future__ import annotations

from flask import Flask
from portal_support import RESIDENT, csrf_token, log_in

from huiju.runtime import Runtime
from huiju.services import users
from huiju.services.actors import load_actor


def test_the_help_page_is_in_the_menu_in_both_languages(app: Flask) -> None:
    client = app.test_client()
    home = client.get("/portal/items").get_data(as_text=True)
    assert "/portal/help" in home and "使用帮助" in home
    page = client.get("/portal/help").get_data(as_text=True)
    assert "注册和登录" in page and "您的个人信息" in page
    english = client.get("/portal/help?lang=en", follow_redirects=True).get_data(as_text=True)
    assert "Registering and signing in" in english


def test_after_a_reset_the_resident_chooses_a_new_password_first(runtime: Runtime, app: Flask) -> None:
    with runtime.db.transaction() as session:
        temporary = users.reset_password(session, load_actor(session, "admin"), RESIDENT)
    client = app.test_client()
    log_in(client, RESIDENT, temporary)
    cases = client.get("/portal/cases")
    assert cases.status_code == 302 and cases.headers["Location"].endswith("/portal/account/password")
    form = client.get("/portal/account/password").get_data(as_text=True)
    assert 'id="must-change"' in form
    token = csrf_token(form)
    done = client.post("/portal/account/password", data={"csrf_token": token, "current_password": temporary,
                                                          "new_password": "zhang2027ok", "new_password2": "zhang2027ok"})  # fmt: skip
    assert done.status_code == 302
    assert client.get("/portal/cases").status_code == 200
