"""Checking a written document (文书) someone holds: is it ours, signed by a trusted office
certificate, and unaltered? Its PAdES signature is validated against the project's CA and
revocation list (pyHanko); a byte changed anywhere in the signed range, or anything added after the
signature, makes it not genuine.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.calendar import CHINA
from huiju.errors import InputError, NotFoundError
from huiju.i18n import _
from huiju.models import Document

# A signature that does not validate comes back as this module's verdict, in words; pyHanko's own
# record of it (a certificate path it could not build, with its traceback) is only noise beside it.
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)
# pyHanko's libraries touch DSA on import, which cryptography marks deprecated: Huiju signs with
# none, and a person checking a document should not read about it.
warnings.filterwarnings("ignore", message=".*DSA.*", module="pyhanko.*|oscrypto.*|asn1crypto.*|cryptography.*")


@dataclass(frozen=True)
class Verification:
    """What ``huiju documents verify`` tells about a PDF."""

    genuine: bool  # signed by a trusted office certificate, not altered, nothing added after signing
    signer: str = ""
    signed_at: str = ""  # as the signer reported it, Beijing time
    problem: Any = None  # a Message saying why it is not genuine
    number: str = ""  # the document number, when this very file is on record here


def verify(data: bytes, certs_folder: Path, session: Session | None = None) -> Verification:
    """Check the PAdES signature of a PDF against the project's CA and revocation list."""
    if not data.startswith(b"%PDF-"):
        raise InputError(_("the file is not a PDF"))
    from asn1crypto import crl as asn1_crl
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    ca_file = certs_folder / "ca.cert.pem"
    if not ca_file.exists():
        raise NotFoundError(_("there is no certificate authority in {folder} to check against",
                              folder=str(certs_folder)))  # fmt: skip
    roots = []
    for _name, _headers, der in pem.unarmor((certs_folder / "trusted.pem").read_bytes(), multiple=True):
        roots.append(asn1_x509.Certificate.load(der))
    crls = []
    crl_file = certs_folder / "crl.pem"
    if crl_file.exists():
        for _name, _headers, der in pem.unarmor(crl_file.read_bytes(), multiple=True):
            crls.append(asn1_crl.CertificateList.load(der))
    try:
        reader = PdfFileReader(BytesIO(data))
        signatures = reader.embedded_signatures
    except Exception as exc:  # a damaged file: pyHanko's errors are many and say the same
        return Verification(False, problem=_("the PDF cannot be read: {error}", error=str(exc)[:200]))
    if not signatures:
        return Verification(False, problem=_("the PDF carries no signature"))
    context = ValidationContext(trust_roots=roots, crls=crls, allow_fetching=False, revocation_mode="soft-fail")
    try:
        status = validate_pdf_signature(signatures[-1], context)
    except Exception as exc:  # a mangled signature dictionary
        return Verification(False, problem=_("the signature cannot be checked: {error}", error=str(exc)[:200]))
    signer = status.signing_cert.subject.native.get("common_name", "") if status.signing_cert else ""
    when = status.signer_reported_dt.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if status.signer_reported_dt else ""
    number = ""
    if session is not None:
        digest = hashlib.sha256(data).hexdigest()
        number = session.scalar(select(Document.number).where(Document.sha256 == digest)) or ""
    problem = None
    if not status.intact:
        problem = _("the document was changed after it was signed")
    elif not status.valid:
        problem = _("the signature does not match the signer's certificate")
    elif not status.trusted:
        problem = _("the signer's certificate is not one of ours, or is revoked")
    elif status.coverage is not SignatureCoverageLevel.ENTIRE_FILE:
        problem = _("something was added to the document after it was signed")
    return Verification(problem is None, signer, when, problem, number)
