"""Written documents of a case (文书): issued on the decisions that call for one, numbered, dated,
signed by the issuing office's certificate as a PAdES signature, kept, and sent by SMS as a link.

===========================  ==============================================  ======================
document                     when                                            issued by
===========================  ==============================================  ======================
受理通知书                   intake decided ``accept``                       the community
不予受理通知书               intake decided ``refuse`` (with the reason)     the community
补正材料通知书               intake decided ``supplement`` (the whole list)  the community
准予 … 决定书                the case concluded ``approved``                 the responsible office
不予 … 决定书                the case concluded ``denied`` (the reason)      the responsible office
===========================  ==============================================  ======================

The Administrative Licensing Law (行政许可法) arts. 32 and 38: written notices of acceptance, of
non-acceptance and of everything to supplement at once; a refusal gives its reasons and the
remedies — administrative reconsideration (行政复议) within 60 days of receipt (行政复议法 art. 20),
administrative litigation (行政诉讼) within six months (行政诉讼法 art. 46) — and names the bodies.

Each office signs with its own document-signing certificate from the project's PKI (:mod:`certs`,
role ``document``, issued the first time the office signs), so that a PDF reader shows who signed.
Documents are issued in the step's transaction by a listener of the engine: a decision and its
document — number, date, what it says — commit together (the listener runs before the case's own, so
that the documents' lines join the step's timeline). The PDF is made and signed just after, by the
worker (:func:`make`), or by the first reader who opens it before the worker has: rendering and
signing never hold the decision's transaction, nor the officer who made it, waiting. Without a PKI
(a plain development set-up) a document is issued unsigned and says so.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, inspect, select, update
from sqlalchemy.orm import Session, joinedload

from exchange.models import MessageStatus, OutboxMessage
from huiju import durations
from huiju.calendar import CHINA
from huiju.db import Database, count_up, insert_row, utcnow
from huiju.errors import InputError, NotFoundError
from huiju.i18n import _
from huiju.labels import label
from huiju.models import (
    Case,
    Document,
    DocumentNumberCounter,
    ItemKind,
    Org,
    OrgLevel,
    ResponsibleLevel,
)
from huiju.services.actors import Actor
from huiju.services.cases import FOLLOW_UP, get_case
from huiju.services.document_pdf import Layout, render
from workflows_bpmn.mirror import StepResult, TimelineEntry
from workflows_bpmn.step import after_commit

log = logging.getLogger(__name__)

#: The character of each kind in the document number (文号): 〔2026〕受字第00001号.
NUMBER_MARK = {
    "acceptance_notice": "受",
    "refusal_notice": "不受",
    "supplement_notice": "补",
    "approval_decision": "准",
    "denial_decision": "不准",
}
SUBSIDY_DATASET = "elderly_care_subsidy"
ISSUER_MEMBER_PREFIX = "office-"


# -- signing ------------------------------------------------------------------------------------------


class OfficeSigner:
    """Each office's document-signing key, from the certificate folder; loaded once per process.

    An office without a certificate yet gets one from the CA the first time it signs.
    """

    def __init__(self, folder: Path, passphrase: bytes | None = None) -> None:
        self.folder = folder
        self.passphrase = passphrase
        self._signers: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return (self.folder / "ca.cert.pem").exists() and (self.folder / "ca.key.pem").exists()

    def _signer(self, office: Org) -> Any:
        from certs.errors import UnknownCertificate
        from certs.store import active_certificate, issue_certificate

        member = f"{ISSUER_MEMBER_PREFIX}{office.code}"
        with self._lock:
            if member in self._signers:
                return self._signers[member]
            try:
                info = active_certificate(self.folder, member, "document")
            except UnknownCertificate:
                info = issue_certificate(self.folder, member, "document", days=3 * 365,
                                         passphrase=self.passphrase, common_name=office.name)  # fmt: skip
            from pyhanko.sign import signers

            signer = signers.SimpleSigner.load(
                str(self.folder / info.key_file), str(self.folder / info.cert_file),
                ca_chain_files=(str(self.folder / "ca.cert.pem"),), key_passphrase=self.passphrase,
            )  # fmt: skip
            if signer is None:
                raise NotFoundError(_("the document-signing key of {office} cannot be read", office=office.name))
            self._signers[member] = signer
            return signer

    def sign(self, office: Org, pdf: bytes, reason: str) -> tuple[bytes, str]:
        """The PDF signed by the office (PAdES baseline B), and the signer's name; unsigned if no PKI."""
        if not self.available:
            return pdf, ""
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers

        signer = self._signer(office)
        meta = signers.PdfSignatureMetadata(
            field_name="Signature1", reason=reason, location=office.name, name=office.name,
            subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
        )  # fmt: skip

        def signed() -> bytes:
            return bytes(signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), meta, signer=signer).getvalue())

        # pyHanko's sign_pdf runs its own event loop (asyncio.run), which cannot start inside a running
        # one: a caller already in an event loop on this thread gets the signing done in a thread.
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return signed(), office.name
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(signed).result(), office.name


