"""A resident's side of a case: drafts (草稿), submitting with materials, applying on someone's
behalf (代办), answering a request for more material (补正), withdrawing (撤回).

Who may see a case is decided by :func:`huiju.services.cases.get_case`; a draft is seen by its
owner only. Every function here works in the caller's transaction: a refusal leaves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju import idnumber
from huiju.db import utcnow
from huiju.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from huiju.i18n import Message, _
from huiju.models import WITHDRAWABLE, Case, CaseEvent, Draft, Item, Material, Resident, Role, User
from huiju.services import materials
from huiju.services.actors import Actor
from huiju.services.cases import Agency, get_case, get_item, submit_case
from huiju.services.tasks import check_form, clock_updates
from workflows_bpmn.mirror import StepResult
from workflows_bpmn.models import HumanTask, HumanTaskStatus
from workflows_bpmn.runner import Engine

#: The material an agent uploads for 代办: the applicant's signed consent form (授权委托书).
CONSENT_FORM = "consent_form"
CONSENT_METHOD = "signed_consent_form"
#: Who may apply on someone's behalf, as the agent says it.
AGENT_RELATIONS = ("child", "spouse", "relative", "community_worker")
SUPPLEMENT_STEP = "supplement"
SUPPLEMENT_PREFIX = "supplement_"
MAX_NOTE = 500


def _user(session: Session, actor: Actor) -> User:
    return session.scalars(select(User).where(User.username == actor.username)).one()


def _resident_only(actor: Actor) -> None:
    if actor.role is not Role.RESIDENT or actor.resident_id is None:
        raise PermissionDenied(_("only residents apply in the portal"))


# -- drafts ------------------------------------------------------------------------------------------


def start_draft(
    session: Session,
    actor: Actor,
    item_code: str,
    *,
    applicant_id_number: str | None = None,
    applicant_name: str | None = None,
    relation: str | None = None,
) -> Draft:
    """A new draft; with an applicant, one on that resident's behalf (代办)."""
    _resident_only(actor)
    item = get_item(session, item_code)
    draft = Draft(owner=_user(session, actor), item=item, form_data={})
    if applicant_id_number:
        number = idnumber.validate(applicant_id_number)
        applicant = session.scalars(select(Resident).where(Resident.id_number == number)).one_or_none()
        # Name and ID number must agree with our records; a wrong pair names no one (nothing leaks).
        if applicant is None or applicant.name != (applicant_name or "").strip():
            raise InputError(_("no resident with this name and ID number is registered in a community here"),
                             field="applicant")  # fmt: skip
        if applicant.id == actor.resident_id:
            raise InputError(_("you are the applicant: apply for yourself instead"), field="applicant")
        if relation not in AGENT_RELATIONS:
            raise InputError(_("say who you are to the applicant"), field="relation")
        draft.applicant = applicant
        draft.agent_relation = relation
    session.add(draft)
    session.flush()
    return draft


