"""The administration pages at work: an account created with a temporary password that must be
changed first, disabling that signs out at once, the roster import's progress and report, reads of
a case file in the audit trail, the message log's signed XML, and the guides."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from console_support import OFFICER, csrf, sign_in, submit
from flask import Flask
from flask.testing import FlaskClient

from huiju.runtime import Runtime

sys.path.insert(0, str(Path(__file__).parents[1] / "admin"))
from roster_support import csv_bytes  # noqa: E402


def _admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, "admin") == 302
    return client


def test_a_new_account_must_choose_its_password_first(app: Flask) -> None:
    admin = _admin(app)
    created = admin.post("/console/users/", data={"csrf_token": csrf(admin, "/console/users/"), "username": "officer-wjxy-05",
                                                   "display_name": "望京西园社区专干 吴芳", "role": "community_officer",
                                                   "office": "110105001001"}, follow_redirects=True)  # fmt: skip
    page = created.get_data(as_text=True)
    assert "账号 officer-wjxy-05 已创建" in page and "望京西园社区" in page
    temporary = re.search(r"临时密码（仅此一次显示）：(\w{12})", page)
    assert temporary, page
    officer = app.test_client()
    assert sign_in(officer, "officer-wjxy-05", temporary.group(1)) == 302
    inbox = officer.get("/console/inbox/")
    assert inbox.status_code == 302 and inbox.headers["Location"].endswith("/console/account/password")
    form = officer.get("/console/account/password").get_data(as_text=True)
    assert "您的密码已被系统管理员重置" in form or "请先设置新密码" in form
    token = csrf(officer, "/console/account/password")
    differ = officer.post("/console/account/password", data={"csrf_token": token, "current_password": temporary.group(1),
                                                              "new_password": "wangjing2027", "new_password2": "wangjing2028"})  # fmt: skip
    assert differ.status_code == 400 and "两次输入的新密码不一致" in differ.get_data(as_text=True)
    done = officer.post("/console/account/password", data={"csrf_token": token, "current_password": temporary.group(1),
                                                            "new_password": "wangjing2027", "new_password2": "wangjing2027"})  # fmt: skip
    assert done.status_code == 302 and done.headers["Location"].endswith("/console/inbox/")
    assert officer.get("/console/inbox/").status_code == 200


def test_disabling_signs_the_officer_out_at_once(app: Flask) -> None:
    officer = app.test_client()
    assert sign_in(officer, OFFICER) == 302
    assert officer.get("/console/inbox/").status_code == 200
    admin = _admin(app)
    page = admin.post(f"/console/users/{OFFICER}/disable", data={"csrf_token": csrf(admin, "/console/users/"),
                                                                  "reason": "调离"}, follow_redirects=True)  # fmt: skip
    assert "已停用" in page.get_data(as_text=True)
    assert officer.get("/console/inbox/").status_code == 302  # its session is over
    assert sign_in(app.test_client(), OFFICER) == 401


def test_the_roster_import_shows_progress_and_the_report(runtime: Runtime, app: Flask) -> None:
    admin = _admin(app)
    token = csrf(admin, "/console/roster/")
    started = admin.post("/console/roster/", data={"csrf_token": token, "dry_run": "1",
                                                    "file": (__import__("io").BytesIO(csv_bytes(runtime)), "居民信息.csv")},
                         content_type="multipart/form-data")  # fmt: skip
    assert started.status_code == 303
    path = started.headers["Location"].removeprefix("http://localhost")
    page = admin.get(path).get_data(as_text=True)
    assert "共读取 8 行；3 行通过校验，5 行被拒绝" in page and 'id="roster-progress"' in page
    step = admin.post(path + "/step", headers={"Accept": "application/json", "X-CSRFToken": token})
    assert step.status_code == 200
    assert step.get_json() == {"processed": 3, "accepted": 3, "total": 8, "done": True, "added": 2, "updated": 1,
                               "unchanged": 0, "refused": 5}  # fmt: skip
    report = admin.get(path).get_data(as_text=True)
    assert "未知社区 望京东园社区" in report and "与第 2 行的身份证号重复" in report and "将新增" in report


def test_an_officer_reading_a_case_file_is_in_the_audit_trail(runtime: Runtime, app: Flask) -> None:
    number = submit(runtime)
    officer = app.test_client()
    assert sign_in(officer, OFFICER) == 302
    assert officer.get(f"/console/cases/{number}").status_code == 200
    admin = _admin(app)
    page = admin.get(f"/console/audit/?case={number}").get_data(as_text=True)
    assert "查阅案卷" in page and OFFICER in page and "提交办件" in page and "工作台" in page
    exported = admin.get(f"/console/audit/export.csv?case={number}")
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    assert "查阅案卷" in exported.get_data(as_text=True)
    verified = admin.post("/console/audit/verify", data={"csrf_token": csrf(admin, "/console/audit/")},
                          follow_redirects=True)  # fmt: skip
    assert "审计日志完整" in verified.get_data(as_text=True)


def test_the_guides_are_in_the_help_menu(app: Flask) -> None:
    officer = app.test_client()
    assert sign_in(officer, OFFICER) == 302
    inbox = officer.get("/console/inbox/").get_data(as_text=True)
    assert "/console/help/" in inbox and "帮助" in inbox
    guide = officer.get("/console/help/officer-manual").get_data(as_text=True)
    assert "<h1>" in guide and "/console/help/images/" in guide
    assert officer.get("/console/help/../setup.cfg").status_code == 404
