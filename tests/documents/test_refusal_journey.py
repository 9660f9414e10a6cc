"""The refusal journey (不予受理) end to end on a real PKI: the reason is on the resident's portal
page, in the officer's case file and in ``huiju case show``; the 不予受理通知书, issued with the
decision and made by the first reader when no worker has made it yet, is a PDF whose Chinese text
renders (pdftoppm) and reads back (pdftotext), signed by the community's own document certificate;
it verifies, and a single changed byte makes ``huiju documents verify`` fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from certs.store import init_dev_pki, list_certificates
from huiju.app.bootstrap import build_runtime
from huiju.app.seed import DEMO_APPLICANT, DEMO_PASSWORD, seed_all
from huiju.app.web import create_app
from huiju.cli.format import print_case
from huiju.models import Case, Document
from huiju.runtime import Runtime
from huiju.services import documents
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from huiju.services.decisions import decide
from huiju.services.document_check import verify
from tests.support.canned import deliver_replies
from workflows_bpmn.models import HumanTask, HumanTaskStatus

OFFICER = "officer-chaoyang-01"
REASON = "申请人户籍不在本社区，请向户籍所在地社区申请"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "documents"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    init_dev_pki(tmp_path / "certs")
    rt = build_runtime(load_settings_for(tmp_path), with_celery=False)
    rt.db.create_all()
    with rt.db.transaction() as session:
        seed_all(session, "http://127.0.0.1:9/")
    yield rt
    rt.db.dispose()


def load_settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    from huiju.settings import load_settings

    return load_settings(instance_path=tmp_path, env="test", exchange_signing=False)


def refused_case(rt: Runtime) -> str:
    with rt.db.transaction() as session:
        actor = load_actor(session, OFFICER)
        form = {"income_band": "subsistence", "disability": "none", "living_alone": True}
        number = submit_case(session, rt.engine, actor, "elderly-care-subsidy", DEMO_APPLICANT, form).number
    deliver_replies(rt)
    with rt.db.transaction() as session:
        task = session.scalars(
            select(HumanTask).where(HumanTask.step == "intake", HumanTask.status == HumanTaskStatus.READY)
        ).one()
        actor = load_actor(session, OFFICER)
        decide(session, rt.engine, actor, task.id, "refuse", {"reason_code": "other", "comment": REASON}, "zh_CN")
    deliver_replies(rt)
    return number


def test_the_reason_reaches_everyone_and_the_signed_notice_holds(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    number = refused_case(runtime)
    app = create_app(runtime, {"TESTING": True})

    portal = app.test_client()
    token = _TOKEN.search(portal.get("/portal/login").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    portal.post("/portal/login", data={"login": "resident-zhang", "password": DEMO_PASSWORD, "csrf_token": token})
    page = portal.get(f"/portal/cases/{number}").get_data(as_text=True)
    assert REASON in page and "不予受理通知书" in page and "社区决定不予受理您的申请" in page

    console = app.test_client()
    token = _TOKEN.search(console.get("/console/login/").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    console.post("/console/login/", data={"username": OFFICER, "password": DEMO_PASSWORD, "csrf_token": token})
    page = console.get(f"/console/cases/{number}").get_data(as_text=True)
    assert REASON in page and 'id="opinions"' in page and "不予受理通知书" in page

    with runtime.db.sessions() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        print_case(session, case, "zh_CN")
        document = session.scalars(select(Document).where(Document.case_id == case.id)).one()
        doc_number, signer, document_id = document.number, document.signed_by, document.id
        # Issued with the decision; its PDF is the worker's to make (there is none here), or the
        # first reader's: the resident opening it makes it, and everybody then gets those bytes.
        assert document.content is None and document.facts["reason"] == REASON
    download = portal.get(f"/portal/cases/{number}/documents/{document_id}")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    pdf = download.data
    assert console.get(f"/console/cases/{number}/documents/{document_id}").data == pdf
    assert documents.make(runtime.db, runtime.office_signer, document_id) == pdf
    with runtime.db.sessions() as session:
        kept = session.get(Document, document_id)
        assert kept is not None and kept.content == pdf and kept.size == len(pdf) and kept.made_at is not None
    shown = capsys.readouterr().out
    assert REASON in shown and doc_number in shown and "不予受理" in shown

    assert doc_number.startswith("望京西园社区〔") and doc_number.endswith("号") and signer == "望京西园社区"
    certs = [c for c in list_certificates(tmp_path / "certs") if c.role == "document"]
    assert [c.member for c in certs] == ["office-110105001001"]

    # The PDF renders with its Chinese text: an image with ink, and the words read back.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(path), str(ARTIFACTS / "refusal-notice")],
                   check=True)  # fmt: skip
    image = (ARTIFACTS / "refusal-notice.png").read_bytes()
    assert image.startswith(b"\x89PNG") and len(image) > 10_000
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True).stdout.decode()
    compact = re.sub(r"\s+", "", text)
    assert "不予受理通知书" in compact and re.sub(r"\s+", "", REASON) in compact and "行政复议" in compact
    assert "六十日内" in compact and "六个月内" in compact and "北京市朝阳区人民政府" in compact

    # The signature verifies; one byte changed in the signed range does not.
    good = verify(pdf, tmp_path / "certs")
    assert good.genuine and good.signer == "望京西园社区", good.problem
    middle = len(pdf) // 3
    altered = pdf[:middle] + bytes([pdf[middle] ^ 0x01]) + pdf[middle + 1 :]
    bad = verify(altered, tmp_path / "certs")
    assert not bad.genuine

    env = {**os.environ, "HUIJU_INSTANCE_PATH": str(tmp_path), "HUIJU_EXCHANGE_SIGNING": "false", "HUIJU_ENV": "test"}
    cli = [sys.executable, "-m", "huiju.cli", "documents", "verify"]
    ok = subprocess.run([*cli, str(path)], env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and "望京西园社区" in ok.stdout, ok.stderr
    path.write_bytes(altered)
    refused = subprocess.run([*cli, str(path)], env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and refused.stderr.strip()