# -- what each document says ---------------------------------------------------------------------------


def _day(moment: Any) -> str:
    day = moment.astimezone(CHINA).date() if hasattr(moment, "astimezone") else moment
    return f"{day.year}年{day.month}月{day.day}日"


def _district(office: Org) -> Org | None:
    org: Org | None = office
    while org is not None and org.level is not OrgLevel.DISTRICT:
        org = org.parent
    return org


def _remedies(office: Org) -> str:
    district = _district(office)
    government = f"{district.name}人民政府" if district else "上一级人民政府"
    court = f"{district.name}人民法院" if district else "有管辖权的人民法院"
    return (
        f"如不服本决定，可以自收到本文书之日起六十日内向{government}申请行政复议，"
        f"或者自收到本文书之日起六个月内依法向{court}提起行政诉讼。"
    )


def _footer(office: Org) -> list[str]:
    lines = []
    if office.address:
        lines.append(f"地址：{office.address}")
    if office.service_phone:
        lines.append(f"咨询电话：{office.service_phone}")
    lines.append("本文书由汇聚平台生成并加盖电子签章，可用 huiju documents verify 或任一 PDF 阅读器核验。")
    return lines


def decision_office(case: Case) -> Org:
    """Who decides the case: its community, or the street or district above it (the item says)."""
    office: Org = case.community
    levels = {ResponsibleLevel.STREET: OrgLevel.STREET, ResponsibleLevel.DISTRICT: OrgLevel.DISTRICT}
    wanted = levels.get(case.item.responsible_level)
    while wanted is not None and office.level is not wanted and office.parent is not None:
        office = office.parent
    return office


@dataclass(frozen=True)
class Grant:
    """What an approved elderly-care subsidy grants (from the record shared with the data exchange)."""

    tier: str
    monthly_amount: str
    from_day: date | None


def subsidy_grant(session: Session, case: Case) -> Grant | None:
    record = session.scalars(
        select(OutboxMessage.params).where(
            OutboxMessage.case_number == case.number, OutboxMessage.operation == "data_exchange.publish_record"
        ).order_by(OutboxMessage.id.desc())
    ).first()  # fmt: skip
    if not isinstance(record, dict) or record.get("dataset") != SUBSIDY_DATASET:
        return None
    fields = record.get("record") or {}
    granted = str(fields.get("granted_on") or "")
    try:
        from_day = date.fromisoformat(granted) if granted else None
    except ValueError:
        from_day = None
    return Grant(str(fields.get("tier") or ""), str(fields.get("monthly_amount") or ""), from_day)


