"""What the portal says when something needs correcting, and what it keeps meanwhile: each problem
beside its field, named by its label (never a field code), marked for assistive technology and
listed in a summary that takes the focus; good files kept across a failed attempt, removable, every
bad one reported at once. Also: the catalogue's search (pinyin initials included) and "my cases"
with the time left, in agreement with each case's page."""

from __future__ import annotations

import io
import re
from typing import Any

from flask.testing import FlaskClient
from portal_support import ITEM, PDF, PNG, RESIDENT, approve, csrf_token, log_in, request_supplement, submit
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from huiju.app.seed import DEMO_APPLICANT
from huiju.models import Case, CaseStatus, Draft, Material
from huiju.runtime import Runtime
from huiju.services import applications
from huiju.services.actors import load_actor
from tests.support.canned import deliver_replies


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def multipart(client: FlaskClient, url: str, page: str, fields: dict[str, Any],
              files: dict[str, tuple[bytes, str]]) -> Any:  # fmt: skip
    data: dict[str, Any] = {"csrf_token": csrf_token(text(client.get(page))), **fields}
    for name, (content, filename) in files.items():
        data[name] = FileStorage(io.BytesIO(content), filename=filename)
    boundary, body = encode_multipart(data)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def new_draft(runtime: Runtime, item: str = ITEM) -> int:
    with runtime.db.transaction() as session:
        return applications.start_draft(session, load_actor(session, RESIDENT), item).id


def test_submitting_names_every_problem_beside_its_field_and_keeps_what_was_good(
    runtime: Runtime, client: FlaskClient
) -> None:
    draft = new_draft(runtime, "employment-registration")
    log_in(client)
    url = f"/portal/drafts/{draft}"
    response = multipart(client, url, url, {"action": "submit", "contact_phone": "12345", "employer": "x" * 201},
                         {"file_id_card": (PNG, "身份证.png"), "file_labour_contract": (PNG, "contract.pdf")})  # fmt: skip
    assert response.status_code == 400
    page = text(response)
    # Every problem at once, each named by the field's label, never its code.
    assert "请选择登记类型" in page
    assert "联系电话的写法不对" in page
    assert "工作单位最多 200 个字" in page
    assert "劳动合同或解除劳动关系证明：" in page and "它实际是 PNG 文件" in page
    assert "contact_phone" not in re.sub(r'(name|id|for|href|aria-describedby)="[^"]*"', "", page)
    # Each field is marked and tied to its message; the summary links to the fields and takes the focus.
    for control in ("f-registration", "f-contact_phone", "f-employer", "file-labour_contract"):
        assert f'<a href="#{control}">' in page
        assert f'id="{control}-error"' in page
    assert re.search(r'<input id="f-contact_phone"[^>]*aria-invalid="true" aria-describedby="f-contact_phone-error"',
                     page)  # fmt: skip
    assert re.search(r'id="error-summary" role="alert" tabindex="-1" autofocus', page)
    # What was good is kept: the typed fields with the draft, the good file as its material.
    with runtime.db.sessions() as session:
        kept = session.get(Draft, draft)
        assert kept is not None and kept.form_data["contact_phone"] == "12345"
        assert session.scalars(select(Material.original_name).where(Material.draft_id == draft)).all() == ["身份证.png"]
        assert session.scalars(select(Case)).all() == []
    assert "身份证.png" in page
    # Corrected: the kept file counts, the missing one is uploaded, the case is submitted.
    response = multipart(client, url, url, {"action": "submit", "registration": "employment",
                                            "contact_phone": "13800138000"},
                         {"file_labour_contract": (PDF, "contract.pdf")})  # fmt: skip
    assert response.status_code == 302, text(response)[:2000]
    with runtime.db.sessions() as session:
        case = session.scalars(select(Case)).one()
        assert sorted(session.scalars(select(Material.original_name).where(Material.case_id == case.id))) == [
            "contract.pdf", "身份证.png"]  # fmt: skip


def test_field_problems_in_english_name_the_fields_in_english(runtime: Runtime, client: FlaskClient) -> None:
    draft = new_draft(runtime)
    log_in(client)
    client.get("/portal/?lang=en")
    url = f"/portal/drafts/{draft}"
    page = text(multipart(client, url, url, {"action": "submit", "living_alone": "true"}, {}))
    assert "Choose Family income." in page and "Choose Disability." in page
    assert "Upload Resident identity card." in page


