"""The integration pages at work: a dead message sent again from the message log, one message's XML
with its signature check, a system added from its WSDL with an operation mapped, and the certificate
store with its expiry warnings, a partner's CA uploaded and the revocation list refreshed."""

from __future__ import annotations

import io
from pathlib import Path

from console_support import ITEM, OFFICER, csrf, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from certs.store import crl_status, init_dev_pki, issue_certificate
from exchange.log import append as log_append
from exchange.models import MessageStatus, OutboxMessage
from huiju.app.seed import DEMO_APPLICANT
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case

HOUSING = (Path(__file__).parents[1] / "admin" / "housing.wsdl").read_bytes()
FORM = {"income_band": "subsistence", "disability": "none", "living_alone": True}


def _integrator(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, "integrator") == 302
    return client


def test_a_dead_message_is_sent_again_from_the_message_log(runtime: Runtime, app: Flask) -> None:
    with runtime.db.transaction() as session:
        submit_case(session, runtime.engine, load_actor(session, OFFICER), ITEM, DEMO_APPLICANT, FORM)
    with runtime.db.transaction() as session:
        message = session.scalars(select(OutboxMessage)).first()
        assert message is not None
        message.status, message.last_error = MessageStatus.DEAD, "the system did not answer after 5 attempts"
        message_id = message.message_id
    with runtime.db.transaction() as session:
        runtime.engine.settle(session, message_id)
    client = _integrator(app)
    page = client.get("/console/messages/").get_data(as_text=True)
    assert f'data-message="{message_id}"' in page and "the system did not answer" in page
    sent = client.post(f"/console/messages/retry/{message_id}", data={"csrf_token": csrf(client, "/console/messages/")},
                       follow_redirects=True)  # fmt: skip
    assert "已用相同报文编号重发" in sent.get_data(as_text=True)
    with runtime.db.sessions() as session:
        again = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one()
        assert again.status is MessageStatus.PENDING


def test_one_message_shows_its_xml_and_its_signature_check(runtime: Runtime, app: Flask) -> None:
    with runtime.db.transaction() as session:
        entry = log_append(session, direction="in", kind="reply", outcome="delivered", message_id="m-7",
                           related_message_id="m-7", system="sms", operation="sms.send_sms",
                           envelope='<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                                    "<r>ok</r></soap:Body></soap:Envelope>",
                           signature_status="valid", verification="signed by CN=sandbox signing")  # fmt: skip
        entry_id = entry.id
    client = _integrator(app)
    page = client.get(f"/console/messages/{entry_id}").get_data(as_text=True)
    assert "签名有效" in page and "已送达" in page and "signed by CN=sandbox signing" in page
    assert "  &lt;soap:Body&gt;\n    &lt;r&gt;ok&lt;/r&gt;" in page  # indented for reading
    token = csrf(client, "/console/messages/")
    verified = client.post("/console/messages/verify", data={"csrf_token": token}, follow_redirects=True)
    assert "报文日志完整" in verified.get_data(as_text=True)


def test_a_system_is_added_from_its_wsdl_in_the_console(app: Flask) -> None:
    client = _integrator(app)
    token = csrf(client, "/console/adapters/")
    added = client.post("/console/adapters/systems", data={"csrf_token": token, "name": "housing", "title": "住房保障系统",
                        "title_en": "Housing", "wsdl": (io.BytesIO(HOUSING), "housing.wsdl")},
                        content_type="multipart/form-data", follow_redirects=True)  # fmt: skip
    page = added.get_data(as_text=True)
    assert "已新增 住房保障系统" in page and "QueryHousing(idNumber, year?)" in page
    mapped = client.post("/console/adapters/housing/operations", data={"csrf_token": token, "soap_operation": "QueryHousing",
                         "operation": "query_housing"}, follow_redirects=True)  # fmt: skip
    assert "housing.query_housing" in mapped.get_data(as_text=True)
    assert '<code translate="no">id_number</code>, <code translate="no">year</code>?' in mapped.get_data(as_text=True)
    listing = client.get("/console/adapters/").get_data(as_text=True)
    assert "住房保障系统" in listing and "（无接口地址）" in listing
    from adapters.registry import REGISTRY

    REGISTRY.refresh(force=True)


def test_the_certificate_page_without_a_store_says_how_to_make_one(runtime: Runtime, app: Flask) -> None:
    assert not (runtime.settings.resolved_certs_folder / "index.json").exists()
    reply = _integrator(app).get("/console/certificates/")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200 and 'id="no-store"' in page and "huiju certs init" in page


def test_the_certificate_store_warns_of_expiry_and_takes_a_partner_ca(runtime: Runtime, app: Flask,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    folder = runtime.settings.resolved_certs_folder
    init_dev_pki(folder)
    soon = issue_certificate(folder, "huiju-egov", "tls-client", days=10)
    partner = tmp_path / "partner"
    init_dev_pki(partner, members=("housing",))
    client = _integrator(app)
    page = client.get("/console/certificates/").get_data(as_text=True)
    assert "将在 30 天内到期" in page and f'data-serial="{soon.serial_hex}"' in page and "即将到期" in page
    token = csrf(client, "/console/certificates/")
    uploaded = client.post("/console/certificates/upload", data={"csrf_token": token, "kind": "ca", "member": "housing",
                           "file": (io.BytesIO((partner / "ca.cert.pem").read_bytes()), "ca.pem")},
                           content_type="multipart/form-data", follow_redirects=True)  # fmt: skip
    assert "有效期至" in uploaded.get_data(as_text=True) and "CA（已信任）" in uploaded.get_data(as_text=True)
    before = crl_status(folder)[0].this_update
    refreshed = client.post(
        "/console/certificates/crl", data={"csrf_token": token, "days": "45"}, follow_redirects=True
    )
    assert "吊销列表 crl.pem 已写入" in refreshed.get_data(as_text=True)
    after = crl_status(folder)[0]
    assert after.this_update >= before and after.next_update is not None
    assert (after.next_update - after.this_update).days == 45
