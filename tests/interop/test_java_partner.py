"""A Java partner built from Debian's packages only (JDK, jaxws/wsimport, Apache Santuario) and from the
WSDLs as Huiju serves them, signing and verifying as the published profile says.

As a client of a government system it calls the secure sandbox (mTLS, signed) and verifies the signed
reply (signature, CA, messageId echo, requestHash); as the e-gov extranet it sends a signed decision
to Huiju's /exchange/soap, which accepts it and resumes the waiting case. Signed with a wrong key, or
altered after signing, its messages are refused and nothing moves.
"""

from __future__ import annotations

from adapters.sandbox.server import SandboxServer
from tests.interop.conftest import JAVA_PARTNER, Huiju, JavaKit
from tests.interop.material import PASSWORD, PartnerFiles

MOTHER = ("110105193801012340", "张秀英")


def _secure_call(kit: JavaKit, sandbox: SandboxServer, files: PartnerFiles, *extra: str) -> tuple[int, dict]:
    return kit.run(
        "verify-identity", "--wsdl", f"{sandbox.url}/citizen_info?wsdl", "--tls", files.path("tls.p12"),
        "--signing", files.path("signing.p12"), "--password", PASSWORD, "--ca", files.ca,
        "--id-number", MOTHER[0], "--name", MOTHER[1], *extra,
    )  # fmt: skip


def test_plain_call_to_the_sandbox(java_kit: JavaKit, plain_sandbox: SandboxServer) -> None:
    code, out = java_kit.run(
        "verify-identity", "--wsdl", f"{plain_sandbox.url}/citizen_info?wsdl", "--id-number", MOTHER[0],
        "--name", MOTHER[1],
    )  # fmt: skip
    assert (code, out["ok"], out.get("value")) == (0, True, True), out
    assert plain_sandbox.state.entries(out["message_id"])  # the sandbox journaled it


def test_signed_call_over_mtls_and_its_verified_reply(
    java_kit: JavaKit, secure_sandbox: SandboxServer, java_files: PartnerFiles
) -> None:
    code, out = _secure_call(java_kit, secure_sandbox, java_files)
    assert (code, out["ok"], out.get("value")) == (0, True, True), out
    # the reply verified in Java: signed by the sandbox, bound to this request
    assert "CN=sandbox signing" in out["reply_signer"]
    assert out["request_hash"] == out["sent_hash"]
    (entry,) = secure_sandbox.state.entries(out["message_id"])
    assert entry["operation"] == "VerifyIdentity" and entry["outcome"] == "ok"


def test_signed_with_a_wrong_key_the_sandbox_refuses(
    java_kit: JavaKit, secure_sandbox: SandboxServer, java_files: PartnerFiles
) -> None:
    code, out = _secure_call(java_kit, secure_sandbox, java_files, "--tamper", "wrong-key")
    assert (code, out["ok"]) == (3, False), out
    assert out["faultstring"].startswith("request refused (signature-invalid)")
    assert out["fault_signed"] is True  # the sandbox signs its refusals, and Java verified this one


def test_altered_after_signing_the_sandbox_refuses(
    java_kit: JavaKit, secure_sandbox: SandboxServer, java_files: PartnerFiles
) -> None:
    code, out = _secure_call(java_kit, secure_sandbox, java_files, "--tamper", "alter")
    assert (code, out["ok"]) == (3, False), out
    assert "the digest of reference" in out["faultstring"]


def _decision(
    kit: JavaKit, huiju: Huiju, files: PartnerFiles, case: str, receipt: str, *extra: str
) -> tuple[int, dict]:
    return kit.run(
        "notify-decision", "--wsdl", f"{huiju.inbound_url}?wsdl", "--signing", files.path("signing.p12"),
        "--password", PASSWORD, "--ca", files.ca, "--case", case, "--receipt", receipt, "--decision", "approved",
        *extra,
    )  # fmt: skip


def test_signed_decision_callback_resumes_the_waiting_case(
    java_kit: JavaKit, huiju: Huiju, java_files: PartnerFiles
) -> None:
    case, receipt = huiju.waiting_case(JAVA_PARTNER)
    code, out = _decision(java_kit, huiju, java_files, case, receipt)
    assert (code, out["ok"], out.get("value")) == (0, True, True), out
    assert "CN=huiju signing" in out["reply_signer"]  # Huiju's answer, verified in Java
    assert out["request_hash"] == out["sent_hash"]
    assert not huiju.waits(case)


def test_a_decision_signed_with_a_wrong_key_or_altered_is_refused(
    java_kit: JavaKit, huiju: Huiju, java_files: PartnerFiles
) -> None:
    case, receipt = huiju.waiting_case(JAVA_PARTNER)
    for tamper, reason in (("wrong-key", "signature-invalid"), ("alter", "the digest of reference")):
        code, out = _decision(java_kit, huiju, java_files, case, receipt, "--tamper", tamper)
        assert (code, out["ok"]) == (3, False), out
        assert reason in out["faultstring"]
        assert out["fault_signed"] is False  # a call that did not verify gets an unsigned fault
        assert huiju.waits(case)


def test_wss4j_signing_by_configuration_is_accepted_both_ways(
    java_kit: JavaKit, secure_sandbox: SandboxServer, huiju: Huiju, java_files: PartnerFiles
) -> None:
    """Apache WSS4J (as CXF uses it), given only the profile's settings, makes messages that the sandbox
    and Huiju's inbound endpoint accept: its own layout (Timestamp last, InclusiveNamespaces) included;
    and WSS4J's own processing accepts their signed answers (signature, CA, Timestamp)."""
    code, out = _secure_call(java_kit, secure_sandbox, java_files, "--engine", "wss4j")
    assert (code, out["ok"], out.get("value")) == (0, True, True), out
    assert out["request_hash"] == out["sent_hash"]
    assert out["wss4j_verified"] is True
    case, receipt = huiju.waiting_case(JAVA_PARTNER)
    code, out = _decision(java_kit, huiju, java_files, case, receipt, "--engine", "wss4j")
    assert (code, out["ok"], out.get("value")) == (0, True, True), out
    assert out["wss4j_verified"] is True
    assert not huiju.waits(case)