def _layout(case: Case, document: Document, office: Org) -> Layout:
    """What the document says, from the case and the facts kept when it was issued (dated that day)."""
    kind, number, facts, issued = document.kind, document.number, document.facts or {}, document.issued_at
    item = case.item.name
    applicant = case.applicant.name
    submitted = _day(case.submitted_at)
    opening = f"你于{submitted}提出的{item}申请（办件编号：{case.number}）"
    opinion = str(facts.get("opinion") or "").strip()
    title = label("document", kind, "zh_CN")
    items: list[str] = []
    closing: list[str] = []
    if kind == "acceptance_notice":
        due = _date(facts.get("due"))
        paragraphs = [
            f"{opening}，申请材料齐全、符合法定形式。根据《中华人民共和国行政许可法》第三十二条的规定，本机关决定予以受理。",
            "本机关将在法定期限内作出决定" + (f"（{_day(due)}前）" if due else "") + "，并以短信告知你办理结果。",
        ]
    elif kind == "refusal_notice":
        paragraphs = [
            f"{opening}，经审查，{facts.get('reason') or opinion}。根据《中华人民共和国行政许可法》第三十二条的规定，"
            "本机关决定不予受理。",
            _remedies(office),
        ]
    elif kind == "supplement_notice":
        wait = int(facts.get("wait_days") or 30)
        deadline = (issued + timedelta(days=wait)).astimezone(CHINA).date()
        paragraphs = [
            f"{opening}，申请材料不齐全或者不符合法定形式。根据《中华人民共和国行政许可法》第三十二条第一款第（四）项的规定，现一次告知你需要补正的全部内容："
        ]
        items = [str(m) for m in facts.get("missing") or []]
        closing = [
            f"请于{_day(deadline)}前通过汇聚居民门户或到社区服务站一次性补正上述材料。补正期间不计入办理时限；逾期未补正的，视为放弃本次申请。"
        ]
        if opinion:
            closing.append(f"经办人意见：{opinion}")
    elif kind == "approval_decision":
        title = f"准予{item}决定书"
        paragraphs = [f"{opening}，经审查，符合规定条件。本机关决定准予。"]
        grant = facts.get("grant")
        if isinstance(grant, dict) and grant.get("tier"):
            tier = label("tier", str(grant["tier"]), "zh_CN")
            from_day = _date(grant.get("from_day"))
            start = f"，自{_day(from_day)}起按月发放" if from_day else ""
            paragraphs.append(f"补贴等级：{tier}；每月补贴金额：{grant.get('monthly_amount') or ''}元{start}。")
    else:  # denial_decision
        title = f"不予{item}决定书"
        paragraphs = [
            f"{opening}，经审查，{facts.get('reason') or opinion or '不符合规定条件'}。"
            "根据《中华人民共和国行政许可法》第三十八条第二款的规定，本机关决定不予准予。",
            _remedies(office),
        ]
    return Layout(
        issuer=office.name, title=title, number=number, addressee=f"{applicant}：", paragraphs=paragraphs,
        items=items, closing=closing, date=_day(issued), footer=_footer(office),
        subject=f"{item} {case.number}",
    )  # fmt: skip


def next_number(session: Session, office: Org, kind: str) -> str:
    """The next number (文号) of an office's kind of document this year, in the caller's transaction."""
    year = utcnow().astimezone(CHINA).year
    prefix = f"{office.name}〔{year}〕{NUMBER_MARK[kind]}字第"
    return f"{prefix}{count_up(session, cast(Table, DocumentNumberCounter.__table__), prefix):05d}号"


def issue(session: Session, signer: OfficeSigner, case: Case, kind: str, facts: dict[str, Any]) -> Document:
    """Issue one document of the case in the caller's transaction: its number, date, issuer and what it
    says. Its PDF is made by :func:`make` once that transaction has committed."""
    if kind not in NUMBER_MARK:
        raise InputError(_("unknown kind of document '{kind}'", kind=kind))
    office = case.community if kind.endswith("_notice") else decision_office(case)
    if kind == "acceptance_notice" and case.statutory_due is not None:
        facts = {**facts, "due": case.statutory_due.isoformat()}
    document = Document(
        case_id=case.id, kind=kind, number=next_number(session, office, kind), issuer_id=office.id,
        facts=facts, content=None, sha256=None, size=0, signed_by=office.name if signer.available else "",
    )  # fmt: skip
    return insert_row(session, document)


