"""A Node.js partner with the ``soap`` package from the npm registry: the same calls as the Java partner,
plain and signed. It signs by configuration (soap's WSSecurityCert set to the profile, RSA key) and
verifies the signed replies (the sandbox's and Huiju's, ECDSA) as the profile says."""

from __future__ import annotations

from typing import Any

from adapters.sandbox.server import SandboxServer
from tests.interop.conftest import NODE_PARTNER, Huiju, NodeKit
from tests.interop.material import PartnerFiles

MOTHER = ("110105193801012340", "张秀英")


def _secure_call(kit: NodeKit, sandbox: SandboxServer, files: PartnerFiles, *extra: str) -> tuple[int, dict[str, Any]]:
    return kit.run(
        "verify-identity", "--wsdl", f"{sandbox.url}/citizen_info?wsdl", "--ca", files.ca,
        "--tls-cert", files.path("tls.cert.pem"), "--tls-key", files.path("tls.key.pem"),
        "--signing-cert", files.path("signing.cert.pem"), "--signing-key", files.path("signing.key.pem"),
        "--id-number", MOTHER[0], "--name", MOTHER[1], *extra,
    )  # fmt: skip


def test_plain_call_to_the_sandbox(node_kit: NodeKit, plain_sandbox: SandboxServer) -> None:
    code, out = node_kit.run(
        "verify-identity", "--wsdl", f"{plain_sandbox.url}/citizen_info?wsdl", "--id-number", MOTHER[0],
        "--name", MOTHER[1],
    )  # fmt: skip
    assert (code, out["ok"], out.get("value")) == (0, True, True), out
    assert plain_sandbox.state.entries(out["message_id"])


def test_signed_call_over_mtls_and_its_verified_reply(
    node_kit: NodeKit, secure_sandbox: SandboxServer, node_files: PartnerFiles
) -> None:
    code, out = _secure_call(node_kit, secure_sandbox, node_files)
    assert (code, out["ok"], out.get("value")) == (0, True, True), out
    assert "CN=sandbox signing" in out["reply_signer"]
    assert out["request_hash"] == out["sent_hash"]
    (entry,) = secure_sandbox.state.entries(out["message_id"])
    assert entry["operation"] == "VerifyIdentity" and entry["outcome"] == "ok"


def test_signed_with_a_wrong_key_or_altered_the_sandbox_refuses(
    node_kit: NodeKit, secure_sandbox: SandboxServer, node_files: PartnerFiles
) -> None:
    for tamper, reason in (("wrong-key", "signature-invalid"), ("alter", "the digest of reference")):
        code, out = _secure_call(node_kit, secure_sandbox, node_files, "--tamper", tamper)
        assert (code, out["ok"]) == (3, False), out
        assert reason in out["faultstring"]
        assert out["fault_signed"] is True  # the sandbox's refusal verified in Node


def _decision(
    kit: NodeKit, huiju: Huiju, files: PartnerFiles, case: str, receipt: str, *extra: str
) -> tuple[int, dict[str, Any]]:
    return kit.run(
        "notify-decision", "--wsdl", f"{huiju.inbound_url}?wsdl", "--ca", files.ca,
        "--signing-cert", files.path("signing.cert.pem"), "--signing-key", files.path("signing.key.pem"),
        "--case", case, "--receipt", receipt, "--decision", "approved", *extra,
    )  # fmt: skip


def test_signed_decision_callback_resumes_the_waiting_case(
    node_kit: NodeKit, huiju: Huiju, node_files: PartnerFiles
) -> None:
    case, receipt = huiju.waiting_case(NODE_PARTNER)
    code, out = _decision(node_kit, huiju, node_files, case, receipt)
    assert (code, out["ok"], out.get("value")) == (0, True, True), out
    assert "CN=huiju signing" in out["reply_signer"]
    assert not huiju.waits(case)


def test_a_decision_signed_with_a_wrong_key_or_altered_is_refused(
    node_kit: NodeKit, huiju: Huiju, node_files: PartnerFiles
) -> None:
    case, receipt = huiju.waiting_case(NODE_PARTNER)
    for tamper, reason in (("wrong-key", "signature-invalid"), ("alter", "the digest of reference")):
        code, out = _decision(node_kit, huiju, node_files, case, receipt, "--tamper", tamper)
        assert (code, out["ok"]) == (3, False), out
        assert reason in out["faultstring"]
        assert out["fault_signed"] is False
        assert huiju.waits(case)
