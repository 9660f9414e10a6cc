"""The sandbox behaves like a durable system: what it journaled, stored and still owes survives a restart.

"A restart" here is a new server on the same data folder after the first one stopped; the
fault-injection test (tests/integration/test_faults.py) kills a real ``huiju sandbox`` with SIGKILL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.client import call
from adapters.config import AdapterSettings
from adapters.sandbox.server import SandboxServer
from adapters.sandbox.state import SandboxState
from tests.adapters.conftest import Pki, Receiver
from tests.support.polling import wait_for
from tests.support.servers import free_port

SMS = {"phone": "13800138000", "template": "CASE_RECEIVED", "params": {"case_number": "HJ-1"}}
CASE = {
    "case_number": "HJ-DURABLE-1", "item_code": "ELD-SUBSIDY", "applicant_id_number": "110105193801012340",
    "applicant_name": "张秀英", "decision": "approved", "decided_by": "reviewer-1",
    "decided_at": datetime(2026, 3, 1, 2, 0, tzinfo=UTC), "summary": "居家养老服务补贴",
}  # fmt: skip


def settings(server: SandboxServer, system: str) -> AdapterSettings:
    return AdapterSettings.for_sandbox(system, server.url, connect_timeout=2.0, operation_timeout=5.0)


def test_a_retry_after_a_restart_is_answered_from_the_journal(tmp_path: Path) -> None:
    data = tmp_path / "sandbox"
    port = free_port()
    with SandboxServer(port=port, data_folder=data) as first:
        sent = call("sms.send_sms", SMS, settings=settings(first, "sms"), message_id="durable-1")
        receipt = call("egov.submit_case", CASE, settings=settings(first, "egov_approval"), message_id="durable-2")
    with SandboxServer(port=port, data_folder=data) as again:
        assert call("sms.send_sms", SMS, settings=settings(again, "sms"), message_id="durable-1") == sent
        stored = again.state.stored()
        assert [s["sms_id"] for s in stored["sms"]] == [sent["sms_id"]]  # one SMS, not two
        (entry,) = again.state.entries(message_id="durable-1")
        assert entry["received_count"] == 2
        # its stored records too, and its number counter: the next SMS gets a new id
        state = call("egov.query_case", {"receipt_number": receipt["receipt_number"]},
                     settings=settings(again, "egov_approval"), message_id="durable-3")  # fmt: skip
        assert state["case_number"] == "HJ-DURABLE-1"
        other = call("sms.send_sms", SMS, settings=settings(again, "sms"), message_id="durable-4")
        assert other["sms_id"] != sent["sms_id"]


def test_a_reset_empties_the_file_too(tmp_path: Path) -> None:
    data = tmp_path / "sandbox"
    with SandboxServer(port=0, data_folder=data) as first:
        call("sms.send_sms", SMS, settings=settings(first, "sms"), message_id="durable-5")
        first.state.reset()
    with SandboxServer(port=0, data_folder=data) as again:
        assert again.state.entries() == [] and again.state.stored()["sms"] == []


def test_a_callback_owed_before_a_restart_is_sent_after_it(tmp_path: Path, pki: Pki, receiver: Receiver) -> None:
    data = tmp_path / "sandbox"
    keys = {"signer": pki.huiju, "trust": pki.trust}
    port = free_port()
    with SandboxServer(port=port, trust=pki.trust, signer=pki.sandbox, callback_url=receiver.url,
                       callback_delay=0.0, data_folder=data) as first:  # fmt: skip
        call("egov.submit_case", CASE, settings=settings(first, "egov_approval"), message_id=str(uuid.uuid4()), **keys)
        (owed,) = wait_for(lambda: [c for c in first.callbacks.to_json() if c["attempts"] >= 1], "a first attempt")
        assert owed["operation"] == "NotifyDecision" and owed["outcome"] == "pending"
        assert first.callbacks is not None
        # The process dies: its sender sends nothing more and writes nothing more to the file.
        first.callbacks.state, first.callbacks.attempts = SandboxState(), 0
    receiver.accepting = True
    with SandboxServer(port=port, trust=pki.trust, signer=pki.sandbox, callback_url=receiver.url,
                       callback_delay=0.0, data_folder=data) as again:  # fmt: skip
        done = wait_for(lambda: [c for c in again.callbacks.to_json() if c["outcome"] == "accepted"], "the callback")
        assert [c["message_id"] for c in done] == [owed["message_id"]]  # the same message id as before
        assert receiver.received == [owed["message_id"]]
        assert done[0]["values"]["decision"] == "approved"


def test_the_extranet_decides_and_query_case_says_so(tmp_path: Path, pki: Pki, receiver: Receiver) -> None:
    """The decision is the extranet's, whether or not its callback arrives: QueryCase shows it."""
    keys = {"signer": pki.huiju, "trust": pki.trust}
    with SandboxServer(port=0, trust=pki.trust, signer=pki.sandbox, callback_url=receiver.url,
                       callback_delay=0.0, data_folder=tmp_path / "sandbox") as server:  # fmt: skip
        assert server.callbacks is not None
        server.callbacks.drop("NotifyDecision", 1)  # lost on its way
        server.app.state.preset("HJ-DURABLE-1", "denied", "收入超过标准")
        receipt = call("egov.submit_case", CASE, settings=settings(server, "egov_approval"),
                       message_id=str(uuid.uuid4()), **keys)  # fmt: skip
        (lost,) = server.callbacks.to_json()
        assert lost["outcome"] == "dropped"

        def decided() -> dict[str, Any] | None:
            state = call("egov.query_case", {"receipt_number": receipt["receipt_number"]},
                         settings=settings(server, "egov_approval"), message_id=str(uuid.uuid4()), **keys)  # fmt: skip
            return state if state["decision"] else None

        state = wait_for(decided, "the decision to show")
        assert (state["status"], state["decision"], state["reason"]) == ("archived", "denied", "收入超过标准")
        assert receiver.received == []


