"""Operation names and parameter checks, before anything leaves the building."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters.registry import OPERATIONS, is_known, jsonable, validate_params
from huiju.errors import InputError

SUBMIT: dict[str, Any] = {
    "case_number": "HJ-2025-000001",
    "item_code": "ELD-SUBSIDY",
    "applicant_id_number": "110105193801012340",
    "applicant_name": "张秀英",
    "decision": "approved",
    "decided_by": "officer-1",
    "decided_at": "2025-03-01T10:00:00+08:00",
    "summary": "同意",
}


def test_the_names_bpmn_uses() -> None:
    assert set(OPERATIONS) == {
        "citizen_info.verify_identity",
        "citizen_info.query_person",
        "sms.send_sms",
        "sms.query_delivery",
        "egov.submit_case",
        "egov.query_case",
        "data_exchange.publish_record",
        "data_exchange.query_records",
        "payment.create_payment",
        "payment.query_payment",
        "payment.refund",
    }
    assert is_known("sms.send_sms") and not is_known("sms.send")
    assert OPERATIONS["egov.submit_case"].system == "egov_approval"


def test_valid_parameters_pass() -> None:
    assert validate_params("egov.submit_case", SUBMIT).soap_operation == "SubmitCase"
    validate_params("egov.submit_case", {**SUBMIT, "decided_at": datetime(2025, 3, 1, tzinfo=UTC)})
    validate_params("sms.send_sms", {"phone": "13800138000", "template": "T", "params": {}})


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("citizen.verify", {}, "unknown adapter operation 'citizen.verify'"),
        ("citizen_info.query_person", {}, "missing parameter 'id_number'"),
        ("citizen_info.query_person", {"id_number": None}, "missing parameter 'id_number'"),
        ("citizen_info.query_person", {"id_number": "110105193801012340", "x": 1}, "unexpected parameter 'x'"),
        ("citizen_info.query_person", {"id_number": 110105193801012340}, "must be str, not int"),
        ("citizen_info.query_person", {"id_number": "110105193801012341"}, "not a valid GB 11643"),
        ("citizen_info.verify_identity", {"id_number": "110105193801012340", "name": " "}, "must not be empty"),
        ("sms.send_sms", {"phone": "1", "template": "T", "params": {"a": 1}}, "must map names to strings"),
        ("sms.send_sms", {"phone": "1", "template": "T", "params": "a=1"}, "must be dict, not str"),
        ("data_exchange.publish_record", {"dataset": "d", "record": {"a": [1]}}, "has a value of type list"),
        ("egov.submit_case", {**SUBMIT, "decided_at": "yesterday"}, "not an ISO 8601 date-time"),
        ("egov.submit_case", {**SUBMIT, "decided_at": "2025-03-01T10:00:00"}, "must carry a UTC offset"),
        ("egov.submit_case", {**SUBMIT, "decision": "maybe"}, "must be 'approved' or 'denied'"),
        ("egov.submit_case", {**SUBMIT, "summary": True}, "must be str, not bool"),
    ],
)
def test_refusals_name_the_problem(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        validate_params(name, params)
    assert caught.value.details["operation"] == name


def test_jsonable_replies() -> None:
    value = {"birthDate": date(1938, 1, 1), "amountDue": Decimal("12.30"), "items": [{"recordId": "x"}]}
    assert jsonable(value) == {"birth_date": "1938-01-01", "amount_due": "12.30", "items": [{"record_id": "x"}]}
