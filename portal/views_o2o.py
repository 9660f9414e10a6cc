"""Community services in the portal (社区服务), phone first: browse services by category for oneself or
for a linked parent, order and pay with the service credit, follow, cancel, confirm, rate, complain;
the credit statement; linking one's account to a parent with the parent's consent (an SMS code).

Views stay thin: they read the form, call one service function in a transaction, and render or
redirect; a refusal is shown on the page it came from and leaves nothing written.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter

from exchange.direct import call_now
from huiju.db import INT_MAX
from huiju.errors import AdapterError, ConflictError, InputError, NotFoundError, PermissionDenied
from huiju.labels import label
from huiju.services import materials
from huiju.services.o2o import credit, family, feedback, orders, pages
from huiju.services.o2o.money import yuan
from huiju.web.downloads import attachment
from huiju.web.runtime import runtime
from portal import security
from portal.auth import resident_required, signed_in
from portal.i18n import Translator, chosen_locale
from portal.views_case import RATING_LEVELS

#: Link requests per client address: each one tells whether a name and an ID number belong to a
#: resident here, and sends an SMS.
DEFAULT_LINK_LIMIT = "10 per hour"
LINK_USER = "portal-family-link"
REFUSALS = (InputError, ConflictError, PermissionDenied)


def _int(name: str) -> int | None:
    """An id the form or the address names: None when missing, or when no row could have it."""
    value = (request.values.get(name) or "").strip()
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= INT_MAX else None


def _quantity() -> int:
    """How many the form orders: 1 when it says nothing; anything but a whole number counts as 0,
    which the order refuses in words (from 1 to the most at a time)."""
    value = (request.form.get("quantity") or "").strip()
    if not value:
        return 1
    try:
        return int(value) if len(value) <= 6 else 0
    except ValueError:
        return 0


def register_o2o_views(bp: Blueprint, limiter: Limiter, translator: Translator) -> None:
    _ = translator.gettext

    @bp.app_template_global("o2o_label")
    def o2o_label(kind: str, code: str) -> str:
        return label(kind, code, chosen_locale())  # type: ignore[arg-type]

    bp.add_app_template_global(pages.payment_state, "payment_state")

    @bp.app_template_global("yuan")
    def show_yuan(fen: int) -> str:
        return yuan(fen)

    # -- services and ordering --------------------------------------------------------------------------

    @bp.get("/services")
    @resident_required
    def o2o_services() -> ResponseReturnValue:
        with runtime().db.sessions() as db:
            try:
                view = pages.shopping(db, signed_in().actor, request.args.get("category") or None, _int("for"))
            except InputError as exc:  # a category that is none of ours: the page names it, with them all
                view = pages.shopping(db, signed_in().actor, None, _int("for"))
                return render_template("portal/o2o_services.html", view=view,
                                       error=translator.message(exc.text)), 400  # fmt: skip
            return render_template("portal/o2o_services.html", view=view)

    def order_form(code: str, error: str | None = None, status: int = 200) -> ResponseReturnValue:
        with runtime().db.sessions() as db:
            view = pages.shopping(db, signed_in().actor, None, _int("for"))
            offering = next((o for o in view.offerings if o.service.code == code), None)
            if offering is None:
                raise NotFoundError(_("There is no such service in the area of the person you order for."))
            return render_template("portal/o2o_order_form.html", view=view, offering=offering, error=error,
                                   form=request.form), status  # fmt: skip

    @bp.get("/services/<code>")
    @resident_required
    def o2o_service(code: str) -> ResponseReturnValue:
        return order_form(code)

    @bp.post("/services/<code>")
    @resident_required
    def o2o_place(code: str) -> ResponseReturnValue:
        slot, beneficiary, quantity = _int("slot"), _int("for"), _quantity()
        if slot is None or beneficiary is None:
            return order_form(code, _("Choose whom the service is for and a time."), 400)
        placement = orders.Placement(
            service_code=code, beneficiary_id=beneficiary, slot_id=slot, address=request.form.get("address", ""),
            note=request.form.get("note", ""), quantity=quantity, contact_phone=request.form.get("phone", ""),
        )  # fmt: skip
        rt = runtime()
        try:
            with rt.db.transaction() as db:
                number = orders.place_order(db, rt.engine, signed_in().actor, placement).number
        except (*REFUSALS, NotFoundError) as exc:
            return order_form(code, translator.message(exc.text), 400)
        flash(_("Your order {number} is placed. We will send an SMS at every step.", number=number))
        return redirect(url_for("portal.o2o_order", number=number))

    # -- following an order -------------------------------------------------------------------------------

    @bp.get("/orders")
    @resident_required
    def o2o_orders() -> ResponseReturnValue:
        with runtime().db.sessions() as db:
            found = pages.my_orders(db, signed_in().actor)
            return render_template("portal/o2o_orders.html", orders=found)

    def order_page(number: str, error: str | None = None, status: int = 200) -> ResponseReturnValue:
        with runtime().db.sessions() as db:
            view = pages.order_page(db, signed_in().actor, number)
            return render_template("portal/o2o_order.html", view=view, error=error, levels=RATING_LEVELS), status

    @bp.get("/orders/<number>")
    @resident_required
    def o2o_order(number: str) -> ResponseReturnValue:
        return order_page(number)

    def act(number: str, done: str, action: Any) -> ResponseReturnValue:
        rt = runtime()
        try:
            with rt.db.transaction() as db:
                action(db, rt)
        except REFUSALS as exc:
            return order_page(number, translator.message(exc.text), 400)
        flash(done)
        return redirect(url_for("portal.o2o_order", number=number))

    @bp.post("/orders/<number>/cancel")
    @resident_required
    def o2o_cancel(number: str) -> ResponseReturnValue:
        if request.form.get("confirm") != "yes":
            return order_page(number, _("Tick the box to confirm that you want to cancel the order."), 400)
        return act(number, _("The order is cancelled. The service credit is back; a payment is refunded."),
                   lambda db, rt: orders.cancel_order(db, rt.engine, signed_in().actor, number,
                                                      request.form.get("reason", "")))  # fmt: skip

    @bp.post("/orders/<number>/confirm")
    @resident_required
    def o2o_confirm(number: str) -> ResponseReturnValue:
        return act(number, _("Thank you. The order is confirmed as done."),
                   lambda db, rt: orders.confirm_order(db, rt.engine, signed_in().actor, number))  # fmt: skip

    @bp.post("/orders/<number>/rating")
    @resident_required
    def o2o_rate(number: str) -> ResponseReturnValue:
        level = request.form.get("level", "")
        if not level.isdigit() or int(level) not in RATING_LEVELS:
            return order_page(number, _("Choose how satisfied you are."), 400)
        return act(number, _("Thank you for your rating."),
                   lambda db, rt: feedback.rate_order(db, signed_in().actor, number, int(level),
                                                      request.form.get("comment", "")))  # fmt: skip

    @bp.post("/orders/<number>/complaint")
    @resident_required
    def o2o_complain(number: str) -> ResponseReturnValue:
        return act(number, _("Your complaint is registered. The platform will answer by SMS."),
                   lambda db, rt: feedback.raise_complaint(db, rt.engine, signed_in().actor, number,
                                                           request.form.get("text", "")))  # fmt: skip

    @bp.get("/orders/<number>/photo")
    @resident_required
    def o2o_photo(number: str) -> ResponseReturnValue:
        rt = runtime()
        with rt.db.sessions() as db:
            found = pages.order_page(db, signed_in().actor, number).order
            if found.done_photo is None:
                raise NotFoundError(_("no photo"))
            store = materials.UploadStore.from_settings(rt.settings)
            data = store.path_of(found.done_photo.storage_key).read_bytes()
            return attachment(found.done_photo, data, view=True)

    # -- the credit, and family links ---------------------------------------------------------------------

    @bp.get("/credit")
    @resident_required
    def o2o_credit() -> ResponseReturnValue:
        account = signed_in()
        with runtime().db.sessions() as db:
            view = pages.shopping(db, account.actor, None, _int("for"))
            found = credit.statement(db, account.actor, view.beneficiary.id) if view.beneficiary else None
            return render_template("portal/o2o_credit.html", view=view, statement=found)

    def family_page(error: str | None = None, status: int = 200, pending: int | None = None) -> ResponseReturnValue:
        with runtime().db.sessions() as db:
            links = family.my_links(db, signed_in().actor)
            return render_template("portal/o2o_family.html", links=links, error=error, pending=pending,
                                   form=request.form), status  # fmt: skip

    @bp.get("/family")
    @resident_required
    def o2o_family() -> ResponseReturnValue:
        return family_page()

    def link() -> ResponseReturnValue:
        rt = runtime()

        def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
            return call_now(rt.db, operation, params, user_id=LINK_USER, security=rt.security)

        try:
            link_id = family.request_link(
                rt.db, call, signed_in().actor, parent_id_number=request.form.get("id_number", ""),
                parent_name=request.form.get("name", ""), relation=request.form.get("relation", ""),
                secret=str(current_app.secret_key).encode(),
            )  # fmt: skip
        except REFUSALS as exc:
            return family_page(translator.message(exc.text), 400)
        except AdapterError:
            return family_page(_("The SMS could not be sent just now. Please try again in a few minutes."), 503)
        flash(_("A code was sent by SMS to your parent's phone. Ask them for it and type it below."))
        return redirect(url_for("portal.o2o_family", pending=link_id))

    limit = limiter.limit(lambda: current_app.config.get("PORTAL_LINK_LIMIT", DEFAULT_LINK_LIMIT),
                          key_func=security.address_key, methods=["POST"])  # fmt: skip
    bp.add_url_rule("/family/link", "o2o_family_link", resident_required(limit(link)), methods=["POST"])

    @bp.post("/family/<int:link_id>/confirm")
    @resident_required
    def o2o_family_confirm(link_id: int) -> ResponseReturnValue:
        try:
            family.confirm_link(runtime().db, signed_in().actor, link_id, request.form.get("code", ""),
                                str(current_app.secret_key).encode())  # fmt: skip
        except REFUSALS as exc:
            return family_page(translator.message(exc.text), 400, pending=link_id)
        flash(_("Your account is linked. You can now order and pay for your parent."))
        return redirect(url_for("portal.o2o_family"))

    @bp.post("/family/<int:link_id>/revoke")
    @resident_required
    def o2o_family_revoke(link_id: int) -> ResponseReturnValue:
        with runtime().db.transaction() as db:
            family.revoke_link(db, signed_in().actor, link_id)
        flash(_("The link is ended."))
        return redirect(url_for("portal.o2o_family"))
