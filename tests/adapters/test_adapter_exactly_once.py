"""The journal: a message id acts once, however often it arrives."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from adapters.client import call
from adapters.config import AdapterSettings
from adapters.sandbox.server import SandboxServer
from huiju.errors import PermanentAdapterError, TransientAdapterError

Settings = Callable[..., AdapterSettings]
Inject = Callable[..., None]
SMS = {"phone": "13800138000", "template": "CASE_APPROVED", "params": {"case": "HJ-1"}}


def test_repeated_message_id_returns_the_same_answer_and_acts_once(
    settings_for: Settings, sandbox: SandboxServer, control: requests.Session
) -> None:
    first = call("sms.send_sms", SMS, settings=settings_for("sms"), message_id="once-1")
    second = call("sms.send_sms", SMS, settings=settings_for("sms"), message_id="once-1")
    assert first == second
    assert len(sandbox.state.stored()["sms"]) == 1
    journal = control.get(f"{sandbox.url}/_sandbox/journal", params={"message_id": "once-1"}, timeout=5).json()
    assert len(journal) == 1
    assert journal[0]["received_count"] == 2 and journal[0]["response"]["smsId"] == first["sms_id"]


def test_a_used_id_with_another_body_is_refused(settings_for: Settings, sandbox: SandboxServer) -> None:
    call("sms.send_sms", SMS, settings=settings_for("sms"), message_id="once-2")
    with pytest.raises(PermanentAdapterError, match="already used for another request") as caught:
        call("sms.send_sms", {**SMS, "phone": "13900139000"}, settings=settings_for("sms"), message_id="once-2")
    assert caught.value.details["fault_code"] == "Client"
    assert len(sandbox.state.stored()["sms"]) == 1


def test_injected_failure_then_retry_acts_once(
    settings_for: Settings, inject: Inject, sandbox: SandboxServer, control: requests.Session
) -> None:
    inject(operation="SendSms", mode="server_fault", count=1)
    with pytest.raises(TransientAdapterError):
        call("sms.send_sms", SMS, settings=settings_for("sms"), message_id="once-3")
    assert sandbox.state.entries(message_id="once-3") == []
    call("sms.send_sms", SMS, settings=settings_for("sms"), message_id="once-3")
    assert sandbox.state.entries(message_id="once-3")[0]["received_count"] == 1
    assert len(sandbox.state.stored()["sms"]) == 1


def test_receiver_acted_but_caller_timed_out_then_retry_gets_the_stored_answer(
    settings_for: Settings, inject: Inject, sandbox: SandboxServer, control: requests.Session
) -> None:
    inject(operation="SendSms", mode="delay", count=1, seconds=1.0)
    with pytest.raises(TransientAdapterError, match="timed out"):
        call("sms.send_sms", SMS, settings=settings_for("sms", operation_timeout=0.3), message_id="once-4")
    assert len(sandbox.state.stored()["sms"]) == 1  # the platform did send it
    again = call("sms.send_sms", SMS, settings=settings_for("sms"), message_id="once-4")
    assert again["sms_id"] == sandbox.state.stored()["sms"][0]["sms_id"]
    assert len(sandbox.state.stored()["sms"]) == 1
    assert sandbox.state.entries(message_id="once-4")[0]["received_count"] == 2


def test_business_faults_are_journaled_and_replayed(settings_for: Settings, sandbox: SandboxServer) -> None:
    for _ in range(2):
        with pytest.raises(PermanentAdapterError, match="unknown person"):
            call(
                "citizen_info.query_person",
                {"id_number": "110105193801012359"},
                settings=settings_for("citizen_info"),
                message_id="once-5",
            )
    (entry,) = sandbox.state.entries(message_id="once-5")
    assert entry["outcome"] == "fault" and entry["received_count"] == 2


def test_concurrent_duplicates_act_once(settings_for: Settings, sandbox: SandboxServer) -> None:
    def send(_: int) -> str:
        return str(call("sms.send_sms", SMS, settings=settings_for("sms"), message_id="once-6")["sms_id"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        sms_ids = set(pool.map(send, range(12)))
    assert len(sms_ids) == 1
    assert len(sandbox.state.stored()["sms"]) == 1
    assert sandbox.state.entries(message_id="once-6")[0]["received_count"] == 12