def test_the_callback_controls_say_what_they_need(pki: Pki, receiver: Receiver) -> None:
    import requests

    with SandboxServer(port=0) as plain:
        answer = requests.post(f"{plain.url}/_sandbox/callbacks/drop", json={"operation": "NotifyDecision"}, timeout=5)
        assert answer.status_code == 409  # a sandbox that calls nobody back has nothing to lose
    with SandboxServer(port=0, trust=pki.trust, signer=pki.sandbox, callback_url=receiver.url) as server:
        control = f"{server.url}/_sandbox/callbacks"
        assert requests.post(f"{control}/drop", json={"operation": "SubmitCase"}, timeout=5).status_code == 400
        assert requests.post(f"{control}/drop", json={"operation": "NotifyDelivery", "count": 0},
                             timeout=5).status_code == 400  # fmt: skip
        assert requests.post(f"{control}/drop", data=b"{", timeout=5).status_code == 400
        dropping = requests.post(f"{control}/drop", json={"operation": "NotifyDelivery", "count": 2}, timeout=5)
        assert dropping.json() == {"dropping": 2, "operation": "NotifyDelivery"}
        assert requests.post(f"{control}/resend", json={"operation": "NotifyDelivery"}, timeout=5).json() == {
            "resent": 0
        }


def test_the_payment_platform_keeps_its_payments_across_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "sandbox"
    port = free_port()
    order = {"order_number": "FW2026120600009", "amount_fen": 1500, "description": "助餐送餐",
             "payer_phone": "13700001965"}  # fmt: skip
    with SandboxServer(port=port, data_folder=data) as first:
        opened = call("payment.create_payment", order, settings=settings(first, "payment"), message_id="durable-p1")
    with SandboxServer(port=port, data_folder=data) as again:
        read = call("payment.query_payment", {"payment_id": opened["payment_id"]},
                    settings=settings(again, "payment"), message_id="durable-p2")  # fmt: skip
        assert (read["order_number"], read["amount_fen"], read["status"]) == ("FW2026120600009", 1500, "pending")
        refund = {"payment_id": opened["payment_id"], "amount_fen": 1500, "reason": "cancelled"}
        assert call("payment.refund", refund, settings=settings(again, "payment"), message_id="durable-p3")[
            "status"] == "closed"  # fmt: skip
    with SandboxServer(port=port, data_folder=data) as third:  # the change a request made is kept too
        (payment,) = third.state.stored()["payments"]
        assert (payment["payment_id"], payment["status"]) == (opened["payment_id"], "closed")


def test_a_held_payment_is_paid_later_and_its_callback_survives_a_restart(
    tmp_path: Path, pki: Pki, receiver: Receiver
) -> None:
    import requests

    data = tmp_path / "sandbox"
    keys = {"signer": pki.huiju, "trust": pki.trust}
    order = {"order_number": "FW2026120600010", "amount_fen": 2400, "description": "上门助浴",
             "payer_phone": "13700001965"}  # fmt: skip
    port = free_port()
    with SandboxServer(port=port, trust=pki.trust, signer=pki.sandbox, callback_url=receiver.url,
                       callback_delay=0.0, data_folder=data) as first:  # fmt: skip
        control = f"{first.url}/_sandbox/payments"
        assert requests.post(control, json={"order_number": order["order_number"], "outcome": "hold"},
                             timeout=5).json() == {"preset": True}  # fmt: skip
        opened = call("payment.create_payment", order, settings=settings(first, "payment"),
                      message_id=str(uuid.uuid4()), **keys)  # fmt: skip
        assert first.callbacks is not None and first.callbacks.to_json() == []  # the payer has not paid yet
        pay = {"payment_id": opened["payment_id"], "outcome": "paid"}
        first.callbacks.state, first.callbacks.attempts = SandboxState(), 0  # owed on disk, never sent by this one
        assert requests.post(f"{control}/pay", json=pay, timeout=5).json() == {"moved": True}
        assert requests.post(f"{control}/pay", json=pay, timeout=5).status_code == 409  # paid already
        (owed,) = first.callbacks.to_json()
        assert (owed["operation"], owed["values"]["status"], owed["values"]["amountFen"]) == (
            "NotifyPayment", "paid", "2400")  # fmt: skip
    receiver.accepting = True
    with SandboxServer(port=port, trust=pki.trust, signer=pki.sandbox, callback_url=receiver.url,
                       callback_delay=0.0, data_folder=data) as again:  # fmt: skip
        wait_for(lambda: [c for c in again.callbacks.to_json() if c["outcome"] == "accepted"], "the payment callback")
        assert receiver.received == [owed["message_id"]]
        (payment,) = again.state.stored()["payments"]
        assert payment["status"] == "paid"
