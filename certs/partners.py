"""What partners give us: their CA certificate (then trusted), a member certificate of theirs (kept
and watched for expiry, refused unless a trusted CA issued it), and their CA's revocation list.

A partner CA is appended to ``trusted.pem``; its revocation list goes to ``crls/`` (it must be
signed by a trusted CA and not past its next update); everything uploaded is listed in
``partners.json``. The trust store of a running process reads these files again when they change
(:meth:`certs.trust.TrustStore.watching`, :class:`exchange.security.SecurityProvider`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from certs.errors import CertificateRefused, CertificateStoreError
from certs.issuing import fingerprint
from certs.store import CRLS, PARTNERS, TRUSTED, _check_member
from certs.trust import TrustStore, _crl_signed_by, member_of
from huiju.i18n import _

MAX_PEM_BYTES = 64 * 1024


@dataclass(frozen=True)
class PartnerEntry:
    kind: str  # "ca" or "certificate"
    member: str  # the partner, as the certificate's OU names it (or as given)
    subject: str
    issuer: str
    serial: str
    fingerprint: str
    not_after: datetime
    file: str
    added_at: datetime
    added_by: str

    def expires_within(self, days: float, now: datetime | None = None) -> bool:
        from datetime import timedelta

        return self.not_after <= (now or datetime.now(UTC)) + timedelta(days=days)


def _pem_certificate(data: bytes) -> x509.Certificate:
    if len(data) > MAX_PEM_BYTES:
        raise CertificateRefused(_("the certificate file is larger than {size} KB", size=MAX_PEM_BYTES // 1024))
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        try:
            certificates = [x509.load_der_x509_certificate(data)]
        except ValueError as exc:
            raise CertificateRefused(_("the file is not a PEM or DER X.509 certificate")) from exc
    if len(certificates) != 1:
        raise CertificateRefused(_("give one certificate a file, not {count}", count=len(certificates)))
    return certificates[0]


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _load(folder: Path) -> list[dict[str, Any]]:
    path = folder / PARTNERS
    if not path.exists():
        return []
    try:
        return list(json.loads(path.read_text())["partners"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CertificateStoreError(_("the partner list {file} is damaged", file=str(path))) from exc


def _save(folder: Path, entries: list[dict[str, Any]]) -> None:
    temporary = folder / (PARTNERS + ".tmp")
    temporary.write_text(json.dumps({"version": 1, "partners": entries}, indent=2, ensure_ascii=False) + "\n")
    os.replace(temporary, folder / PARTNERS)


def _entry(data: dict[str, Any]) -> PartnerEntry:
    values = dict(data)
    for name in ("not_after", "added_at"):
        values[name] = datetime.fromisoformat(values[name])
    return PartnerEntry(**values)


def list_partners(folder: Path) -> list[PartnerEntry]:
    return [_entry(e) for e in _load(Path(folder))]


def _record(folder: Path, cert: x509.Certificate, kind: str, member: str, file: str, added_by: str) -> PartnerEntry:
    entry = PartnerEntry(
        kind=kind, member=member, subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"), fingerprint=fingerprint(cert), not_after=cert.not_valid_after_utc,
        file=file, added_at=datetime.now(UTC), added_by=added_by,
    )  # fmt: skip
    entries = _load(folder)
    data = asdict(entry)
    data["not_after"], data["added_at"] = entry.not_after.isoformat(), entry.added_at.isoformat()
    _save(folder, [*entries, data])
    return entry


def _check_current(cert: x509.Certificate) -> None:
    now = datetime.now(UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise CertificateRefused(
            _("the certificate {subject} is not valid now (valid {start} to {end})",
              subject=cert.subject.rfc4514_string(), start=cert.not_valid_before_utc.date().isoformat(),
              end=cert.not_valid_after_utc.date().isoformat())
        )  # fmt: skip


def add_partner_ca(folder: Path, data: bytes, *, member: str, added_by: str) -> PartnerEntry:
    """Trust a partner's CA: appended to ``trusted.pem`` (a CA certificate, valid now, not there yet)."""
    folder = Path(folder)
    _check_member(member)
    cert = _pem_certificate(data)
    if not _is_ca(cert):
        raise CertificateRefused(_("{subject} is not a CA certificate", subject=cert.subject.rfc4514_string()))
    _check_current(cert)
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise CertificateRefused(_("a partner's CA certificate must be its self-signed root")) from exc
    trusted = folder / TRUSTED
    known = x509.load_pem_x509_certificates(trusted.read_bytes()) if trusted.exists() else []
    if any(fingerprint(c) == fingerprint(cert) for c in known):
        raise CertificateRefused(_("this CA is trusted already"))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    temporary = folder / (TRUSTED + ".tmp")
    temporary.write_bytes((trusted.read_bytes() if trusted.exists() else b"") + pem)
    os.replace(temporary, trusted)
    return _record(folder, cert, "ca", member, TRUSTED, added_by)


def add_partner_certificate(folder: Path, data: bytes, *, member: str | None, added_by: str) -> PartnerEntry:
    """Keep a partner's member certificate (e.g. its signing certificate), issued by a trusted CA."""
    folder = Path(folder)
    cert = _pem_certificate(data)
    if _is_ca(cert):
        raise CertificateRefused(
            _("{subject} is a CA certificate: upload it as a CA", subject=cert.subject.rfc4514_string())
        )
    TrustStore.load(folder).issuer_of(cert)  # refused unless a trusted CA issued it
    _check_current(cert)
    name = member or member_of(cert) or ""
    _check_member(name)
    file = f"partner-{name}-{format(cert.serial_number, 'x')[:16]}.cert.pem"
    (folder / file).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return _record(folder, cert, "certificate", name, file, added_by)


def import_crl(folder: Path, data: bytes) -> str:
    """A partner CA's revocation list into ``crls/``: signed by a trusted CA and not past its next update.

    Returns the file written (one per issuing CA: a newer list replaces the older one).
    """
    folder = Path(folder)
    if len(data) > 10 * MAX_PEM_BYTES:
        raise CertificateRefused(_("the revocation list is larger than {size} KB", size=10 * MAX_PEM_BYTES // 1024))
    try:
        crl = x509.load_pem_x509_crl(data)
    except ValueError:
        try:
            crl = x509.load_der_x509_crl(data)
        except ValueError as exc:
            raise CertificateRefused(_("the file is not a PEM or DER revocation list")) from exc
    cas = TrustStore.load(folder).ca_certificates
    issuers = [ca for ca in cas if _crl_signed_by(crl, ca)]
    if not issuers:
        raise CertificateRefused(_("the revocation list is not signed by a trusted CA"))
    if crl.next_update_utc is not None and crl.next_update_utc < datetime.now(UTC):
        raise CertificateRefused(
            _("the revocation list is past its next update ({date}): ask its CA for a current one",
              date=crl.next_update_utc.isoformat())
        )  # fmt: skip
    own = folder / "ca.cert.pem"
    if own.exists() and _crl_signed_by(crl, x509.load_pem_x509_certificate(own.read_bytes())):
        raise CertificateRefused(_("this is our own CA's list: refresh it with huiju certs crl instead"))
    (folder / CRLS).mkdir(exist_ok=True)
    name = fingerprint(issuers[0])[:16] + ".pem"  # one list per CA: a newer one replaces the older
    temporary = folder / CRLS / (name + ".tmp")
    temporary.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    os.replace(temporary, folder / CRLS / name)
    return f"{CRLS}/{name}"
