"""Partners' CAs and certificates, revocation lists kept fresh (a stale one refused), and a trust store
that picks a change up without a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs import partners
from certs.errors import CertificateStoreError, RevokedCertificate, StaleRevocationList, UntrustedCertificate
from certs.store import (
    active_certificate,
    crl_status,
    init_dev_pki,
    issue_certificate,
    load_private_key,
    refresh_crl,
    revoke,
)
from certs.trust import TrustStore


def _cert(folder: Path, member: str, role: str = "signing") -> x509.Certificate:
    info = active_certificate(folder, member, role)  # type: ignore[arg-type]
    return x509.load_pem_x509_certificate((folder / info.cert_file).read_bytes())


@pytest.fixture
def other(tmp_path: Path) -> Path:
    """A partner's own PKI (another CA), with a member 'housing'."""
    folder = tmp_path / "partner"
    init_dev_pki(folder, members=("housing",))
    return folder


def test_a_revocation_list_past_its_next_update_is_refused(pki: Path) -> None:
    trust = TrustStore.load(pki)
    cert = _cert(pki, "sandbox")
    trust.check(cert)
    later = datetime.now(UTC) + timedelta(days=31)  # the list is valid 30 days
    with pytest.raises(StaleRevocationList, match="was due for renewal on .*refresh it \\(huiju certs crl\\)"):
        trust.check(cert, at=later)
    status = refresh_crl(pki, days=60)
    assert status.next_update is not None and status.next_update > later and not status.stale()
    TrustStore.load(pki).check(cert, at=later)  # refreshed: trusted again


def test_a_watching_trust_store_sees_a_revocation_without_a_restart(pki: Path) -> None:
    watching, loaded = TrustStore.watching(pki), TrustStore.load(pki)
    cert = _cert(pki, "sandbox")
    watching.check(cert)
    revoke(pki, format(cert.serial_number, "x"), "keyCompromise")
    with pytest.raises(RevokedCertificate):
        watching.check(cert)
    loaded.check(cert)  # a store read once still trusts it: that is what a restart used to fix


def test_a_remembered_issuer_is_not_lent_to_a_certificate_under_the_same_names(pki: Path) -> None:
    """The CA's signature over a certificate is checked once per loaded store and remembered for that
    certificate only: another one under the same subject, issuer and serial, signed by another key,
    is still refused."""
    trust = TrustStore.load(pki)
    genuine = _cert(pki, "sandbox")
    trust.check(genuine)
    trust.check(genuine)
    key = ec.generate_private_key(ec.SECP256R1())
    forged = (
        x509.CertificateBuilder()
        .subject_name(genuine.subject)
        .issuer_name(genuine.issuer)
        .public_key(key.public_key())
        .serial_number(genuine.serial_number)
        .not_valid_before(genuine.not_valid_before_utc)
        .not_valid_after(genuine.not_valid_after_utc)
        .add_extension(genuine.extensions.get_extension_for_class(x509.KeyUsage).value, critical=True)
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(UntrustedCertificate, match="is not issued by a trusted CA"):
        trust.check(forged)
    trust.check(genuine)


def test_a_partner_ca_is_trusted_once_uploaded_and_its_list_applies(pki: Path, other: Path) -> None:
    partner_cert = _cert(other, "housing")
    watching = TrustStore.watching(pki)
    with pytest.raises(UntrustedCertificate):
        watching.check(partner_cert)
    with pytest.raises(UntrustedCertificate, match="is not issued by a trusted CA"):
        partners.add_partner_certificate(pki, partner_cert.public_bytes(serialization.Encoding.PEM),
                                         member="housing", added_by="integrator")  # fmt: skip
    ca_pem = (other / "ca.cert.pem").read_bytes()
    entry = partners.add_partner_ca(pki, ca_pem, member="housing", added_by="integrator")
    assert entry.kind == "ca" and entry.member == "housing"
    with pytest.raises(CertificateStoreError, match="trusted already"):
        partners.add_partner_ca(pki, ca_pem, member="housing", added_by="integrator")
    watching.check(partner_cert)  # trusted now, without a restart
    kept = partners.add_partner_certificate(pki, partner_cert.public_bytes(serialization.Encoding.PEM), member=None,
                                            added_by="integrator")  # fmt: skip
    assert kept.member == "housing" and (pki / kept.file).exists()
    assert [p.kind for p in partners.list_partners(pki)] == ["ca", "certificate"]

    revoke(other, format(partner_cert.serial_number, "x"), "keyCompromise")  # the partner revokes it
    written = partners.import_crl(pki, (other / "crl.pem").read_bytes())
    assert written.startswith("crls/") and len(crl_status(pki)) == 2
    with pytest.raises(RevokedCertificate):
        watching.check(partner_cert)


def test_what_is_not_a_partner_ca_or_a_current_list_is_refused(pki: Path, other: Path) -> None:
    with pytest.raises(CertificateStoreError, match="is not a CA certificate"):
        partners.add_partner_ca(pki, _cert(other, "housing").public_bytes(serialization.Encoding.PEM),
                                member="housing", added_by="i")  # fmt: skip
    with pytest.raises(CertificateStoreError, match="not a PEM or DER X.509 certificate"):
        partners.add_partner_ca(pki, b"-----BEGIN CERTIFICATE-----\nnonsense\n", member="housing", added_by="i")
    with pytest.raises(CertificateStoreError, match="not signed by a trusted CA"):
        partners.import_crl(pki, (other / "crl.pem").read_bytes())
    with pytest.raises(CertificateStoreError, match="our own CA's list"):
        partners.import_crl(pki, (pki / "crl.pem").read_bytes())
    partners.add_partner_ca(pki, (other / "ca.cert.pem").read_bytes(), member="housing", added_by="i")
    ca_key = load_private_key(other, active_certificate(other, "ca", "ca"), passphrase=None)
    ca_cert = x509.load_pem_x509_certificate((other / "ca.cert.pem").read_bytes())
    old = datetime.now(UTC) - timedelta(days=40)
    stale = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject).last_update(old)
             .next_update(old + timedelta(days=30)).sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]  # fmt: skip
    with pytest.raises(CertificateStoreError, match="past its next update"):
        partners.import_crl(pki, stale.public_bytes(serialization.Encoding.PEM))


def test_issuing_after_a_partner_ca_keeps_our_ca_first(pki: Path, other: Path) -> None:
    partners.add_partner_ca(pki, (other / "ca.cert.pem").read_bytes(), member="housing", added_by="i")
    issue_certificate(pki, "huiju-egov", "tls-client")
    trusted = x509.load_pem_x509_certificates((pki / "trusted.pem").read_bytes())
    assert len(trusted) == 2 and trusted[0].subject == x509.load_pem_x509_certificate(
        (pki / "ca.cert.pem").read_bytes()).subject  # fmt: skip