def get_draft(session: Session, actor: Actor, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None or draft.owner.username != actor.username:
        raise NotFoundError(_("no draft {draft_id}", draft_id=draft_id))
    return draft


def list_drafts(session: Session, actor: Actor) -> list[Draft]:
    return list(
        session.scalars(
            select(Draft).join(User, Draft.owner_id == User.id)
            .where(User.username == actor.username).order_by(Draft.updated_at.desc())
        )
    )  # fmt: skip


def save_draft(session: Session, actor: Actor, draft_id: int, form: dict[str, Any]) -> Draft:
    """Keep what was filled in so far (checked against the item's form only on submitting)."""
    draft = get_draft(session, actor, draft_id)
    if not isinstance(form, dict):
        raise InputError(_("form data must be a JSON object"))
    known = set(draft.item.form_schema.get("properties", {}))
    draft.form_data = {k: v for k, v in form.items() if k in known}
    draft.updated_at = utcnow()
    return draft


def material_codes(item: Item, *, on_behalf: bool) -> set[str]:
    codes = {str(m["code"]) for m in item.required_materials}
    return codes | {CONSENT_FORM} if on_behalf else codes


def add_draft_material(
    session: Session, uploads: materials.UploadStore, actor: Actor, draft_id: int, upload: materials.Upload
) -> Material:
    draft = get_draft(session, actor, draft_id)
    codes = material_codes(draft.item, on_behalf=draft.applicant_id is not None)
    return materials.store(session, uploads, actor, upload, draft_id=draft.id, allowed_codes=codes)


def remove_draft_material(
    session: Session, uploads: materials.UploadStore, actor: Actor, draft_id: int, material_id: int
) -> None:
    draft = get_draft(session, actor, draft_id)
    material = session.get(Material, material_id)
    if material is None or material.draft_id != draft.id:
        raise NotFoundError(_("no such file"))
    path = uploads.path_of(material.storage_key)
    session.delete(material)
    session.flush()
    path.unlink(missing_ok=True)


def missing_required(session: Session, draft: Draft) -> list[dict[str, Any]]:
    have = {m.code for m in materials.materials_of_draft(session, draft.id)}
    wanted = [m for m in draft.item.required_materials if m.get("required")]
    if draft.applicant_id is not None:
        wanted.append({"code": CONSENT_FORM, "name": "授权委托书", "name_en": "Signed consent form", "required": True})
    return [m for m in wanted if m["code"] not in have]


@dataclass(frozen=True)
class DraftProblems:
    """Everything that stops a draft from being submitted, found at once: each form field that
    fails the item's form (by field name), each required material not uploaded yet (by code), and
    a missing consent statement (代办)."""

    fields: dict[str, Message]
    materials: dict[str, Message]
    consent: Message | None = None

    def __bool__(self) -> bool:
        return bool(self.fields or self.materials or self.consent)


def draft_problems(
    session: Session, draft: Draft, consent_statement: str = "", locale: str | None = None
) -> DraftProblems:
    from huiju import forms

    fields = forms.problems(draft.item.form_schema, draft.form_data)
    missing = {
        str(m["code"]): _("Upload {material}.", material=_material_words(m, locale))
        for m in missing_required(session, draft)
    }
    consent = None
    if draft.applicant_id is not None and not consent_statement.strip():
        consent = _("Say how the applicant agreed to this application.")
    return DraftProblems(fields, missing, consent)


def _material_words(material: dict[str, Any], locale: str | None) -> str:
    if locale == "en" and material.get("name_en"):
        return str(material["name_en"])
    return str(material.get("name") or material.get("code"))


def submit_draft(session: Session, engine: Engine, actor: Actor, draft_id: int, *, consent_statement: str = "") -> Case:
    """Submit a draft: the case is created, its process started, the draft's materials moved to it."""
    draft = get_draft(session, actor, draft_id)
    missing = missing_required(session, draft)
    if missing:
        raise InputError(
            _("materials missing: {names}", names=", ".join(str(m["name"]) for m in missing)),
            missing=[m["code"] for m in missing],
        )
    agency = None
    if draft.applicant is not None:
        statement = consent_statement.strip()
        if not statement:
            raise InputError(_("confirm that the applicant agrees to this application"), field="consent")
        consent_form = next(m for m in materials.materials_of_draft(session, draft.id) if m.code == CONSENT_FORM)
        agency = Agency(
            relation=str(draft.agent_relation),
            consent={
                "method": CONSENT_METHOD, "statement": statement[:MAX_NOTE], "material_id": consent_form.id,
                "recorded_at": utcnow().isoformat(), "by": actor.username,
            },
        )  # fmt: skip
        id_number = draft.applicant.id_number
    else:
        own = session.get(Resident, actor.resident_id)
        if own is None:
            raise PermissionDenied(_("only residents apply in the portal"))
        id_number = own.id_number
    case = submit_case(session, engine, actor, draft.item.code, id_number, dict(draft.form_data), agency=agency)
    for material in materials.materials_of_draft(session, draft.id):
        material.case_id, material.draft_id = case.id, None
    session.flush()
    session.delete(draft)
    session.flush()
    return case


@dataclass(frozen=True)
class Joined:
    """Several problems as one text, each worded in the reader's language."""

    parts: tuple[Message, ...]

    def localize(self, locale: str | None = None) -> str:
        return "；".join(p.localize(locale) for p in self.parts)


def submit_with_materials(
    session: Session,
    engine: Engine,
    uploads: materials.UploadStore,
    actor: Actor,
    item_code: str,
    applicant_id_number: str,
    data: Any,
    files: list[materials.Upload],
    locale: str | None = None,
) -> Case:
    """Submit an application with its materials in one go (the command line, a counter), by the
    portal's rules: every required material of the item, each file checked by its content. The
    applicant and the form are checked first (:func:`submit_case`), then every material problem is
    named at once, each material by its name; any problem rolls the whole transaction back."""
    item = get_item(session, item_code)
    case = submit_case(session, engine, actor, item_code, applicant_id_number, data)
    names = {str(m["code"]): _material_words(m, locale) for m in item.required_materials}
    problems: list[Message] = []
    for upload in files:
        try:
            materials.check_upload(upload, uploads.max_bytes, set(names))
        except InputError as exc:
            shown = names.get(upload.code)
            problems.append(_("{material}: {problem}", material=shown or upload.code, problem=exc.text))
    given = {f.code for f in files}
    lacking = [str(m["code"]) for m in item.required_materials if m.get("required") and m["code"] not in given]
    if lacking:
        problems.insert(0, _("materials missing: {names}", names="、".join(names[c] for c in lacking)))
    if problems:
        raise InputError(_("the application cannot be submitted: {problems}", problems=Joined(tuple(problems))),
                         missing=lacking)  # fmt: skip
    for upload in files:
        materials.store(session, uploads, actor, upload, case_id=case.id, allowed_codes=set(names))
    return case


# -- after submitting ---------------------------------------------------------------------------------


def requested_materials(case: Case) -> list[str]:
    """What the latest request for more material (补正) names, from the case's timeline."""
    for event in reversed(case.events):
        form: Any = (event.data or {}).get("form")
        if event.kind == "task_completed" and isinstance(form, dict) and form.get("decision") == "supplement":
            missing = form.get("missing_materials")
            return [str(m) for m in missing] if isinstance(missing, list) else []
    return []


def ready_task(session: Session, case: Case, step: str | None = None) -> HumanTask | None:
    """The ready task of the case's own process (not of a follow-up), optionally of one step."""
    stmt = select(HumanTask).where(
        HumanTask.case_id == case.id,
        HumanTask.instance_id == case.process_instance_id,
        HumanTask.status == HumanTaskStatus.READY,
    )
    if step is not None:
        stmt = stmt.where(HumanTask.step == step)
    return session.scalars(stmt.order_by(HumanTask.created_at)).first()


@dataclass(frozen=True)
class SupplementFile:
    """One file answering one requested material (its position in the officer's list)."""

    index: int
    upload: materials.Upload


def _waiting_supplement(session: Session, actor: Actor, number: str) -> tuple[Case, HumanTask, list[str]]:
    _resident_only(actor)
    case = get_case(session, actor, number)
    task = ready_task(session, case, SUPPLEMENT_STEP)
    if task is None:
        raise ConflictError(_("case {number} does not wait for material from you", number=number))
    return case, task, requested_materials(case)


def _next_round(session: Session, case: Case) -> int:
    done_rounds = session.scalars(select(Material.round).where(Material.case_id == case.id)).all()
    return max(done_rounds, default=0) + 1


def keep_supplement_files(
    session: Session, uploads: materials.UploadStore, actor: Actor, number: str, files: list[SupplementFile]
) -> dict[int, InputError]:
    """Check each file on its own and keep the good ones as the resident's pending uploads for this
    补正 (a newer file for a material replaces the one kept before); the refused ones, by position.

    Nothing is sent to the officer here: a failed attempt loses none of the good files, and every bad
    file is named at once.
    """
    case, _task, requested = _waiting_supplement(session, actor, number)
    kept = {m.code: m for m in materials.pending_of_case(session, case.id, actor.username)}
    refused: dict[int, InputError] = {}
    round_ = _next_round(session, case)
    for file in sorted(files, key=lambda f: f.index):
        if not 0 <= file.index < len(requested):
            refused[file.index] = InputError(_("no requested material number {n}", n=file.index + 1))
            continue
        code = f"{SUPPLEMENT_PREFIX}{file.index + 1}"
        try:
            materials.check_upload(file.upload, uploads.max_bytes)
        except InputError as exc:
            refused[file.index] = exc
            continue
        if code in kept:
            remove_pending(session, uploads, actor, number, kept[code].id)
        upload = materials.Upload(code, file.upload.filename, file.upload.data)
        materials.store(session, uploads, actor, upload, pending_case_id=case.id, round_=round_)
    return refused


def remove_pending(session: Session, uploads: materials.UploadStore, actor: Actor, number: str,
                   material_id: int) -> None:  # fmt: skip
    """Take back a file kept for a 补正 answer that is not sent yet."""
    _resident_only(actor)
    case = get_case(session, actor, number)
    material = session.get(Material, material_id)
    if material is None or material.pending_case_id != case.id or material.uploaded_by != actor.username:
        raise NotFoundError(_("no such file"))
    path = uploads.path_of(material.storage_key)
    session.delete(material)
    session.flush()
    path.unlink(missing_ok=True)


def pending_by_position(session: Session, actor: Actor, case: Case) -> dict[int, Material]:
    """The kept files of the resident's answer, by the position of the material they answer."""
    shown: dict[int, Material] = {}
    for material in materials.pending_of_case(session, case.id, actor.username):
        position = material.code.removeprefix(SUPPLEMENT_PREFIX)
        if position.isdigit():
            shown[int(position) - 1] = material
    return shown


def send_supplement(session: Session, engine: Engine, actor: Actor, number: str, note: str = "") -> StepResult:
    """Send the kept files as the answer to the 补正 (decision ``submit``): one per requested material."""
    case, task, requested = _waiting_supplement(session, actor, number)
    if len(note) > MAX_NOTE:
        raise InputError(_("the note may have at most {n} characters", n=MAX_NOTE), field="note")
    kept = pending_by_position(session, actor, case)
    lacking = [name for i, name in enumerate(requested) if i not in kept]
    if lacking or not kept:
        raise InputError(_("upload a file for each requested material: {names}",
                           names=", ".join(lacking) or "-"), missing=lacking)  # fmt: skip
    round_ = _next_round(session, case)
    stored = []
    for index, material in sorted(kept.items()):
        if index >= len(requested):
            continue
        material.case_id, material.pending_case_id, material.round = case.id, None, round_
        stored.append(material)
        case.events.append(CaseEvent(kind="material_uploaded", actor=actor.username,
                                     detail=f"{requested[index]}: {material.original_name}",
                                     data={"material_id": material.id, "round": round_}))  # fmt: skip
    session.flush()
    form = check_form(task, "submit", {"materials": [m.id for m in stored], "note": note.strip()})
    return engine.complete_task(session, task.id, actor.username, form, data_updates=clock_updates(session, task))


def answer_supplement(
    session: Session,
    engine: Engine,
    uploads: materials.UploadStore,
    actor: Actor,
    number: str,
    files: list[SupplementFile],
    note: str = "",
) -> StepResult:
    """Upload every requested material and complete the 补正 step at once (one transaction: a refused
    file refuses the whole answer). The portal keeps the good files across a failed attempt instead
    (:func:`keep_supplement_files`, then :func:`send_supplement`)."""
    refused = keep_supplement_files(session, uploads, actor, number, files)
    if refused:
        raise next(iter(refused.values()))
    return send_supplement(session, engine, actor, number, note)


def withdraw_case(session: Session, engine: Engine, actor: Actor, number: str, reason: str = "") -> Case:
    """Withdraw a case nobody has accepted yet (撤回): its process is cancelled, its status withdrawn."""
    _resident_only(actor)
    case = get_case(session, actor, number)
    if case.status not in WITHDRAWABLE:
        raise ConflictError(_("case {number} has been accepted or has ended; it can no longer be withdrawn",
                              number=number))  # fmt: skip
    if case.process_instance_id is None:
        raise ConflictError(_("case {number} has no process", number=number))
    if len(reason) > MAX_NOTE:
        raise InputError(_("the note may have at most {n} characters", n=MAX_NOTE), field="reason")
    engine.cancel(session, case.process_instance_id, actor.username, reason.strip())
    session.flush()
    return case
