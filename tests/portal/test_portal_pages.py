"""The portal through Flask's test client: sign in and out, limits, CSRF, catalogue, cases, language."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from portal_support import (
    OTHER_RESIDENT,
    RESIDENT,
    add_other_resident,
    csrf_token,
    log_in,
    request_supplement,
    submit,
)
from sqlalchemy import select

from huiju.app.seed import DEMO_APPLICANT, DEMO_PASSWORD
from huiju.models import Resident
from huiju.runtime import Runtime
from tests.support.canned import deliver_replies


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


# -- signing in and out ----------------------------------------------------------------------------


def test_login_page_is_chinese_with_a_csrf_token(client: FlaskClient) -> None:
    page = client.get("/portal/login")
    assert page.status_code == 200
    body = text(page)
    assert '<html lang="zh-CN"' in body
    assert "登录" in body and "用户名或手机号" in body
    assert csrf_token(body)


def test_login_with_user_name_shows_the_home_page(client: FlaskClient) -> None:
    response = log_in(client)
    assert response.status_code == 302
    assert response.location == "/portal/"
    home = client.get("/portal/")
    assert home.status_code == 200
    assert "张秀英，您好" in text(home)


def test_login_with_phone_number(client: FlaskClient, runtime: Runtime) -> None:
    with runtime.db.sessions() as session:
        phone = session.scalars(select(Resident.phone).where(Resident.id_number == DEMO_APPLICANT)).one()
    assert phone
    response = log_in(client, f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}")
    assert response.status_code == 302
    assert "张秀英，您好" in text(client.get("/portal/"))


def test_wrong_password_is_refused_with_a_clear_message(client: FlaskClient) -> None:
    response = log_in(client, password="not-the-password")
    assert response.status_code == 200
    assert "用户名、手机号或密码不正确。" in text(response)
    assert client.get("/portal/").status_code == 302  # still signed out


def test_officer_accounts_cannot_use_the_portal(client: FlaskClient) -> None:
    response = log_in(client, "officer-chaoyang-01")
    assert "本门户供居民使用" in text(response)
    assert client.get("/portal/cases").status_code == 302


def test_failed_logins_are_limited_per_account(client: FlaskClient) -> None:
    for _attempt in range(5):
        assert log_in(client, password="wrong").status_code == 200
    limited = log_in(client)  # even the right password, until the window has passed
    assert limited.status_code == 429
    assert "登录失败次数过多" in text(limited)
    assert client.get("/portal/").status_code == 302
    # Another account from the same address is not blocked by this account's failures.
    assert log_in(client, "officer-chaoyang-01", "wrong").status_code == 200


def test_failed_logins_are_limited_per_address(runtime: Runtime, client: FlaskClient) -> None:
    limit = int(runtime.settings.signin_address_limit.split()[0])  # HUIJU_SIGNIN_ADDRESS_LIMIT
    for n in range(limit):
        assert log_in(client, f"nobody-{n}", "wrong").status_code == 200
    assert log_in(client).status_code == 429  # this address waits (tests/security/test_throttle.py)


def test_successful_logins_are_not_counted(client: FlaskClient) -> None:
    for _attempt in range(7):
        assert log_in(client).status_code == 302


def test_post_without_csrf_token_is_refused(client: FlaskClient) -> None:
    refused = client.post("/portal/login", data={"login": RESIDENT, "password": DEMO_PASSWORD})
    assert refused.status_code == 400
    assert "页面已过期" in text(refused)
    log_in(client)
    assert client.post("/portal/logout").status_code == 400
    assert client.get("/portal/").status_code == 200  # the forged logout changed nothing
    forged = client.post("/portal/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 400


def test_logout_ends_the_session(client: FlaskClient) -> None:
    log_in(client)
    token = csrf_token(text(client.get("/portal/")))
    response = client.post("/portal/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.location == "/portal/login"
    assert client.get("/portal/cases").status_code == 302


@pytest.mark.parametrize("path", ["/portal/", "/portal/cases", "/portal/cases/HJ2026010100001"])
def test_logged_out_visitors_are_sent_to_the_login_page(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/portal/login?next=")


def test_login_returns_to_the_page_asked_for_but_never_off_site(client: FlaskClient) -> None:
    def sign_in(target: str) -> str | None:
        # Signing in starts a new session: each attempt needs the token of a fresh login page.
        token = csrf_token(text(client.get("/portal/login")))
        data = {"login": RESIDENT, "password": DEMO_PASSWORD, "csrf_token": token}
        return client.post("/portal/login", query_string={"next": target}, data=data).location

    assert sign_in("/portal/cases") == "/portal/cases"
    for target in ("https://evil.example/", "//evil.example/portal/", "/api/v1/cases", "/portal/\\evil.example"):
        assert sign_in(target) == "/portal/"


# -- catalogue and cases ---------------------------------------------------------------------------


def test_catalogue_groups_items_by_theme(client: FlaskClient) -> None:
    body = text(client.get("/portal/items"))
    assert "办事指南" in body
    assert "养老服务" in body
    assert "居家养老服务补贴" in body
    assert "10 个工作日内办结" in body


def test_item_page_says_who_may_apply_materials_limit_and_steps(client: FlaskClient) -> None:
    body = text(client.get("/portal/items/elderly-care-subsidy"))
    # The guide comes from the item row (huiju/data/items.json), in the resident's language.
    for expected in ("申请条件", "年满60周岁、享受最低生活保障（低保）的居民：每月600元。", "所需材料", "居民身份证",
                     "户口簿", "办理时限", "法定时限为 20 个工作日", "办理流程", "街道审核。"):  # fmt: skip
        assert expected in body
    english = text(client.get("/portal/items/elderly-care-subsidy?lang=en", follow_redirects=True))
    assert "Residents aged 80 or over from an ordinary family: 200 yuan a month." in english
    assert "The street office reviews it." in english
    assert client.get("/portal/items/no-such-item").status_code == 404


def test_my_cases_lists_only_my_own(client: FlaskClient, runtime: Runtime) -> None:
    other_id = add_other_resident(runtime)
    mine = submit(runtime, RESIDENT, DEMO_APPLICANT)
    theirs = submit(runtime, OTHER_RESIDENT, other_id)
    log_in(client)
    body = text(client.get("/portal/cases"))
    assert mine in body
    assert theirs not in body
    # Only the receipt SMS (受理回执) is out: submitted; once it is settled the identity check is.
    assert "已提交" in body and "核验中" not in body
    deliver_replies(runtime, operations={"sms.send_sms"})
    body = text(client.get("/portal/cases"))
    assert mine in body and "核验中" in body


def test_a_foreign_or_unknown_case_is_not_found(client: FlaskClient, runtime: Runtime) -> None:
    other_id = add_other_resident(runtime)
    theirs = submit(runtime, OTHER_RESIDENT, other_id)
    with runtime.db.sessions() as session:
        their_name = session.scalars(select(Resident.name).where(Resident.id_number == other_id)).one()
    log_in(client)
    for number in (theirs, "HJ2099123199999", "../../api/v1/cases"):
        response = client.get(f"/portal/cases/{number}")
        assert response.status_code == 404
        body = text(response)
        assert "您名下没有这个编号的办件" in body
        assert their_name not in body and "居家养老服务补贴" not in body and "办理进度" not in body


def test_case_page_shows_the_materials_asked_for(client: FlaskClient, runtime: Runtime) -> None:
    number = submit(runtime, RESIDENT, DEMO_APPLICANT)
    request_supplement(runtime, number, ["户口簿复印件", "银行卡复印件"])
    log_in(client)
    body = text(client.get(f"/portal/cases/{number}"))
    assert "待补正" in body
    assert "社区请您补齐以下材料" in body
    assert "户口簿复印件" in body and "银行卡复印件" in body
    assert "社区受理" in body  # the timeline names the steps
    home = text(client.get("/portal/"))
    assert "有事项需要您处理" in home and number in home


def test_in_english_the_materials_asked_for_are_named_in_english(client: FlaskClient, runtime: Runtime) -> None:
    number = submit(runtime, RESIDENT, DEMO_APPLICANT)
    request_supplement(runtime, number, ["户口簿", "银行卡复印件"])  # one of the item's, one in the officer's words
    log_in(client)
    client.get(f"/portal/cases/{number}?lang=en")  # the language chosen, kept for the pages after
    body = text(client.get(f"/portal/cases/{number}"))
    assert "Household register" in body and "户口簿" not in body.replace("户口簿复印件", "")
    assert "Household register, 银行卡复印件" in body  # the timeline: the officer's words as written
    client.get(f"/portal/cases/{number}?lang=zh_CN")
    body = text(client.get(f"/portal/cases/{number}"))
    assert "户口簿、银行卡复印件" in body and "Household register" not in body


def test_data_is_escaped_never_rendered_as_html(client: FlaskClient, runtime: Runtime) -> None:
    number = submit(runtime, RESIDENT, DEMO_APPLICANT)
    request_supplement(runtime, number, ["<script>alert(1)</script>"])
    log_in(client)
    body = text(client.get(f"/portal/cases/{number}"))
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


# -- language, display, headers --------------------------------------------------------------------


def test_language_switch_is_kept_in_the_session(client: FlaskClient) -> None:
    switched = client.get("/portal/items?lang=en")
    assert switched.status_code == 302
    assert switched.location == "/portal/items"
    body = text(client.get("/portal/items"))
    assert '<html lang="en"' in body
    assert "Service guide" in body and "Home-based elderly care service subsidy" in body
    log_in(client)
    assert "Hello, 张秀英" in text(client.get("/portal/"))  # kept across signing in
    client.get("/portal/?lang=zh_CN")
    assert "张秀英，您好" in text(client.get("/portal/"))


def test_large_text_mode_is_a_csrf_protected_choice(client: FlaskClient) -> None:
    token = csrf_token(text(client.get("/portal/items")))
    response = client.post("/portal/display", data={"display": "large", "next": "/portal/items", "csrf_token": token})
    assert response.location == "/portal/items"
    assert 'class="display-large"' in text(client.get("/portal/items"))


def test_security_headers_and_session_cookie(client: FlaskClient) -> None:
    response = log_in(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    for path in ("/portal/cases", "/portal/no/such/page", "/portal/static/portal.css"):
        page = client.get(path)
        page.close()  # a static file is streamed from disk
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["X-Frame-Options"] == "DENY"
        policy = page.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in policy and "default-src 'none'" in policy
    assert client.get("/portal/cases").headers["Cache-Control"] == "no-store"


def test_the_api_is_left_alone(client: FlaskClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    # The API has its own policy (the same security headers everywhere), not the portal's pages'.
    assert "style-src" not in response.headers["Content-Security-Policy"]