def make(db: Database, signer: OfficeSigner, document_id: int) -> bytes | None:
    """The document's PDF: made from what it says and signed by its office, if it was not yet; None
    if there is no such document.

    Made outside any write transaction (rendering and signing take a while); kept by one conditional
    update, so that when two make it at once (the worker and a reader who could not wait) the first
    one kept is the one everybody gets.
    """
    with db.sessions() as session:
        document = session.get(Document, document_id)
        if document is None or document.content is not None:
            return document.content if document is not None else None
        case = _case_for_documents(session, document.case_id)
        office = session.get(Org, document.issuer_id)
        if case is None or office is None:
            return None
        layout = _layout(case, document, office)
        pdf, signed_by = signer.sign(office, render(layout), reason=f"{layout.title} {document.number}")
    with db.transaction() as session:
        session.execute(
            update(Document).where(Document.id == document_id, Document.content.is_(None))
            .values(content=pdf, sha256=hashlib.sha256(pdf).hexdigest(), size=len(pdf), signed_by=signed_by,
                    made_at=utcnow())
        )  # fmt: skip
        kept = session.scalar(select(Document.content).where(Document.id == document_id))
    log.info("document %s made (%s bytes)", document_id, len(kept or b""))
    return kept


def unmade(db: Database) -> list[int]:
    """The documents whose PDF is still to be made, oldest first."""
    with db.sessions() as session:
        return list(session.scalars(select(Document.id).where(Document.content.is_(None)).order_by(Document.id)))


def pdf_of(db: Database, signer: OfficeSigner, document: Document) -> bytes:
    """The PDF of a document a reader asked for: as kept, or made now if the worker has not yet."""
    content = document.content if document.content is not None else make(db, signer, document.id)
    if content is None:
        raise NotFoundError(_("document {number} cannot be found", number=document.number))
    return content


def issued_entry(document: Document) -> TimelineEntry:
    """The case timeline's line for an issued document."""
    return TimelineEntry("document_issued", "system", detail=document.number,
                         data={"document_id": document.id, "document_kind": document.kind})  # fmt: skip


# -- when: a listener of the engine's steps -------------------------------------------------------------


#: The process's SMS that tells the applicant a decision, and the document that decision calls for.
ANNOUNCED_BY = {
    "CASE_REFUSED": "refusal_notice",
    "SUPPLEMENT_REQUESTED": "supplement_notice",
    "CASE_DENIED": "denial_decision",
    "SUBSIDY_DENIED": "denial_decision",
    "CASE_APPROVED": "approval_decision",
    "SUBSIDY_APPROVED": "approval_decision",
}
#: The decision behind each document announced by SMS.
DECIDED_BY = {"refusal_notice": "refuse", "supplement_notice": "supplement", "denial_decision": "deny"}

Wanted = tuple[str, dict[str, Any], OutboxMessage | None]


