"""Applying online: drafts from an item's form, uploads of materials, submitting; downloads.

The form is generated from the item's JSON Schema (:mod:`portal.schema_form`); one multipart form
carries the fields and the files. "Save" and "submit" first keep what was typed and every file that
passes its checks (a draft's files are the resident's pending uploads, shown and removable); a
refused file is reported next to its material, every refused file at once, and refuses nothing else.
Problems are shown beside their field, named by its label (:class:`FieldErrors`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter
from werkzeug.datastructures import FileStorage

from huiju.errors import ConflictError, InputError, PermissionDenied
from huiju.models import Draft, Item, ItemKind
from huiju.services import applications, materials
from huiju.services.cases import get_item
from huiju.web.downloads import attachment
from huiju.web.runtime import runtime
from portal import security
from portal.auth import resident_required, signed_in
from portal.catalogue import in_locale
from portal.i18n import N_, Translator, chosen_locale
from portal.schema_form import coerce, fields_of


@dataclass
class FieldErrors:
    """What is wrong with a posted form, by the id of the control it concerns (``f-<field>``,
    ``file-<material>``, ``consent``, or ``form`` for the form as a whole), in the order found: the
    page shows each beside its control (``aria-invalid``, ``aria-describedby``) and all of them in a
    summary at the top that takes the focus (GOV.UK's error summary pattern)."""

    by_id: dict[str, str] = field(default_factory=dict)

    def add(self, control: str, text: str) -> None:
        self.by_id.setdefault(control, text)

    def get(self, control: str) -> str | None:
        return self.by_id.get(control)

    def items(self) -> list[tuple[str, str]]:
        return list(self.by_id.items())

    def __bool__(self) -> bool:
        return bool(self.by_id)


def material_names(item: Item, locale: str) -> dict[str, str]:
    """Each material's name in the page's language, by code (a message names the material, never its code)."""
    names = {str(m["code"]): in_locale({"zh": m.get("name", ""), "en": m.get("name_en", "")}, locale)
             for m in item.required_materials}  # fmt: skip
    names[applications.CONSENT_FORM] = "授权委托书" if locale == "zh_CN" else "Signed consent form"
    return names


#: Relations an agent may state (代办), in the order offered.
RELATIONS = {
    "child": N_("Son or daughter"),
    "spouse": N_("Husband or wife"),
    "relative": N_("Other relative"),
    "community_worker": N_("Community worker"),
}


def upload_store() -> materials.UploadStore:
    return materials.UploadStore.from_settings(runtime().settings)


def received(file: FileStorage | None, code: str) -> materials.Upload | None:
    """The bytes of an uploaded file, or None when the field was left empty."""
    if file is None or (not file.filename and file.content_length in (0, None)):
        return None
    data = file.read(upload_store().max_bytes + 1)  # a byte over the cap is enough to refuse it
    if not file.filename and not data:
        return None
    return materials.Upload(code, file.filename or "", data)


#: Applications on someone's behalf tried per client address: each one tells whether a name and an ID
#: number belong to a resident here, so they are limited like registrations.
DEFAULT_APPLY_FOR_LIMIT = "20 per hour"


def register_apply_views(bp: Blueprint, limiter: Limiter, translator: Translator) -> None:
    _ = translator.gettext

    def render_draft(draft: Draft, errors: FieldErrors | None = None, form: dict[str, Any] | None = None,
                     status: int = 200) -> ResponseReturnValue:  # fmt: skip
        with runtime().db.sessions() as db:
            files = materials.materials_of_draft(db, draft.id)
            missing = {m["code"] for m in applications.missing_required(db, draft)}
        codes = list(draft.item.required_materials)
        if draft.applicant_id is not None:
            codes.append({"code": applications.CONSENT_FORM, "name": "授权委托书",
                          "name_en": "Signed consent form", "required": True})  # fmt: skip
        return render_template(
            "portal/draft.html", draft=draft, fields=fields_of(draft.item.form_schema),
            values=form if form is not None else draft.form_data, files=files, materials=codes,
            missing=missing, errors=errors or FieldErrors(), relations=RELATIONS,
            max_mb=round(upload_store().max_bytes / 1048576),
            service_request=draft.item.kind is ItemKind.SERVICE_REQUEST,
        ), status  # fmt: skip

    @bp.post("/items/<code>/apply")
    @resident_required
    def apply(code: str) -> ResponseReturnValue:
        account = signed_in()
        with runtime().db.transaction() as db:
            draft = applications.start_draft(db, account.actor, code)
            draft_id = draft.id
        return redirect(url_for("portal.draft", draft_id=draft_id))

    @bp.route("/items/<code>/apply-for", methods=["GET", "POST"])
    @resident_required
    @limiter.limit(
        lambda: current_app.config.get("PORTAL_APPLY_FOR_LIMIT", DEFAULT_APPLY_FOR_LIMIT),
        key_func=security.address_key,
        methods=["POST"],
    )
    def apply_for(code: str) -> ResponseReturnValue:
        """Apply on someone's behalf (代办): who the applicant is, and who the agent is to them."""
        account = signed_in()
        errors = FieldErrors()
        if request.method == "POST":
            try:
                with runtime().db.transaction() as db:
                    draft = applications.start_draft(
                        db, account.actor, code, applicant_id_number=request.form.get("id_number", ""),
                        applicant_name=request.form.get("name", ""), relation=request.form.get("relation"),
                    )  # fmt: skip
                    draft_id = draft.id
            except InputError as exc:
                # A name and ID number that name no one concern the ID number's field (the pair, really).
                named = {"applicant": "id_number", "id_number": "id_number", "relation": "relation", "name": "name"}
                errors.add(named.get(str(exc.details.get("field", "")), "form"), translator.message(exc.text))
            else:
                return redirect(url_for("portal.draft", draft_id=draft_id))
        with runtime().db.sessions() as db:
            item = get_item(db, code)
            return render_template("portal/apply_for.html", item=item, relations=RELATIONS, errors=errors,
                                   form=request.form), (400 if errors else 200)  # fmt: skip

    @bp.get("/drafts/<int:draft_id>")
    @resident_required
    def draft(draft_id: int) -> ResponseReturnValue:
        with runtime().db.sessions() as db:
            found = applications.get_draft(db, signed_in().actor, draft_id)
            return render_draft(found)

    @bp.post("/drafts/<int:draft_id>")
    @resident_required
    def save_or_submit(draft_id: int) -> ResponseReturnValue:
        """Save, or submit. What was typed and every good file are kept first, whatever else fails;
        then, to submit, every problem (fields, files, missing materials, consent) is named at once."""
        account = signed_in()
        engine, store, locale = runtime().engine, upload_store(), chosen_locale()
        submitting = request.form.get("action") == "submit"
        errors = FieldErrors()
        with runtime().db.transaction() as db:
            found = applications.get_draft(db, account.actor, draft_id)
            applications.save_draft(db, account.actor, draft_id, coerce(found.item.form_schema, request.form))
            codes = applications.material_codes(found.item, on_behalf=found.applicant_id is not None)
            names = material_names(found.item, locale)
            for code in sorted(codes):
                upload = received(request.files.get(f"file_{code}"), code)
                if upload is None:
                    continue
                try:
                    applications.add_draft_material(db, store, account.actor, draft_id, upload)
                except InputError as exc:
                    errors.add(f"file-{code}", _("{material}: {problem}", material=names.get(code, code),
                                                 problem=translator.message(exc.text)))  # fmt: skip
            consent = request.form.get("consent", "")
            # What stops the submission, as just saved (the draft's form and files, in this transaction).
            problems = applications.draft_problems(db, found, consent, locale) if submitting else None
        number = None
        if problems is not None:
            for name, text in problems.fields.items():
                errors.add(f"f-{name}", translator.message(text))
            for code, text in problems.materials.items():
                errors.add(f"file-{code}", translator.message(text))
            if problems.consent is not None:
                errors.add("consent", translator.message(problems.consent))
        if submitting and not errors:
            try:
                with runtime().db.transaction() as db:
                    number = applications.submit_draft(db, engine, account.actor, draft_id,
                                                       consent_statement=consent).number  # fmt: skip
            except (InputError, ConflictError, PermissionDenied) as exc:
                named = exc.details.get("field")
                errors.add(f"f-{named}" if isinstance(named, str) and named != "consent" else "form",
                           translator.message(exc.text))  # fmt: skip
        if errors:
            with runtime().db.sessions() as db:
                found = applications.get_draft(db, account.actor, draft_id)
                return render_draft(found, errors, dict(request.form), 400)
        if number is not None:
            flash(_("Submitted. Your case number is {number}; we will also tell you by SMS.", number=number))
            return redirect(url_for("portal.case", number=number))
        flash(_("Saved. You can come back to it from the start page."))
        return redirect(url_for("portal.draft", draft_id=draft_id))

    @bp.post("/drafts/<int:draft_id>/materials/<int:material_id>/delete")
    @resident_required
    def remove_material(draft_id: int, material_id: int) -> ResponseReturnValue:
        with runtime().db.transaction() as db:
            applications.remove_draft_material(db, upload_store(), signed_in().actor, draft_id, material_id)
        return redirect(url_for("portal.draft", draft_id=draft_id))

    @bp.get("/materials/<int:material_id>")
    @resident_required
    def material(material_id: int) -> ResponseReturnValue:
        """A file, always as a download of its detected type: never shown inline, never sniffed."""
        with runtime().db.sessions() as db:
            found, data = materials.open_material(db, upload_store(), signed_in().actor, material_id)
            return attachment(found, data)
