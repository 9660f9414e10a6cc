"""The certificate store (证书管理) for integrators: expiry warnings (30 days), partners' CAs and
certificates uploaded, keys rotated, certificates revoked, revocation lists refreshed or imported.
Each request calls one function of :mod:`huiju.services.certificates`."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l

from certs.store import passphrase_of
from huiju.errors import InputError
from huiju.i18n import localized
from huiju.services import certificates
from huiju.web.runtime import runtime
from officer_console.security import current_actor, locale, requires

MAX_UPLOAD = 640 * 1024


def _folder() -> Any:
    return runtime().settings.resolved_certs_folder


def _file(name: str) -> bytes:
    file = request.files.get(name)
    if file is None or not file.filename:
        raise InputError(str(_l("choose the file to upload")))  # words of the console's catalogue
    return file.stream.read(MAX_UPLOAD + 1)


class CertificatesView(BaseView):  # type: ignore[misc]
    route_base = "/certificates"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        found = certificates.store(_folder(), current_actor())
        here = locale()
        return self.render_template(
            "console/admin/certificates.html", store=found, locale=here, warn_days=certificates.WARN_DAYS,
            roles=localized(certificates.ROLES, here), states=localized(certificates.STATES, here),
            partner_kinds=localized(certificates.PARTNER_KINDS, here),
            reasons=localized(certificates.REVOCATION_REASONS, here),
        )  # fmt: skip

    @expose("/upload", methods=["POST"])
    @requires("can_edit")
    def upload(self) -> Any:
        kind = request.form.get("kind") or ""
        entry = certificates.upload(runtime().db, _folder(), current_actor(), kind, _file("file"),
                                    (request.form.get("member") or "").strip() or None)  # fmt: skip
        flash(str(_l("%(subject)s kept, valid until %(date)s.", subject=entry.subject,
                     date=entry.not_after.strftime("%Y-%m-%d"))), "success")  # fmt: skip
        return redirect(url_for("CertificatesView.index"), 303)

    @expose("/rotate", methods=["POST"])
    @requires("can_edit")
    def rotate(self) -> Any:
        rt = runtime()
        info = certificates.rotate(rt.db, _folder(), current_actor(), (request.form.get("member") or "").strip(),
                                   request.form.get("role") or "", passphrase=passphrase_of(rt.settings))  # fmt: skip
        role = certificates.ROLES[info.role].localize(locale()) if info.role in certificates.ROLES else info.role
        text = _l("New %(role)s certificate of %(member)s: serial %(serial)s. The previous one stays trusted for "
                  "what it signed.", role=role, member=info.member, serial=info.serial_hex)  # fmt: skip
        flash(str(text), "success")
        return redirect(url_for("CertificatesView.index"), 303)

    @expose("/revoke", methods=["POST"])
    @requires("can_edit")
    def revoke(self) -> Any:
        rt = runtime()
        serial, reason = request.form.get("serial") or "", request.form.get("reason") or ""
        key = passphrase_of(rt.settings)
        info = certificates.revoke_certificate(rt.db, _folder(), current_actor(), serial, reason, passphrase=key)
        flash(str(_l("Certificate %(serial)s of %(member)s revoked; the revocation list is rewritten.",
                     serial=info.serial_hex, member=info.member)), "success")  # fmt: skip
        return redirect(url_for("CertificatesView.index"), 303)

    @expose("/crl", methods=["POST"])
    @requires("can_edit")
    def crl(self) -> Any:
        rt = runtime()
        partner = _file("crl") if request.form.get("partner") == "1" else None
        days = request.form.get("days", type=int) or 30
        written = certificates.refresh(rt.db, _folder(), current_actor(), days=days,
                                       passphrase=passphrase_of(rt.settings), partner_crl=partner)  # fmt: skip
        flash(str(_l("Revocation list %(file)s written; the sandbox and the workers read it at their next check.",
                     file=written)), "success")  # fmt: skip
        return redirect(url_for("CertificatesView.index"), 303)
