"""The key and certificate store: init, list, expiry warning, rotation, revocation, passphrases."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from certs.errors import (
    CertificateRoleError,
    CertificateStoreError,
    ExpiredCertificate,
    RevokedCertificate,
    UntrustedCertificate,
)
from certs.store import (
    CA_CERT,
    CRL,
    INDEX,
    active_certificate,
    default_folder,
    init_dev_pki,
    issue_certificate,
    list_certificates,
    load_signing_identity,
    passphrase_of,
    revoke,
    rotate_signing,
)
from certs.trust import TrustStore
from huiju.settings import load_settings


def _cert(folder: Path, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((folder / name).read_bytes())


def test_init_issues_a_ca_and_three_roles_per_member(tmp_path: Path) -> None:
    folder = tmp_path / "certs"
    issued = init_dev_pki(folder)
    assert [(i.member, i.role) for i in issued] == [
        ("ca", "ca"),
        ("huiju", "signing"),
        ("huiju", "tls-server"),
        ("huiju", "tls-client"),
        ("sandbox", "signing"),
        ("sandbox", "tls-server"),
        ("sandbox", "tls-client"),
    ]
    assert all(i.status == "active" and i.key_type == "ec" for i in issued)
    for info in issued:
        mode = stat.S_IMODE((folder / info.key_file).stat().st_mode)
        assert mode == 0o600, info.key_file
        assert b"ENCRYPTED" not in (folder / info.key_file).read_bytes()
        cert = _cert(folder, info.cert_file)
        assert cert.serial_number == info.serial
        assert cert.subject.rfc4514_string() == info.subject
        assert info.fingerprint == cert.fingerprint(hashes.SHA256()).hex()
    index = json.loads((folder / INDEX).read_text())
    assert {e["fingerprint"] for e in index["certificates"]} == {i.fingerprint for i in issued}
    assert set(index["certificates"][1]) >= {
        "member",
        "role",
        "serial",
        "subject",
        "not_before",
        "not_after",
        "fingerprint",
        "status",
        "cert_file",
        "key_file",
    }
    assert list_certificates(folder) == issued


def test_roles_carry_their_key_usages(pki: Path) -> None:
    signing = _cert(pki, active_certificate(pki, "huiju", "signing").cert_file)
    usage = signing.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    with pytest.raises(x509.ExtensionNotFound):
        signing.extensions.get_extension_for_class(x509.ExtendedKeyUsage)

    server = _cert(pki, active_certificate(pki, "sandbox", "tls-server").cert_file)
    assert list(server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]

    client = _cert(pki, active_certificate(pki, "huiju", "tls-client").cert_file)
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    trust = TrustStore.load(pki)
    trust.check(server, role="tls-server")
    trust.check(client, role="tls-client")
    trust.check(signing, role="signing")
    with pytest.raises(CertificateRoleError, match="is not a signing certificate"):
        trust.check(client, role="signing")
    with pytest.raises(CertificateRoleError):
        trust.check(signing, role="tls-server")


def test_rsa_keys_are_selectable(tmp_path: Path) -> None:
    issued = init_dev_pki(tmp_path / "rsa", members=("huiju",), key_type="rsa")
    assert {i.key_type for i in issued} == {"rsa"}
    assert load_signing_identity(tmp_path / "rsa", "huiju").key_type == "rsa"


def test_init_refuses_to_replace_a_ca_unless_forced(pki: Path) -> None:
    before = _cert(pki, CA_CERT).fingerprint(hashes.SHA256())
    with pytest.raises(CertificateStoreError, match="a CA already exists"):
        init_dev_pki(pki)
    assert _cert(pki, CA_CERT).fingerprint(hashes.SHA256()) == before
    issued = init_dev_pki(pki, force=True)
    assert _cert(pki, CA_CERT).fingerprint(hashes.SHA256()) != before
    assert len(list_certificates(pki)) == len(issued) == 7
    assert len(list(pki.glob("*.key.pem"))) == 7


def test_member_names_are_checked(tmp_path: Path) -> None:
    with pytest.raises(CertificateStoreError, match="invalid member name"):
        init_dev_pki(tmp_path / "x", members=("../evil",))


def test_expires_within_flags_a_certificate_that_ends_soon(pki: Path) -> None:
    short = issue_certificate(pki, "sandbox", "tls-client", days=10)
    flagged = [i for i in list_certificates(pki) if i.status == "active" and i.expires_within(30)]
    assert flagged == [short]
    assert not short.expires_within(5)


def test_rotation_supersedes_the_old_signing_certificate(pki: Path) -> None:
    old = active_certificate(pki, "huiju", "signing")
    new = rotate_signing(pki, "huiju")
    by_serial = {i.serial: i for i in list_certificates(pki)}
    assert by_serial[old.serial].status == "superseded"
    assert by_serial[new.serial].status == "active"
    assert load_signing_identity(pki, "huiju").info == new
    # The superseded certificate stays trusted: older messages still verify.
    TrustStore.load(pki).check(_cert(pki, old.cert_file))


def test_revoke_by_serial_writes_a_crl_signed_by_the_ca(pki: Path) -> None:
    target = active_certificate(pki, "sandbox", "signing")
    revoked = revoke(pki, target.serial_hex, "keyCompromise")
    assert revoked.status == "revoked" and revoked.revocation_reason == "keyCompromise"
    crl = x509.load_pem_x509_crl((pki / CRL).read_bytes())
    ca = _cert(pki, CA_CERT)
    assert crl.issuer == ca.subject
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(target.serial)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    with pytest.raises(RevokedCertificate) as refused:
        TrustStore.load(pki).check(_cert(pki, target.cert_file))
    assert "CN=sandbox signing" in refused.value.message
    assert target.serial_hex in refused.value.message
    assert "keyCompromise" in refused.value.message


def test_revoke_by_fingerprint(pki: Path) -> None:
    target = active_certificate(pki, "huiju", "tls-client")
    colon_form = ":".join(target.fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    assert revoke(pki, colon_form, "cessationOfOperation").serial == target.serial
    assert [i.status for i in list_certificates(pki) if i.serial == target.serial] == ["revoked"]
    again = revoke(pki, target.serial, "keyCompromise")  # already revoked: left as it was
    assert again.status == "revoked" and again.revocation_reason == "cessationOfOperation"
    with pytest.raises(CertificateStoreError, match="no certificate"):
        revoke(pki, "ab" * 32, "unspecified")


def test_a_crl_not_signed_by_a_trusted_ca_is_refused(pki: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    init_dev_pki(other, members=())
    (pki / CRL).write_bytes((other / CRL).read_bytes())
    with pytest.raises(CertificateStoreError, match="not signed by a trusted CA"):
        TrustStore.load(pki)


def test_untrusted_and_expired_certificates_are_named(pki: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    init_dev_pki(other, members=("huiju",))
    stranger = _cert(other, active_certificate(other, "huiju", "signing").cert_file)
    trust = TrustStore.load(pki)
    # Same CA name, other key: the name alone must not make it trusted.
    assert stranger.issuer == _cert(pki, CA_CERT).subject
    with pytest.raises(UntrustedCertificate, match="not issued by a trusted CA") as refused:
        trust.check(stranger)
    assert format(stranger.serial_number, "x") in refused.value.message

    old = issue_certificate(pki, "huiju", "signing", not_before=datetime.now(UTC) - timedelta(days=20), days=10)
    with pytest.raises(ExpiredCertificate, match="expired on") as expired:
        trust.check(_cert(pki, old.cert_file))
    assert "CN=huiju signing" in expired.value.message


def test_keys_encrypted_with_a_passphrase(tmp_path: Path) -> None:
    folder = tmp_path / "certs"
    secret = passphrase_of(load_settings(certs_passphrase="correct horse"))
    assert secret == b"correct horse"
    assert passphrase_of(load_settings(certs_passphrase=None)) is None
    init_dev_pki(folder, members=("huiju",), passphrase=secret)
    info = active_certificate(folder, "huiju", "signing")
    assert b"ENCRYPTED PRIVATE KEY" in (folder / info.key_file).read_bytes()
    with pytest.raises(CertificateStoreError, match="wrong or missing passphrase"):
        load_signing_identity(folder, "huiju")
    with pytest.raises(CertificateStoreError, match="wrong or missing passphrase"):
        load_signing_identity(folder, "huiju", passphrase=b"wrong")
    assert load_signing_identity(folder, "huiju", passphrase=secret).info == info
    # Issuing needs the CA key, so it needs the passphrase too.
    with pytest.raises(CertificateStoreError):
        rotate_signing(folder, "huiju")
    assert rotate_signing(folder, "huiju", passphrase=secret).status == "active"


def test_a_tampered_index_cannot_point_outside_the_folder(pki: Path) -> None:
    data = json.loads((pki / INDEX).read_text())
    data["certificates"][1]["key_file"] = "../../etc/passwd"
    (pki / INDEX).write_text(json.dumps(data))
    with pytest.raises(CertificateStoreError, match="damaged"):
        list_certificates(pki)


def test_default_folder_is_in_the_instance(tmp_path: Path) -> None:
    assert default_folder(load_settings(instance_path=tmp_path)) == (tmp_path / "certs").resolve()
