"""The administration pages at work: an account created with a temporary password that must be
changed first, disabling that signs out at once, the roster import's progress and report, reads of
a case file in the audit trail, every action's before and after there in words (no key, no code),
the message log's signed XML, and the guides."""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

from console_support import COLLEAGUE, OFFICER, csrf, decide, ready_task, sign_in, submit
from flask import Flask
from flask.testing import FlaskClient
from processes_support import deploy, with_check_step
from sqlalchemy import select

from adapters.registry import REGISTRY
from certs.store import init_dev_pki
from huiju.models import AuditEntry, Case
from huiju.runtime import Runtime
from huiju.services import (
    accounts,
    audit,
    audit_trail,
    audit_words,
    calendar_admin,
    catalogue,
    certificates,
    integration,
    message_log,
    offices,
    roster,
    running,
    systems,
    tasks,
    users,
)
from huiju.services.actors import load_actor
from huiju.services.cases import retry_incident
from tests.support.codes import codes_in

sys.path.insert(0, str(Path(__file__).parents[1] / "admin"))
from integration_support import HOUSING_WSDL  # noqa: E402
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


# --- every action's before and after, in words ------------------------------------------------------

#: Actions recorded with neither before nor after: reads (of a case file, a material, an identity).
READS = {"case.read", "material.read", "identity.read"}
#: Actions not done here, and why: their keys are checked in the source (tests/admin/test_audit.py).
NOT_DONE_HERE = {"message.retry": "it needs a dead message whose step still waits"}
NEW_ITEM = catalogue.ItemFields(
    code="housing-help", name="住房困难救助", name_en="Housing hardship assistance", kind="public_service",
    responsible_level="community", statutory_limit=20, committed_limit=10, limit_unit="working_days",
    process_id="community_approval", theme="social_assistance", supplement_wait="P30D",
    form_schema={"type": "object", "required": ["rooms"],
                 "properties": {"rooms": {"type": "integer", "title": "住房间数", "x-title-en": "Rooms", "minimum": 1}}},
    required_materials=[{"code": "id_card", "name": "居民身份证", "name_en": "ID card", "required": True}],
)  # fmt: skip


