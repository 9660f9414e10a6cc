"""What each simulated system does with a request: the business side of the contracts.

A handler receives the request Body as a dict (see :func:`adapters.soapserver.to_dict`) and
the sandbox stores, and returns the content of the response element, or raises a Client
:class:`SoapFault` for a request the real system would refuse. Handlers run under the state lock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from lxml import etree

from adapters.contracts import CONTRACTS
from adapters.sandbox import people
from adapters.sandbox.payments import HANDLERS as PAYMENT_HANDLERS
from adapters.sandbox.sms_templates import text_of
from adapters.sandbox.state import Stores
from adapters.soapserver import SoapFault, element
from huiju.db import utcnow

Handler = Callable[[dict[str, Any], Stores], dict[str, Any]]
_PHONE = re.compile(r"1[3-9]\d{9}")


def _stamp() -> str:
    return utcnow().isoformat(timespec="seconds")


def _required(values: dict[str, Any], *names: str) -> None:
    for name in names:
        value = values.get(name)
        if not isinstance(value, str) or not value.strip():
            raise SoapFault("Client", f"missing element {name}")


# --- 公民信息系统 --------------------------------------------------------------------------------


def verify_identity(values: dict[str, Any], stores: Stores) -> dict[str, Any]:
    _required(values, "idNumber", "name")
    person = people.find(values["idNumber"])
    if person is None:
        return {"match": False, "reason": "no resident with this ID number"}
    if person.name != values["name"].strip():
        return {"match": False, "reason": "name does not match the ID number"}
    return {"match": True}


def query_person(values: dict[str, Any], stores: Stores) -> dict[str, Any]:
    _required(values, "idNumber")
    person = people.find(values["idNumber"])
    if person is None:
        ns = CONTRACTS["citizen_info"].namespace
        detail = element(ns, "PersonNotFound", {"idNumber": values["idNumber"]})
        raise SoapFault("Client", "unknown person", detail)
    members = [{"idNumber": p.id_number, "name": p.name, "relation": p.relation} for p in people.household_of(person)]
    return {
        "idNumber": person.id_number,
        "name": person.name,
        "gender": person.gender,
        "birthDate": person.birth_date.isoformat(),
        "registeredAddress": person.registered_address,
        "household": {"member": members},
    }


# --- 短信平台 ------------------------------------------------------------------------------------


def send_sms(values: dict[str, Any], stores: Stores) -> dict[str, Any]:
    _required(values, "phone", "template", "messageId")
    if not _PHONE.fullmatch(values["phone"]):
        raise SoapFault("Client", f"invalid phone number {values['phone']!r}")
    params = values.get("params")
    pairs = params.get("param", []) if isinstance(params, dict) else []
    sms_id = f"SMS-{stores.next_number():06d}"
    now = _stamp()
    params_by_name = {p.get("name", ""): p.get("value", "") for p in pairs}
    stores.put_sms(
        sms_id,
        {
            "sms_id": sms_id,
            "phone": values["phone"],
            "template": values["template"],
            "params": params_by_name,
            "text": text_of(values["template"], params_by_name),
            "message_id": values["messageId"],
            "status": "delivered",
            "sent_at": now,
            "delivered_at": now,
        },
    )
    return {"smsId": sms_id, "accepted": True}


def query_delivery(values: dict[str, Any], stores: Stores) -> dict[str, Any]:
    _required(values, "smsId")
    sms = stores.sms.get(values["smsId"])
    if sms is None:
        raise SoapFault("Client", f"unknown sms id {values['smsId']!r}")
    return {"status": sms["status"], "deliveredAt": sms["delivered_at"]}


# --- 政务外网审批平台 ------------------------------------------------------------------------------


def submit_case(values: dict[str, Any], stores: Stores) -> dict[str, Any]:
    _required(
        values, "caseNumber", "itemCode", "applicantIdNumber", "applicantName", "decision", "decidedBy", "decidedAt"
    )
    if values["decision"] not in ("approved", "denied"):
        raise SoapFault("Client", "decision must be approved or denied")
    now = utcnow()
    receipt = f"RC-{now:%Y%m%d}-{stores.next_number():06d}"
    stores.put_case(
        receipt,
        {
            "receipt_number": receipt,
            "case_number": values["caseNumber"],
            "item_code": values["itemCode"],
            "applicant_id_number": values["applicantIdNumber"],
            "reported_decision": values["decision"],
            "status": "received",
            "received_at": now.isoformat(timespec="seconds"),
            # The platform's own decision, once it takes one (see decide()).
            "decision": None,
            "decided_by": None,
            "decided_at": None,
            "reason": None,
        },
    )
    return {"receiptNumber": receipt, "receivedAt": now.isoformat(timespec="seconds")}


def decide(stores: Stores, receipt: str, decision: str, reason: str, at: datetime) -> dict[str, Any]:
    """The extranet decides on a received case (it tells Huiju by callback, and QueryCase shows it
    from ``at`` on); returns the NotifyDecision values."""
    case = {**stores.cases[receipt], "decision": decision, "decided_by": "egov-reviewer-01",
            "decided_at": at.isoformat(timespec="seconds"), "reason": reason or None}  # fmt: skip
    stores.put_case(receipt, case)
    return {
        "caseNumber": case["case_number"], "receiptNumber": receipt, "decision": decision,
        "decidedBy": case["decided_by"], "decidedAt": case["decided_at"], "reason": case["reason"],
    }  # fmt: skip


def query_case(values: dict[str, Any], stores: Stores) -> dict[str, Any]:
    receipt, case_number = values.get("receiptNumber"), values.get("caseNumber")
    found = stores.cases.get(receipt or "")
    if found is None and case_number:
        # The latest submission of that case, when a case was reported more than once.
        found = next((c for c in reversed(stores.cases.values()) if c["case_number"] == case_number), None)
    if found is None:
        raise SoapFault("Client", "unknown case")
    answer = {
        "receiptNumber": found["receipt_number"],
        "caseNumber": found["case_number"],
        "status": found["status"],
        "updatedAt": found["received_at"],
    }
    decided_at = found.get("decided_at")
    if found.get("decision") and decided_at and datetime.fromisoformat(decided_at) <= utcnow():
        answer.update(status="archived", updatedAt=decided_at, decision=found["decision"],
                      decidedBy=found["decided_by"], decidedAt=decided_at, reason=found["reason"])  # fmt: skip
    return answer


# --- 数据交换平台 --------------------------------------------------------------------------------


def _fields(values: dict[str, Any], name: str) -> dict[str, str]:
    group = values.get(name)
    if isinstance(group, list):  # "record" is read as a list (it repeats in QueryRecordsResponse)
        if len(group) != 1:
            raise SoapFault("Client", f"exactly one {name} element expected")
        group = group[0]
    items = group.get("field", []) if isinstance(group, dict) else []
    return {str(i.get("name", "")): str(i.get("value", "")) for i in items}


def publish_record(values: dict[str, Any], stores: Stores) -> dict[str, Any]:
    _required(values, "dataset")
    fields = _fields(values, "record")
    if not fields:
        raise SoapFault("Client", "a record needs at least one field")
    record_id = f"DX-{stores.next_number():06d}"
    stores.add_record(values["dataset"], {"record_id": record_id, "fields": fields})
    return {"recordId": record_id}


def query_records(values: dict[str, Any], stores: Stores) -> dict[str, Any]:
    _required(values, "dataset")
    wanted = _fields(values, "filter")
    hits = [
        {"recordId": r["record_id"], "field": [{"name": k, "value": v} for k, v in r["fields"].items()]}
        for r in stores.records.get(values["dataset"], [])
        if all(r["fields"].get(k) == v for k, v in wanted.items())
    ]
    return {"record": hits}


HANDLERS: dict[tuple[str, str], Handler] = {
    ("citizen_info", "VerifyIdentity"): verify_identity,
    ("citizen_info", "QueryPerson"): query_person,
    ("sms", "SendSms"): send_sms,
    ("sms", "QueryDelivery"): query_delivery,
    ("egov_approval", "SubmitCase"): submit_case,
    ("egov_approval", "QueryCase"): query_case,
    ("data_exchange", "PublishRecord"): publish_record,
    ("data_exchange", "QueryRecords"): query_records,
    **PAYMENT_HANDLERS,
}


def response_element(system: str, operation: str, content: dict[str, Any]) -> etree._Element:
    return element(CONTRACTS[system].namespace, f"{operation}Response", content)
