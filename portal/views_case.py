"""What a resident does on a case page: answer a request for more material (补正) with files,
withdraw a case nobody has accepted yet, rate a concluded case (好差评)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from huiju.errors import ConflictError, InputError, PermissionDenied
from huiju.services import applications, ratings
from huiju.services.cases import get_case
from huiju.web.runtime import runtime
from portal.auth import resident_required, signed_in
from portal.i18n import N_, Translator, chosen_locale
from portal.services import case_view
from portal.views_apply import FieldErrors, received, upload_store

#: The five levels of 好差评, best first (message ids).
RATING_LEVELS = {
    5: N_("Very satisfied"),
    4: N_("Satisfied"),
    3: N_("Fairly satisfied"),
    2: N_("Dissatisfied"),
    1: N_("Very dissatisfied"),
}


def register_case_views(bp: Blueprint, translator: Translator) -> None:
    _ = translator.gettext

    def case_page(number: str, error: str | None, status: int = 400, errors: FieldErrors | None = None,
                  note: str = "") -> ResponseReturnValue:  # fmt: skip
        with runtime().db.sessions() as db:
            view = case_view(db, signed_in(), number, chosen_locale())
            return render_template("portal/case.html", view=view, error=error, levels=RATING_LEVELS,
                                   errors=errors or FieldErrors(), note=note), status  # fmt: skip

    @bp.post("/cases/<number>/supplement")
    @resident_required
    def supplement(number: str) -> ResponseReturnValue:
        """Answer a 补正: every good file is kept first (a pending upload of the resident's), each bad one
        named beside its material; the answer goes to the officer once every material has a file."""
        account = signed_in()
        note = request.form.get("note", "")
        files = []
        for key in request.files:
            if key.startswith("file_") and key[5:].isdigit():
                upload = received(request.files.get(key), "supplement")
                if upload is not None:
                    files.append(applications.SupplementFile(int(key[5:]), upload))
        errors = FieldErrors()
        try:
            with runtime().db.transaction() as db:
                refused = applications.keep_supplement_files(db, upload_store(), account.actor, number, files)
                for index, exc in refused.items():
                    errors.add(f"supplement-{index}", translator.message(exc.text))
            if not errors:
                with runtime().db.sessions() as db:
                    case = get_case(db, account.actor, number)
                    kept = applications.pending_by_position(db, account.actor, case)
                    for index, name in enumerate(applications.requested_materials(case)):
                        if index not in kept:
                            errors.add(f"supplement-{index}", _("Upload {material}.", material=name))
            if errors:
                return case_page(number, None, errors=errors, note=note)
            with runtime().db.transaction() as db:
                applications.send_supplement(db, runtime().engine, account.actor, number, note)
        except (InputError, ConflictError, PermissionDenied) as exc:
            return case_page(number, translator.message(exc.text), note=note)
        flash(_("Thank you. The material was sent to the community officer."))
        return redirect(url_for("portal.case", number=number))

    @bp.post("/cases/<number>/supplement/<int:material_id>/delete")
    @resident_required
    def remove_pending(number: str, material_id: int) -> ResponseReturnValue:
        """Take back a file kept for the answer, before it is sent."""
        with runtime().db.transaction() as db:
            applications.remove_pending(db, upload_store(), signed_in().actor, number, material_id)
        return redirect(url_for("portal.case", number=number) + "#supplement")

    @bp.post("/cases/<number>/withdraw")
    @resident_required
    def withdraw(number: str) -> ResponseReturnValue:
        if request.form.get("confirm") != "yes":
            return case_page(number, _("Tick the box to confirm that you want to withdraw the application."))
        try:
            with runtime().db.transaction() as db:
                applications.withdraw_case(db, runtime().engine, signed_in().actor, number,
                                           request.form.get("reason", ""))  # fmt: skip
        except (InputError, ConflictError, PermissionDenied) as exc:
            return case_page(number, translator.message(exc.text))
        flash(_("The application was withdrawn."))
        return redirect(url_for("portal.case", number=number))

    @bp.post("/cases/<number>/rating")
    @resident_required
    def rate(number: str) -> ResponseReturnValue:
        level = request.form.get("level", "")
        if not level.isdigit() or int(level) not in RATING_LEVELS:
            return case_page(number, _("Choose how satisfied you are."))
        try:
            with runtime().db.transaction() as db:
                ratings.rate_case(db, runtime().engine, signed_in().actor, number, int(level),
                                  request.form.get("comment", ""))  # fmt: skip
        except (InputError, ConflictError, PermissionDenied) as exc:
            return case_page(number, translator.message(exc.text))
        flash(_("Thank you for your rating."))
        return redirect(url_for("portal.case", number=number))