def _everything_audited(runtime: Runtime, tmp_path: Path) -> str:
    """Every action the audit trail records with a before or an after, done once through its service
    (reads record neither); returns the number of the case that was suspended, moved and migrated."""
    db, engine = runtime.db, runtime.engine
    with db.transaction() as session:  # accounts and offices
        admin = load_actor(session, "admin")
        users.create_user(session, admin, users.NewAccount("officer-wjxy-09", "community_officer", "社区专干 周敏",
                                                           "110105001001"))  # fmt: skip
        users.update_user(session, admin, "officer-wjxy-09", office="110105001002")
        users.disable_user(session, admin, "officer-wjxy-09", "调离")
        users.enable_user(session, admin, "officer-wjxy-09")
        temporary = users.reset_password(session, admin, "officer-wjxy-09")
        offices.add_office(session, admin, "110105001099", "望京东园社区", "community", parent="110105001")
    accounts.change_password(db, "officer-wjxy-09", temporary, "wangjing2031")
    with db.transaction() as session:  # the calendar
        admin = load_actor(session, "admin")
        calendar_admin.set_day(session, engine, admin, date(2031, 1, 2), "holiday", "元旦")
        calendar_admin.set_day(session, engine, admin, date(2031, 1, 2), "workday", "调休")
        calendar_admin.remove_day(session, engine, admin, date(2031, 1, 2))
        calendar_admin.import_schedule(session, engine, admin, 2032, "2032-01-01 holiday 元旦\n")
        calendar_admin.set_day(session, engine, admin, date(2031, 1, 1), "holiday", "元旦")
        calendar_admin.publish_year(session, engine, admin, 2031)
        job = roster.start_import(session, admin, "居民信息.csv", csv_bytes(runtime), dry_run=True)
    roster.run_import(db, load_actor_of(runtime, "admin"), job.id)
    integrator = load_actor_of(runtime, "integrator")
    with db.transaction() as session:  # adapters and systems
        integration.configure(session, integrator, "sms", {"max_attempts": "7", "connect_timeout": "2.5",
                                                           "enabled": "false"}, secure=False)  # fmt: skip
        for _twice in range(2):
            systems.upload_system(session, integrator, "housing", "住房保障系统", "Housing system",
                                  HOUSING_WSDL.read_bytes())  # fmt: skip
            systems.map_operation(session, integrator, "housing", "housing.ping", "Ping", probe={})
    integration.test_connection(db, integrator, "citizen_info", None)  # nothing answers at 127.0.0.1:9
    with db.transaction() as session:  # the catalogue and processes
        admin = load_actor(session, "admin")
        catalogue.create_item(session, admin, NEW_ITEM)
        catalogue.update_item(session, admin, NEW_ITEM.code, catalogue.ItemFields(**{**NEW_ITEM.__dict__,
                                                                                      "committed_limit": 5}))  # fmt: skip
        catalogue.publish_item(session, admin, NEW_ITEM.code)
        catalogue.withdraw_item(session, admin, NEW_ITEM.code, "政策调整")
    number = submit(runtime)  # at the counter: case.submit
    task_id = ready_task(runtime, "intake")
    with db.transaction() as session:  # tasks
        officer = load_actor(session, OFFICER)
        tasks.claim_task(session, officer, task_id)
        tasks.release_task(session, officer, task_id)
        tasks.claim_task(session, officer, task_id)
        tasks.transfer_task(session, officer, task_id, COLLEAGUE, "休假")
    decide(runtime, COLLEAGUE, "intake", "accept")
    with db.transaction() as session:  # the running case
        admin = load_actor(session, "admin")
        running.suspend_case(session, engine, admin, number, "材料存疑")
        running.resume_case(session, engine, admin, number, "核实无误")
        running.move_case(session, engine, admin, number, "intake", "退回重审")
    v2 = deploy(runtime, with_check_step())
    with db.transaction() as session:
        running.migrate_case(session, engine, load_actor(session, "admin"), number, v2.id)
        instance_id = session.scalars(select(Case.process_instance_id).where(Case.number == number)).one()
        assert instance_id is not None
        engine.mark_incident(session, instance_id, "StepError: the model cannot take this reply")
    with db.transaction() as session:
        retry_incident(session, engine, load_actor(session, OFFICER), number)
    folder, partner = runtime.settings.resolved_certs_folder, tmp_path / "partner"
    init_dev_pki(folder)
    init_dev_pki(partner, members=("housing",))
    certificates.upload(db, folder, integrator, "ca", (partner / "ca.cert.pem").read_bytes(), "housing")
    rotated = certificates.rotate(db, folder, integrator, "huiju", "tls-client")
    certificates.revoke_certificate(db, folder, integrator, rotated.serial_hex, "keyCompromise")
    certificates.refresh(db, folder, integrator, days=45)
    certificates.refresh(db, folder, integrator, partner_crl=(partner / "crl.pem").read_bytes())
    admin = load_actor_of(runtime, "admin")
    audit_trail.export_csv(db, admin, audit_trail.AuditFilter(action="user.create", id_number="110105193801012340"))
    audit_trail.verify_as(db, admin)
    message_log.verify_chain(db, integrator)
    return number


def load_actor_of(runtime: Runtime, username: str):  # type: ignore[no-untyped-def]
    with runtime.db.sessions() as session:
        return load_actor(session, username)


class _Shown(HTMLParser):
    """The text of the audit table a person reads: names and identifiers (``translate="no"``) left out."""

    def __init__(self) -> None:
        super().__init__()
        self.inside, self.hidden, self.parts = 0, 0, []  # type: ignore[var-annotated]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("id", "audit") in attrs:
            self.inside = 1
        elif self.inside:
            self.inside += 1 if tag not in ("br", "input") else 0
            if self.hidden or ("translate", "no") in attrs:
                self.hidden += 1 if tag not in ("br", "input") else 0

    def handle_endtag(self, tag: str) -> None:
        if self.inside:
            self.inside -= 1
            self.hidden = max(self.hidden - 1, 0) if self.hidden else 0

    def handle_data(self, data: str) -> None:
        if self.inside and not self.hidden:
            self.parts.append(data)


def shown_text(page: str) -> str:
    parser = _Shown()
    parser.feed(page)
    return "\n".join(parser.parts)


