"""The certificate store (证书管理) for integrators: every certificate with its expiry (warned 30 days
ahead), partners' CAs and certificates uploaded, signing and TLS keys rotated, certificates revoked,
and the revocation lists kept fresh. The files are :mod:`certs`'s; every change is audited here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from certs import partners
from certs.errors import CertificateStoreError
from certs.partners import PartnerEntry
from certs.store import CertInfo, CrlStatus, crl_status, issue_certificate, list_certificates, refresh_crl, revoke
from huiju.db import Database
from huiju.errors import InputError, PermissionDenied
from huiju.i18n import Message, _
from huiju.models import Role
from huiju.services import audit
from huiju.services.actors import Actor

WARN_DAYS = 30
ROTATABLE = ("signing", "tls-server", "tls-client")
MEMBER = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

#: What a certificate is used for, in words.
ROLES: dict[str, Message] = {
    "ca": _("certificate authority"),
    "signing": _("signing"),
    "tls-server": _("TLS server"),
    "tls-client": _("TLS client"),
}
#: Where a certificate of ours stands.
STATES: dict[str, Message] = {
    "active": _("in use"),
    "superseded": _("superseded (still trusted)"),
    "revoked": _("revoked"),
}
#: What a partner's upload is.
PARTNER_KINDS: dict[str, Message] = {"ca": _("CA (trusted)"), "certificate": _("certificate")}
#: Why a certificate is revoked (the RFC 5280 reasons offered; the command line may write another).
REVOCATION_REASONS: dict[str, Message] = {
    "keyCompromise": _("key compromised"),
    "superseded": _("superseded"),
    "cessationOfOperation": _("no longer used"),
    "unspecified": _("other"),
}


def _reader(actor: Actor) -> None:
    if actor.role not in (Role.INTEGRATOR, Role.ADMINISTRATOR):
        raise PermissionDenied(_("only integrators and administrators see the certificates"))


def _integrator(actor: Actor) -> None:
    if actor.role is not Role.INTEGRATOR:
        raise PermissionDenied(_("only integrators change certificates"))


@dataclass(frozen=True)
class Store:
    certificates: list[CertInfo]
    partners: list[PartnerEntry]
    crls: list[CrlStatus]
    now: datetime
    #: False when this installation has no certificate store yet (``huiju certs init`` makes one).
    initialised: bool = True

    def expiring(self, info: CertInfo | PartnerEntry) -> bool:
        """Due to expire within 30 days (or expired), and still in use."""
        if isinstance(info, CertInfo) and info.status != "active":
            return False
        return info.not_after <= self.now + timedelta(days=WARN_DAYS)

    @property
    def warnings(self) -> int:
        found = sum(1 for c in self.certificates if self.expiring(c)) + sum(
            1 for p in self.partners if self.expiring(p)
        )
        return found + sum(
            1 for c in self.crls if c.next_update is not None and c.next_update <= self.now + timedelta(days=3)
        )


def store(folder: Path, actor: Actor) -> Store:
    _reader(actor)
    try:
        ours = list_certificates(folder)
    except CertificateStoreError:  # no store yet: the page says how to make one
        return Store([], partners.list_partners(folder), [], datetime.now(UTC), initialised=False)
    return Store(ours, partners.list_partners(folder), crl_status(folder), datetime.now(UTC))


def upload(db: Database, folder: Path, actor: Actor, kind: str, data: bytes, member: str | None) -> PartnerEntry:
    """A partner's CA (then trusted) or member certificate (kept; a trusted CA must have issued it)."""
    _integrator(actor)
    if kind == "ca":
        if not member:
            raise InputError(_("name the partner whose CA this is"))
        entry = partners.add_partner_ca(folder, data, member=member, added_by=actor.username)
    elif kind == "certificate":
        entry = partners.add_partner_certificate(folder, data, member=member or None, added_by=actor.username)
    else:
        raise InputError(_("upload a CA or a certificate, not {kind}", kind=repr(kind)))
    with db.transaction() as session:
        audit.record(session, actor, "certificate.upload", target_kind="certificate", target=entry.fingerprint[:32],
                     after={"kind": kind, "member": entry.member, "subject": entry.subject,
                            "not_after": entry.not_after.isoformat()})  # fmt: skip
    return entry


def rotate(
    db: Database, folder: Path, actor: Actor, member: str, role: str, *, days: int = 365,
    passphrase: bytes | None = None,
) -> CertInfo:  # fmt: skip
    """A new key and certificate for ``member`` in ``role``; the old one is superseded (still trusted)."""
    _integrator(actor)
    if not MEMBER.match(member or ""):
        raise InputError(_("a member name is lowercase letters, digits and hyphens, not {name}", name=repr(member)))
    if role not in ROTATABLE:
        raise InputError(_("a certificate role is signing, tls-server or tls-client, not {role}", role=repr(role)))
    info = issue_certificate(folder, member, role, days=days, passphrase=passphrase)  # type: ignore[arg-type]
    with db.transaction() as session:
        audit.record(session, actor, "certificate.rotate", target_kind="certificate", target=info.serial_hex,
                     after={"member": member, "role": role, "not_after": info.not_after.isoformat()})  # fmt: skip
    return info


def revoke_certificate(
    db: Database, folder: Path, actor: Actor, serial: str, reason: str, *, passphrase: bytes | None = None
) -> CertInfo:
    _integrator(actor)
    if not serial.strip():
        raise InputError(_("give the serial or the fingerprint of the certificate to revoke"))
    info = revoke(folder, serial.strip(), reason or "unspecified", passphrase=passphrase)
    with db.transaction() as session:
        audit.record(session, actor, "certificate.revoke", target_kind="certificate", target=info.serial_hex,
                     after={"member": info.member, "role": info.role, "reason": info.revocation_reason})  # fmt: skip
    return info


def refresh(
    db: Database, folder: Path, actor: Actor, *, days: int = 30, passphrase: bytes | None = None,
    partner_crl: bytes | None = None,
) -> str:  # fmt: skip
    """Sign our CA's revocation list anew, or import a partner CA's; returns the file written."""
    _integrator(actor)
    if partner_crl is not None:
        written = partners.import_crl(folder, partner_crl)
    else:
        written = refresh_crl(folder, days=days, passphrase=passphrase).file
    with db.transaction() as session:
        audit.record(session, actor, "certificate.crl", target_kind="crl", target=written,
                     after={"partner": partner_crl is not None, "days": None if partner_crl else days})  # fmt: skip
    return written
