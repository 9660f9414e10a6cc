"""Written documents of a case (文书): notices and decisions, as signed PDF files.

The Administrative Licensing Law asks for written notices of acceptance and non-acceptance and of
everything to be supplemented at once (art. 32), and for a written decision that, when it refuses,
gives the reasons and the applicant's right to reconsideration or litigation (art. 38). Each
document is numbered by its issuing office (文号), dated, and kept here byte for byte as issued:
the signature covers those bytes, so the stored file is the evidence.

A document is issued with the decision that calls for it (its number, its date and what it says, in
``facts``, commit together with the decision); its PDF is made and signed from those facts just
after, off the decision's transaction (``content`` is empty until then, for a moment).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from huiju.db import Base, UTCDateTime, utcnow
from huiju.models.cases import Case
from huiju.models.orgs import Org


class Document(Base):
    __tablename__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # acceptance_notice, refusal_notice, ... (huiju.labels)
    number: Mapped[str] = mapped_column(String(64), unique=True)  # 文号, e.g. 望京西园社区〔2026〕受字第00001号
    issuer_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What the document says beyond the case's own record (the opinion, the reason, the materials to
    # supplement, the grant...), as decided: its PDF is made from these and the case.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)  # the PDF as made and signed; None until made
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(default=0)
    # The signer as the certificate names it; empty when no document-signing key was available.
    signed_by: Mapped[str] = mapped_column(String(200), default="")
    made_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when its PDF was made and signed

    case: Mapped[Case] = relationship()
    issuer: Mapped[Org] = relationship()


class DocumentNumberCounter(Base):
    """The last number given in a series of document numbers (an office's kind of document in a
    year, e.g. 望京街道〔2026〕准字第): incremented in the transaction that issues a document
    (:func:`huiju.db.count_up`), so that two decisions issued at once never share a number."""

    __tablename__ = "document_number_counter"

    series: Mapped[str] = mapped_column(String(64), primary_key=True)
    last: Mapped[int]