def test_every_action_shows_its_before_and_after_in_words(runtime: Runtime, app: Flask, tmp_path: Path) -> None:
    try:
        number = _everything_audited(runtime, tmp_path)
    finally:
        REGISTRY.refresh(force=True)  # the next test's database has no uploaded systems
    with runtime.db.sessions() as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        assert audit_trail.verify(session).ok  # the records themselves are as they were: codes, hashed
    done = {e.action for e in entries}
    assert set(audit.ACTIONS) - READS - set(NOT_DONE_HERE) <= done, "an action the audit trail records is not done here"
    # Every key any action recorded has words (the detail of an export is its filters).
    keys: set[tuple[str, str]] = set()
    for e in entries:
        for text in (e.before, e.after, e.detail if e.action == "audit.export" else None):
            keys |= {(e.action, key) for key in json.loads(text)} if text else set()
    assert [k for k in sorted(keys) if audit_words.field_of(*k) is None] == []
    recorded = {key for _action, key in keys}
    # The page shows them in words, in Chinese and in English: no key and no code outside names.
    client = app.test_client()
    assert sign_in(client, "admin") == 302
    pages, html = {}, {}
    for lang in ("zh", "en"):
        client.get(f"/console/lang/{lang}")
        page = client.get("/console/audit/").get_data(as_text=True)
        text = shown_text(page)
        pages[lang], html[lang] = text, page
        assert len(re.findall(r'<tr data-entry="\d+"', page)) == min(len(entries), 100)
        assert codes_in(text, lang) == [], lang
        shown_keys = {k for k in recorded if re.search(rf"(?<![\w.-]){re.escape(k)}(?![\w.-])", text)}
        assert not {k for k in shown_keys if "_" in k or lang == "zh"}, (lang, shown_keys)
        assert "{" not in text and '":' not in text  # no JSON left
    zh, en = pages["zh"], pages["en"]
    assert number in html["zh"]

    def shows(lang: str, field: str, value: str, *, name: bool = False) -> bool:
        mark = ' translate="no"' if name else ""
        return f"<dt>{field}</dt><dd{mark}>{value}</dd>" in html[lang]

    # an account: its role, office (by its name) and flags
    assert shows("zh", "角色", "社区专干") and shows("en", "Role", "Community officer")
    assert shows("zh", "所属单位", "花家地社区", name=True) and shows("zh", "账号启用", "否")
    assert shows("en", "Account in use", "no") and shows("zh", "下次登录须修改密码", "是")
    assert shows("zh", "上级单位", "望京街道", name=True) and shows("zh", "层级", "社区")
    # a suspended case: its status and its process's, and the process version by its name
    assert shows("zh", "办件状态", "待受理") and shows("zh", "流程状态", "已中止")
    assert shows("en", "Case status", "Awaiting acceptance") and shows("en", "Process status", "Running")
    assert re.search(r"<dt>流程版本</dt><dd>[^<]+ 第 2 版</dd>", html["zh"])
    assert shows("zh", "环节", "社区受理", name=True) and shows("zh", "办理决定", "受理")
    assert shows("zh", "转交给", "望京西园社区专干 孙丽（officer-chaoyang-01b）", name=True)
    # an adapter's settings, an item's limits, wait and form, a day, a certificate
    assert shows("zh", "尝试次数", "7") and shows("zh", "连接超时", "2.5 秒") and shows("zh", "启用", "否")
    assert shows("en", "Connect timeout", "2.5 seconds") and shows("zh", "连接正常", "否")
    assert shows("zh", "补正等待期限", "30 天") and shows("en", "How long a supplement may wait", "30 days")
    assert shows("zh", "申请表字段", "共 1 项：住房间数") and shows("en", "Application form fields", "1 in all: Rooms")
    assert shows("zh", "申请材料", "共 1 项：居民身份证") and shows("zh", "事项状态", "已停办")
    assert shows("zh", "未变", "其余 14 项") and shows("en", "Unchanged", "14 other fields")  # an item's change
    assert shows("zh", "承办人", "—") and shows("en", "Held by", "—")  # a task claimed from the queue
    assert (
        shows("zh", "时限计算单位", "工作日")
        and shows("zh", "主题", "社会救助")
        and shows("zh", "事项类型", "公共服务")
    )
    assert shows("zh", "日期类型", "节假日") and shows("en", "Kind of day", "working day")
    assert (
        shows("zh", "用途", "TLS 客户端")
        and shows("zh", "理由", "密钥泄露")
        and shows("en", "Reason", "key compromised")
    )
    assert shows("zh", "导入对端 CA 的吊销列表", "是") and shows("zh", "有效期", "45 天")
    assert shows("zh", "操作", audit.action_label("user.create", "zh_CN"))
    assert shows("zh", "涉及谁的信息（身份证号）", "110105********2340", name=True)
    assert "短信平台" in zh and "Citizen information system" in en  # the adapters, by the systems' names


def test_the_guides_are_in_the_help_menu(app: Flask) -> None:
    officer = app.test_client()
    assert sign_in(officer, OFFICER) == 302
    inbox = officer.get("/console/inbox/").get_data(as_text=True)
    assert "/console/help/" in inbox and "帮助" in inbox
    guide = officer.get("/console/help/officer-manual").get_data(as_text=True)
    assert "<h1>" in guide and "/console/help/images/" in guide
    assert officer.get("/console/help/../setup.cfg").status_code == 404