def _wanted(result: StepResult, case_of: Callable[[], Case | None]) -> tuple[Case | None, list[Wanted]]:
    """The documents a step calls for, what they must say, and the SMS that will carry the link; with
    the case, read (``case_of``) only when the step calls for any — most steps do not.

    A decision the process announces to the applicant by SMS (不予受理, 补正, the final decision) gets
    its document in the same step, and that SMS carries its link; an acceptance gets its notice
    without a text of its own (the resident had the 受理回执 on submitting).
    """
    decided = {
        str(e.data["form"].get("decision")): e.data["form"]
        for e in result.timeline
        if e.kind == "task_completed" and isinstance(e.data.get("form"), dict)
    }
    announced = [
        (kind, message)
        for message in result.messages
        if message.operation == "sms.send_sms" and (kind := ANNOUNCED_BY.get(str(message.params.get("template") or "")))
    ]
    if "accept" not in decided and not announced:
        return None, []
    case = case_of()
    if case is None or case.item.kind is ItemKind.SERVICE_REQUEST:
        return case, []
    wanted: list[Wanted] = []
    if "accept" in decided:  # no SMS of the process announces it: the notice gets one of its own
        wanted.append(("acceptance_notice", {"opinion": str(decided["accept"].get("comment") or "")}, None))
    for kind, message in announced:
        params = message.params.get("params") or {}
        form = decided.get(DECIDED_BY.get(kind, ""), {})
        facts: dict[str, Any] = {"opinion": str(form.get("comment") or ""), "reason": params.get("reason")}
        if kind == "supplement_notice":
            listed = str(params.get("missing_materials") or "").split("、")
            facts["missing"] = form.get("missing_materials") or listed
            facts["wait_days"] = durations.days_spanned(case.item.supplement_wait) or 30
        if kind == "approval_decision" and params.get("tier"):
            today = utcnow().astimezone(CHINA).date()
            facts["grant"] = {"tier": str(params["tier"]), "monthly_amount": str(params.get("amount") or ""),
                              "from_day": today.isoformat()}  # fmt: skip
        wanted.append((kind, facts, message))
    return case, wanted


#: The case's item, applicant, community and the street above it: what its documents say of it. A
#: service that reads a case before a step that may issue documents loads it with these (deciding a
#: task does), and the documents then read nothing.
CASE_PARTIES = (
    joinedload(Case.item),
    joinedload(Case.applicant),
    joinedload(Case.community).joinedload(Org.parent),
)
_CASE_WITH_PARTIES = select(Case).where(Case.id == bindparam("case_id")).options(*CASE_PARTIES)


def _case_for_documents(session: Session, case_id: int) -> Case | None:
    """The case with its parties (:data:`CASE_PARTIES`): as the session holds them when the step's
    caller read them all, else read in one statement."""
    held = session.identity_map.get(session.identity_key(Case, case_id))
    if isinstance(held, Case) and _holds_parties(held):
        return held
    return session.scalars(_CASE_WITH_PARTIES, {"case_id": case_id}).first()


def _holds_parties(case: Case) -> bool:
    unloaded = inspect(case).unloaded
    return not ({"item", "applicant", "community"} & unloaded) and "parent" not in inspect(case.community).unloaded


def _date(value: Any) -> date | None:
    """A day kept in a document's facts (ISO text), or None."""
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _add_link(message: OutboxMessage, link: str) -> None:
    """The decision's SMS, written by this step and not sent yet, carries the document's link (and
    the subsidy's tier in words: no code reaches an SMS)."""
    params = dict(message.params)
    slots = {**(params.get("params") or {}), "link": link}
    if slots.get("tier"):
        slots["tier"] = label("tier", str(slots["tier"]), "zh_CN")
    params["params"] = slots
    message.params = params


Listener = Callable[[Session, StepResult], None]


def listener(signer: OfficeSigner, portal_url: str, make_later: Callable[[list[int]], None] | None = None) -> Listener:
    """The engine listener that issues a step's documents (registered at start-up); ``make_later``
    is handed their ids once the step has committed (the worker makes their PDFs)."""

    def on_step(session: Session, result: StepResult) -> None:
        context = result.instance.context
        case_id = context.get("case_id")
        if case_id is None or context.get(FOLLOW_UP):
            return
        case, wanted = _wanted(result, lambda: _case_for_documents(session, case_id))
        if case is None:
            return
        for kind, facts, sms in wanted:
            document = issue(session, signer, case, kind, facts)
            # On the step's own timeline: written with the step's entries, in one statement.
            result.timeline.append(issued_entry(document))
            if make_later is not None:
                after_commit(session, partial(_hand_over, make_later, [document.id]))
            link = f"{portal_url.rstrip('/')}/cases/{case.number}/documents/{document.id}"
            if sms is not None:
                _add_link(sms, link)
            elif kind == "acceptance_notice":
                notice_sms(session, result, case, ACCEPTED_TEMPLATE, {"link": link})

    return on_step