def test_a_supplement_keeps_good_files_until_sent_and_names_each_bad_one(runtime: Runtime, client: FlaskClient) -> None:
    number = submit(runtime, RESIDENT, DEMO_APPLICANT)
    deliver_replies(runtime)
    request_supplement(runtime, number, ["户口簿复印件", "银行卡复印件", "近期照片"])
    log_in(client)
    url, page = f"/portal/cases/{number}/supplement", f"/portal/cases/{number}"
    response = multipart(
        client,
        url,
        page,
        {"note": "先交两份"},
        {"file_0": (PDF, "hukou.pdf"), "file_1": (PNG, "bank.jpg"), "file_2": (b"MZ", "photo.png")},
    )
    assert response.status_code == 400
    shown = text(response)
    assert 'id="supplement-1-error"' in shown and 'id="supplement-2-error"' in shown
    assert "它实际是 PNG 文件" in shown and "不是 PDF、JPEG 或 PNG 文件" in shown
    assert "hukou.pdf" in shown and "先交两份" in shown  # kept, and the note as typed
    with runtime.db.sessions() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        assert case.status is CaseStatus.AWAITING_SUPPLEMENT
        pending = session.scalars(select(Material).where(Material.pending_case_id == case.id)).all()
        assert [m.original_name for m in pending] == ["hukou.pdf"]
        assert session.scalars(select(Material).where(Material.case_id == case.id)).all() == []  # officers see none
        kept_id = pending[0].id
    assert client.get(f"/portal/materials/{kept_id}").data == PDF  # its uploader may download it
    # Removed, then everything sent at once: the answer reaches the officer with three files, round 1.
    token = csrf_token(text(client.get(page)))
    assert client.post(f"{url}/{kept_id}/delete", data={"csrf_token": token}).status_code == 302
    response = multipart(client, url, page, {"note": "已补交"}, {"file_0": (PDF, "hukou2.pdf")})
    assert response.status_code == 400 and "请上传银行卡复印件" in text(response)
    response = multipart(client, url, page, {"note": "已补交"},
                         {"file_1": (PNG, "bank.png"), "file_2": (PNG, "photo.png")})  # fmt: skip
    assert response.status_code == 302, text(response)[:1500]
    with runtime.db.sessions() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        assert case.status is CaseStatus.INTAKE
        sent = session.scalars(select(Material).where(Material.case_id == case.id).order_by(Material.code)).all()
        assert [(m.code, m.original_name, m.round) for m in sent] == [
            ("supplement_1", "hukou2.pdf", 1), ("supplement_2", "bank.png", 1), ("supplement_3", "photo.png", 1)]  # fmt: skip
        assert session.scalars(select(Material).where(Material.pending_case_id == case.id)).all() == []


def test_catalogue_search_finds_items_by_chinese_english_pinyin_and_initials(client: FlaskClient) -> None:
    def found(query: str) -> list[str]:
        page = text(client.get("/portal/items", query_string={"q": query}))
        results = page.split('id="results"', 1)[1].split("</section>", 1)[0]
        return re.findall(r'href="/portal/items/([a-z-]+)"', results)

    assert found("ylbt")[0] == "elderly-care-subsidy"
    assert found("养老补贴")[0] == "elderly-care-subsidy"
    assert found("yanglao")[0] == "elderly-care-subsidy"
    assert "elderly-care-subsidy" in found("Elderly")
    assert found("jzzm")[0] == "residence-certificate"  # 居住证明
    assert found("qqqqq") == []
    assert "没有找到" in text(client.get("/portal/items", query_string={"q": "qqqqq"}))


def test_my_cases_shows_the_time_left_and_agrees_with_each_case_page(runtime: Runtime, client: FlaskClient) -> None:
    running = submit(runtime, RESIDENT, DEMO_APPLICANT)
    deliver_replies(runtime)
    approve(runtime)  # accepted and approved: concluded
    waiting = submit(runtime, RESIDENT, DEMO_APPLICANT)
    request_supplement(runtime, waiting, ["户口簿复印件"])
    log_in(client)
    listing = text(client.get("/portal/cases"))

    def row(number: str) -> str:
        return listing.split(f'data-case="{number}"', 1)[1].split("</li>", 1)[0]

    def squash(html: str) -> str:
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()

    assert "个工作日" not in row(running) and "已办结" in row(running) and "不再计时" in row(running)
    assert "暂停计时" in row(waiting)
    for number in (running, waiting):
        page = text(client.get(f"/portal/cases/{number}"))
        status = squash(page.split('id="case-status">', 1)[1].split("</dd>", 1)[0])
        assert status and status in squash(row(number))
        left = squash(page.split('id="time-left">', 1)[1].split("</dd>", 1)[0])
        assert left and left in squash(row(number))
