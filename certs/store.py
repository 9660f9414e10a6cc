"""A file-based key and certificate store: development CA, issuing, rotation, revocation.

The folder (by default ``<instance>/certs/``, see :func:`default_folder`) holds::

    ca.key.pem  ca.cert.pem           the development CA (EC P-256 by default, or RSA-2048)
    trusted.pem                       the CA certificates this installation trusts (the dev CA first)
    crl.pem                           the CA's certificate revocation list (RFC 5280), always present
    index.json                        one entry per certificate ever issued, with its status
    <member>-<role>-<serial>.cert.pem / .key.pem

Roles follow X-Road's split between signing and authentication certificates: ``signing``
(key usage digitalSignature + nonRepudiation, no extended key usage; signxml 5 wants
digitalSignature), ``tls-server`` (serverAuth, SAN ``DNS:localhost`` and ``IP:127.0.0.1``) and
``tls-client`` (clientAuth). A member has one *active* certificate per role; issuing another one
marks the previous one ``superseded`` — it stays trusted (same CA, not revoked), so messages it
signed still verify.

Private keys are written with mode 0600, unencrypted unless a passphrase is given (read it from
``HUIJU_CERTS_PASSPHRASE`` through :func:`passphrase_of`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certs.errors import CertificateRefused, CertificateStoreError, UnknownCertificate
from certs.issuing import (
    KeyType,
    PrivateKey,
    Role,
    ca_certificate,
    fingerprint,
    member_certificate,
    new_key,
    revocation_list,
)
from huiju.i18n import _
from huiju.settings import Settings

Status = Literal["active", "superseded", "revoked"]

__all__ = [
    "CertInfo",
    "KeyType",
    "PrivateKey",
    "Role",
    "SigningIdentity",
    "active_certificate",
    "default_folder",
    "find_certificate",
    "fingerprint",
    "init_dev_pki",
    "issue_certificate",
    "list_certificates",
    "load_private_key",
    "load_signing_identity",
    "passphrase_of",
    "refresh_crl",
    "revoke",
    "rotate_signing",
]

MEMBER_ROLES: tuple[Role, ...] = ("signing", "tls-server", "tls-client")
#: Roles issued on demand, not by init: an office's document-signing certificate (文书签章).
ON_DEMAND_ROLES: tuple[Role, ...] = ("document",)
DEFAULT_MEMBERS = ("huiju", "sandbox")
CA_MEMBER = "ca"
CA_KEY = "ca.key.pem"
CA_CERT = "ca.cert.pem"
TRUSTED = "trusted.pem"
CRL = "crl.pem"
CRLS = "crls"  # the revocation lists of partner CAs (huiju certs crl --import)
PARTNERS = "partners.json"  # partner CAs and certificates uploaded (see certs.partners)
INDEX = "index.json"
CRL_DAYS = 30

_MEMBER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*\.pem$")


@dataclass(frozen=True)
class CertInfo:
    """One entry of the index: what ``huiju certs list`` shows."""

    member: str
    role: Role
    serial: int
    subject: str
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256 of the DER certificate, lowercase hex
    status: Status
    key_type: KeyType
    cert_file: str
    key_file: str
    revoked_at: datetime | None = None
    revocation_reason: str | None = None

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "x")

    def expires_within(self, days: float, *, now: datetime | None = None) -> bool:
        """True when the certificate's validity ends less than ``days`` from ``now`` (or already has)."""
        return self.not_after <= (now or datetime.now(UTC)) + timedelta(days=days)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["serial"] = self.serial_hex
        for name in ("not_before", "not_after", "revoked_at"):
            data[name] = data[name].isoformat() if data[name] is not None else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertInfo:
        values = dict(data)
        values["serial"] = int(values["serial"], 16)
        for name in ("not_before", "not_after", "revoked_at"):
            values[name] = datetime.fromisoformat(values[name]) if values.get(name) else None
        for name in ("cert_file", "key_file"):
            if not _FILE_NAME.match(values[name]):
                raise ValueError(f"unsafe file name in the index: {values[name]!r}")
        return cls(**values)


@dataclass(frozen=True)
class SigningIdentity:
    """A member's signing key, loaded once (a PEM load costs tens of milliseconds), and its chain."""

    member: str
    info: CertInfo
    key: PrivateKey
    certificate: x509.Certificate
    chain_pem: tuple[str, ...]  # the signing certificate first, then the CA

    @property
    def key_type(self) -> KeyType:
        return "ec" if isinstance(self.key, ec.EllipticCurvePrivateKey) else "rsa"


