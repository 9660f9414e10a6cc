"""Every operation of every system, through adapters.client.call over loopback HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.client import call
from adapters.config import AdapterSettings
from adapters.sandbox.server import SandboxServer
from huiju.errors import InputError, PermanentAdapterError

Settings = Callable[..., AdapterSettings]
MOTHER = "110105193801012340"


def test_verify_identity(settings_for: Settings, new_id: Callable[[], str]) -> None:
    s = settings_for("citizen_info")
    ok = call("citizen_info.verify_identity", {"id_number": MOTHER, "name": "张秀英"}, settings=s, message_id=new_id())
    assert ok == {"match": True, "reason": None}
    wrong = call("citizen_info.verify_identity", {"id_number": MOTHER, "name": "李四"}, settings=s, message_id=new_id())
    assert wrong["match"] is False and "name" in wrong["reason"]


def test_query_person_with_household(settings_for: Settings, new_id: Callable[[], str]) -> None:
    reply = call(
        "citizen_info.query_person",
        {"id_number": MOTHER},
        settings=settings_for("citizen_info"),
        message_id=new_id(),
        user_id="officer-7",
        case_number="HJ-1",
    )
    assert reply["name"] == "张秀英" and reply["gender"] == "female" and reply["birth_date"] == "1938-01-01"
    assert reply["registered_address"].startswith("北京市朝阳区")
    relations = {m["id_number"]: m["relation"] for m in reply["household"]}
    assert relations == {MOTHER: "户主", "110105196505051234": "子女"}


def test_unknown_person_is_a_permanent_client_fault(settings_for: Settings, new_id: Callable[[], str]) -> None:
    message_id = new_id()
    with pytest.raises(PermanentAdapterError, match="unknown person") as caught:
        call(
            "citizen_info.query_person",
            {"id_number": "110105193801012359"},
            settings=settings_for("citizen_info"),
            message_id=message_id,
        )
    assert caught.value.details["fault_code"] == "Client"
    assert caught.value.details["message_id"] == message_id
    assert caught.value.details["operation"] == "citizen_info.query_person"


def test_sms_send_and_delivery(settings_for: Settings, new_id: Callable[[], str], sandbox: SandboxServer) -> None:
    s = settings_for("sms")
    params = {"phone": "13800138000", "template": "CASE_APPROVED", "params": {"case": "HJ-1", "name": "张秀英"}}
    sent = call("sms.send_sms", params, settings=s, message_id=new_id())
    assert sent["accepted"] is True and sent["sms_id"].startswith("SMS-")
    delivery = call("sms.query_delivery", {"sms_id": sent["sms_id"]}, settings=s, message_id=new_id())
    assert delivery["status"] == "delivered"
    assert datetime.fromisoformat(delivery["delivered_at"]).tzinfo is not None
    stored = sandbox.state.stored()["sms"]
    assert stored[0]["params"] == {"case": "HJ-1", "name": "张秀英"}


def test_sms_with_a_bad_phone_is_refused_by_the_platform(settings_for: Settings, new_id: Callable[[], str]) -> None:
    with pytest.raises(PermanentAdapterError, match="invalid phone number"):
        call(
            "sms.send_sms",
            {"phone": "12345", "template": "T", "params": {}},
            settings=settings_for("sms"),
            message_id=new_id(),
        )


def test_egov_submit_and_query_case(settings_for: Settings, new_id: Callable[[], str]) -> None:
    s = settings_for("egov_approval")
    receipt = call(
        "egov.submit_case",
        {
            "case_number": "HJ-2025-000042",
            "item_code": "ELD-SUBSIDY",
            "applicant_id_number": MOTHER,
            "applicant_name": "张秀英",
            "decision": "approved",
            "decided_by": "street-reviewer-1",
            "decided_at": datetime(2025, 3, 1, 2, 0, tzinfo=UTC),
            "summary": "符合高龄津贴条件",
        },
        settings=s,
        message_id=new_id(),
    )
    assert receipt["receipt_number"].startswith("RC-")
    state = call("egov.query_case", {"receipt_number": receipt["receipt_number"]}, settings=s, message_id=new_id())
    assert state["case_number"] == "HJ-2025-000042" and state["status"] == "received"


def test_data_exchange_publish_and_query(settings_for: Settings, new_id: Callable[[], str]) -> None:
    s = settings_for("data_exchange")
    first = call(
        "data_exchange.publish_record",
        {"dataset": "elderly_subsidy", "record": {"id": MOTHER, "age": 87}},
        settings=s,
        message_id=new_id(),
    )
    call(
        "data_exchange.publish_record",
        {"dataset": "elderly_subsidy", "record": {"id": "x", "age": 61}},
        settings=s,
        message_id=new_id(),
    )
    found = call(
        "data_exchange.query_records",
        {"dataset": "elderly_subsidy", "filter": {"age": "87"}},
        settings=s,
        message_id=new_id(),
    )
    assert found == {"records": [{"record_id": first["record_id"], "fields": {"id": MOTHER, "age": "87"}}]}
    everything = call(
        "data_exchange.query_records", {"dataset": "elderly_subsidy", "filter": {}}, settings=s, message_id=new_id()
    )
    assert len(everything["records"]) == 2


def test_settings_of_another_system_are_refused(settings_for: Settings, new_id: Callable[[], str]) -> None:
    with pytest.raises(InputError, match="belongs to 'sms'"):
        call("sms.query_delivery", {"sms_id": "x"}, settings=settings_for("citizen_info"), message_id=new_id())


def test_disabled_adapter_sends_nothing(
    settings_for: Settings, new_id: Callable[[], str], sandbox: SandboxServer
) -> None:
    with pytest.raises(PermanentAdapterError, match="disabled"):
        call("sms.query_delivery", {"sms_id": "x"}, settings=settings_for("sms", enabled=False), message_id=new_id())
    assert sandbox.state.entries() == []


def test_header_reaches_the_receiver(settings_for: Settings, sandbox: SandboxServer) -> None:
    call(
        "citizen_info.query_person",
        {"id_number": MOTHER},
        settings=settings_for("citizen_info"),
        message_id="hdr-1",
        user_id="officer-7",
        case_number="HJ-9",
    )
    (entry,) = sandbox.state.entries(message_id="hdr-1")
    assert entry["operation"] == "QueryPerson" and entry["request"] == {"idNumber": MOTHER}