def _hand_over(make_later: Callable[[list[int]], None], document_ids: list[int]) -> None:
    try:
        make_later(document_ids)
    except Exception:  # the worker's round makes them later (or a reader, on opening one)
        log.warning("documents %s could not be handed to the worker now", document_ids, exc_info=True)


#: The SMS that carries the 受理通知书's link (the SMS platform's registered template).
ACCEPTED_TEMPLATE = "CASE_ACCEPTED"


def _phone_of(session: Session, result: StepResult, case: Case) -> str:
    """Where the case's texts go: the phone the process sends them to (its ``applicant.phone``, chosen
    on submitting), read from the task the step finished last; else the phone its first SMS went to."""
    last = result.workflow.last_task if result.workflow is not None else None
    applicant = last.data.get("applicant") if last is not None else None
    if isinstance(applicant, dict) and applicant.get("phone"):
        return str(applicant["phone"])
    sent = session.scalars(
        select(OutboxMessage.params).where(
            OutboxMessage.case_number == case.number, OutboxMessage.operation == "sms.send_sms"
        ).order_by(OutboxMessage.id)
    ).first()  # fmt: skip
    phone = sent.get("phone") if isinstance(sent, dict) else None
    return str(phone or case.form_data.get("contact_phone") or case.applicant.phone or "")


def notice_sms(session: Session, result: StepResult, case: Case, template: str, slots: dict[str, str]) -> None:
    """An SMS of a document that no SMS of the process announces, written in the step's transaction and
    handed to the worker with the step's own calls. Nothing in the process waits for it: it is settled
    from the start, and its delivery is only logged (a failed notice never holds the case up)."""
    import uuid

    from adapters import registry as adapter_registry

    phone = _phone_of(session, result, case)
    if not phone:
        return
    params = {"phone": phone, "template": template,
              "params": {"case_number": case.number, "item": case.item.name, **slots}}  # fmt: skip
    adapter_registry.validate_params("sms.send_sms", params)
    now = utcnow()
    message = OutboxMessage(
        message_id=str(uuid.uuid4()), operation="sms.send_sms", system="sms", params=params, user_id=result.actor,
        # Not one of the process's calls (no step waits for it: no process_instance_id, which the engine
        # reads as "a step's call"); its instance only serialises the worker's settling of it.
        case_number=case.number, process_instance_id=None,
        reply_to={"instance_id": result.instance.id, "notice": template}, status=MessageStatus.PENDING,
        next_attempt_at=now, dispatched_at=now, settled_at=now,
    )  # fmt: skip
    insert_row(session, message)  # one prepared INSERT, not a flush of the unit of work
    result.messages.append(message)
    result.timeline.append(TimelineEntry("service_requested", "system", system="sms", detail="sms.send_sms",
                                         data={"message_id": message.message_id}))  # fmt: skip


# -- reading ----------------------------------------------------------------------------------------------


def documents_of(session: Session, case: Case) -> list[Document]:
    return list(session.scalars(select(Document).where(Document.case_id == case.id).order_by(Document.id)))


def get_document(session: Session, actor: Actor, number: str, document_id: int) -> Document:
    """A document of a case the actor may see (else not found)."""
    case = get_case(session, actor, number)
    document = session.scalars(
        select(Document).where(Document.id == document_id, Document.case_id == case.id)
    ).one_or_none()
    if document is None:
        raise NotFoundError(_("case {number} has no such document", number=number))
    return document


def file_name(document: Document) -> str:
    return f"{document.case.number}-{label('document', document.kind, 'zh_CN')}.pdf"