def default_folder(settings: Settings) -> Path:
    """``HUIJU_CERTS_FOLDER``, by default ``<instance>/certs``."""
    return settings.resolved_certs_folder


def passphrase_of(settings: Settings) -> bytes | None:
    """The private-key passphrase (``HUIJU_CERTS_PASSPHRASE``); None (unencrypted keys) when unset."""
    return settings.certs_passphrase.encode() if settings.certs_passphrase else None


# --- public operations ---------------------------------------------------------------------------


def init_dev_pki(
    folder: Path,
    members: Iterable[str] = DEFAULT_MEMBERS,
    key_type: KeyType = "ec",
    days: int = 365,
    *,
    ca_days: int = 3650,
    passphrase: bytes | None = None,
    force: bool = False,
) -> list[CertInfo]:
    """Create a development CA and, for each member, one certificate of each role.

    Refuses to replace an existing CA unless ``force`` is true (then the folder's CA, keys,
    certificates, revocation list and index are replaced; partner CAs added to trusted.pem are lost).
    """
    folder = Path(folder)
    members = tuple(members)
    for member in members:
        _check_member(member)
    if (folder / CA_CERT).exists() or (folder / CA_KEY).exists():
        if not force:
            raise CertificateStoreError(
                _("a CA already exists in {folder}; pass force to replace it", folder=str(folder))
            )
        _clear(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_key = new_key(key_type)
    ca_cert = ca_certificate(ca_key, days=ca_days)
    _write_key(folder / CA_KEY, ca_key, passphrase)
    _write_public(folder / CA_CERT, ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_public(folder / TRUSTED, ca_cert.public_bytes(serialization.Encoding.PEM))
    ca_info = _info(ca_cert, CA_MEMBER, "ca", key_type, CA_CERT, CA_KEY)
    _save_index(folder, [ca_info])
    _write_crl(folder, ca_key, ca_cert, [])
    issued = [ca_info]
    for member in members:
        for role in MEMBER_ROLES:
            issued.append(issue_certificate(folder, member, role, days=days, passphrase=passphrase))
    return issued


def issue_certificate(
    folder: Path,
    member: str,
    role: Role,
    *,
    days: int = 365,
    not_before: datetime | None = None,
    key_type: KeyType | None = None,
    passphrase: bytes | None = None,
    common_name: str | None = None,
) -> CertInfo:
    """Issue a new key and certificate for ``member`` in ``role``; its previous active one becomes superseded.

    ``key_type`` defaults to the CA's; ``not_before`` (default: now) with ``days`` sets the validity;
    ``common_name`` names the holder as people read it (an office's name).
    """
    folder = Path(folder)
    _check_member(member)
    if role not in MEMBER_ROLES + ON_DEMAND_ROLES:
        raise CertificateRefused(_("unknown certificate role {role}", role=role))
    ca_key, ca_cert = _load_ca(folder, passphrase)
    entries = _load_index(folder)
    kind: KeyType = key_type or ("ec" if isinstance(ca_key, ec.EllipticCurvePrivateKey) else "rsa")
    key = new_key(kind)
    start = not_before or datetime.now(UTC) - timedelta(minutes=5)
    cert = member_certificate(ca_key, ca_cert, key, member, role, start=start, days=days, common_name=common_name)
    serial = cert.serial_number
    stem = f"{member}-{role}-{format(serial, 'x')[:16]}"
    _write_key(folder / f"{stem}.key.pem", key, passphrase)
    _write_public(folder / f"{stem}.cert.pem", cert.public_bytes(serialization.Encoding.PEM))
    info = _info(cert, member, role, kind, f"{stem}.cert.pem", f"{stem}.key.pem")
    entries = [
        replace(entry, status="superseded")
        if entry.member == member and entry.role == role and entry.status == "active"
        else entry
        for entry in entries
    ]
    _save_index(folder, [*entries, info])
    return info


def rotate_signing(folder: Path, member: str, *, days: int = 365, passphrase: bytes | None = None) -> CertInfo:
    """A new signing key and certificate; the old one stays trusted (superseded) for older messages."""
    return issue_certificate(folder, member, "signing", days=days, passphrase=passphrase)


def list_certificates(folder: Path) -> list[CertInfo]:
    """Every certificate of the index, the CA first, in issuing order."""
    return _load_index(Path(folder))


def find_certificate(folder: Path, serial_or_fingerprint: int | str) -> CertInfo:
    """Look a certificate up by serial (an int, or hex as ``list`` shows it) or SHA-256 fingerprint."""
    entries = _load_index(Path(folder))
    if isinstance(serial_or_fingerprint, int):
        matches = [e for e in entries if e.serial == serial_or_fingerprint]
    else:
        text = serial_or_fingerprint.strip().lower().replace(":", "")
        if len(text) == 64:
            matches = [e for e in entries if e.fingerprint == text]
        else:
            matches = [e for e in entries if e.serial_hex == text.lstrip("0") or e.serial_hex == text]
    if len(matches) != 1:
        raise UnknownCertificate(
            _("no certificate with serial or fingerprint {value}", value=str(serial_or_fingerprint))
        )
    return matches[0]


def revoke(
    folder: Path,
    serial_or_fingerprint: int | str,
    reason: str = "unspecified",
    *,
    passphrase: bytes | None = None,
) -> CertInfo:
    """Mark a certificate revoked and rewrite ``crl.pem``, signed by the CA.

    ``reason`` is kept as written in the index; when it names an RFC 5280 reason (``keyCompromise``,
    ``superseded``, ``cessationOfOperation``, ...) the CRL entry carries it as its reason code.
    """
    folder = Path(folder)
    target = find_certificate(folder, serial_or_fingerprint)
    if target.status == "revoked":
        return target
    if target.role == "ca":
        raise CertificateRefused(_("the CA cannot revoke itself; run init with force to replace it"))
    ca_key, ca_cert = _load_ca(folder, passphrase)
    revoked = replace(target, status="revoked", revoked_at=datetime.now(UTC), revocation_reason=reason)
    entries = [revoked if entry.serial == target.serial else entry for entry in _load_index(folder)]
    _write_crl(folder, ca_key, ca_cert, [e for e in entries if e.status == "revoked"])
    _save_index(folder, entries)
    return revoked


def refresh_crl(folder: Path, *, days: int = CRL_DAYS, passphrase: bytes | None = None) -> CrlStatus:
    """Sign the CA's revocation list anew (same entries, this update now, next update in ``days``).

    Run it before the list's next update (``huiju certs crl``, e.g. daily from cron): a list past
    its next update is refused by every check, so that nothing is trusted on stale information.
    The sandbox and the workers read the new list at their next check, without a restart.
    """
    folder = Path(folder)
    if not 1 <= days <= 366:
        raise CertificateRefused(_("a revocation list is valid for 1 to 366 days, not {days}", days=days))
    ca_key, ca_cert = _load_ca(folder, passphrase)
    entries = _load_index(folder)
    revocation = revocation_list(
        ca_key, ca_cert,
        [(e.serial, e.revoked_at or datetime.now(UTC), e.revocation_reason) for e in entries if e.status == "revoked"],
        days=days,
    )  # fmt: skip
    _write_public(folder / CRL, revocation.public_bytes(serialization.Encoding.PEM))
    return crl_status(folder)[0]


@dataclass(frozen=True)
class CrlStatus:
    """One revocation list the trust store reads: whose, how fresh, how many entries."""

    file: str
    issuer: str
    this_update: datetime
    next_update: datetime | None
    revoked: int

    def stale(self, now: datetime | None = None) -> bool:
        return self.next_update is not None and self.next_update < (now or datetime.now(UTC))


def crl_status(folder: Path) -> list[CrlStatus]:
    """The CA's list first, then the partner CAs' (``crls/``)."""
    folder = Path(folder)
    files = [folder / CRL] if (folder / CRL).exists() else []
    files += sorted((folder / CRLS).glob("*.pem")) if (folder / CRLS).is_dir() else []
    found = []
    for path in files:
        try:
            crl = x509.load_pem_x509_crl(path.read_bytes())
        except ValueError as exc:
            raise CertificateStoreError(
                _("the revocation list {file} is damaged: {error}", file=str(path), error=str(exc))
            ) from exc
        found.append(CrlStatus(str(path.relative_to(folder)), crl.issuer.rfc4514_string(), crl.last_update_utc,
                               crl.next_update_utc, len(list(crl))))  # fmt: skip
    return found


def active_certificate(folder: Path, member: str, role: Role) -> CertInfo:
    """The member's current certificate in that role."""
    for entry in reversed(_load_index(Path(folder))):
        if entry.member == member and entry.role == role and entry.status == "active":
            return entry
    raise UnknownCertificate(_("no active {role} certificate for {member}", role=role, member=member))


def load_signing_identity(folder: Path, member: str, *, passphrase: bytes | None = None) -> SigningIdentity:
    """The member's active signing key and chain. Load it once per process and keep it."""
    folder = Path(folder)
    info = active_certificate(folder, member, "signing")
    key = _read_key(folder / info.key_file, passphrase)
    cert_pem = (folder / info.cert_file).read_text()
    ca_pem = (folder / CA_CERT).read_text()
    return SigningIdentity(
        member=member,
        info=info,
        key=key,
        certificate=x509.load_pem_x509_certificate(cert_pem.encode()),
        chain_pem=(cert_pem, ca_pem),
    )


def load_private_key(folder: Path, info: CertInfo, *, passphrase: bytes | None = None) -> PrivateKey:
    """The private key of an index entry (TLS keys for mTLS, or a superseded signing key)."""
    return _read_key(Path(folder) / info.key_file, passphrase)


# --- helpers -------------------------------------------------------------------------------------


def _check_member(member: str) -> None:
    if member == CA_MEMBER or not _MEMBER_NAME.match(member):
        raise CertificateStoreError(
            _("invalid member name {member}: use lowercase letters, digits and hyphens", member=member)
        )


def _info(
    cert: x509.Certificate, member: str, role: Role, key_type: KeyType, cert_file: str, key_file: str
) -> CertInfo:
    return CertInfo(
        member=member,
        role=role,
        serial=cert.serial_number,
        subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint=fingerprint(cert),
        status="active",
        key_type=key_type,
        cert_file=cert_file,
        key_file=key_file,
    )


def _write_key(path: Path, key: PrivateKey, passphrase: bytes | None) -> None:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    # O_EXCL: never write a key through an existing file (or a symlink planted in the folder).
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _read_key(path: Path, passphrase: bytes | None) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except FileNotFoundError as exc:
        raise CertificateStoreError(_("private key file {file} is missing", file=str(path))) from exc
    except (TypeError, ValueError) as exc:
        raise CertificateStoreError(
            _("cannot read private key {file}: wrong or missing passphrase ({error})", file=str(path), error=str(exc))
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertificateStoreError(_("private key {file} is neither EC nor RSA", file=str(path)))
    return key


def _write_public(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    temporary.chmod(0o644)
    os.replace(temporary, path)


def _load_ca(folder: Path, passphrase: bytes | None) -> tuple[PrivateKey, x509.Certificate]:
    if not (folder / CA_CERT).exists():
        raise CertificateStoreError(_("no CA in {folder}; run huiju certs init first", folder=str(folder)))
    cert = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
    return _read_key(folder / CA_KEY, passphrase), cert


def _load_index(folder: Path) -> list[CertInfo]:
    try:
        data = json.loads((folder / INDEX).read_text())
        return [CertInfo.from_json(entry) for entry in data["certificates"]]
    except FileNotFoundError as exc:
        raise CertificateStoreError(
            _("no certificate index in {folder}; run huiju certs init", folder=str(folder))
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise CertificateStoreError(
            _("the certificate index in {folder} is damaged: {error}", folder=str(folder), error=str(exc))
        ) from exc


def _save_index(folder: Path, entries: list[CertInfo]) -> None:
    body = json.dumps({"version": 1, "certificates": [entry.to_json() for entry in entries]}, indent=2)
    _write_public(folder / INDEX, (body + "\n").encode())


def _write_crl(folder: Path, ca_key: PrivateKey, ca_cert: x509.Certificate, revoked: list[CertInfo]) -> None:
    entries = [(e.serial, e.revoked_at or datetime.now(UTC), e.revocation_reason) for e in revoked]
    crl = revocation_list(ca_key, ca_cert, entries, days=CRL_DAYS)
    _write_public(folder / CRL, crl.public_bytes(serialization.Encoding.PEM))


def _clear(folder: Path) -> None:
    try:
        entries = _load_index(folder)
    except CertificateStoreError:
        entries = []
    names = {CA_KEY, CA_CERT, TRUSTED, CRL, INDEX}
    for entry in entries:
        names.update((entry.cert_file, entry.key_file))
    for name in names:
        (folder / name).unlink(missing_ok=True)
