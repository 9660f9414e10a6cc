"""The console's community-services pages (社区服务): the provider's (orders offered and taken, its
services, prices and time slots), the platform operator's (orders to watch and to dispatch by hand,
providers, ratings, complaints, settlements) and the community officer's consent recorded at the
service centre. Each page reads its input, calls one service function in a transaction, and renders;
scoping and refusals are the services' (:mod:`huiju.services.o2o`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l

from huiju.calendar import CHINA
from huiju.labels import label
from huiju.services import materials
from huiju.services.casefile_words import people, who
from huiju.services.o2o import catalog, dispatch, exports, family, feedback, orders, pages, providers, settlement
from huiju.services.o2o.access import provider_of
from huiju.services.o2o.money import parse_fen, yuan
from huiju.web.runtime import runtime
from officer_console.security import current_actor, locale, requires

PHOTO_FIELD = "photo"


def china(moment: datetime | None) -> str:
    """A time as people here read it: Beijing time."""
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def _helpers() -> dict[str, Any]:
    lang = locale()
    return {"label": lambda kind, code: label(kind, code, lang) if code else "", "yuan": yuan, "china": china,
            "locale": lang}  # fmt: skip


def _photo() -> materials.Upload | None:
    file = request.files.get(PHOTO_FIELD)
    if file is None or not file.filename:
        return None
    store = materials.UploadStore.from_settings(runtime().settings)
    return materials.Upload(dispatch.PHOTO_CODE, file.filename, file.read(store.max_bytes + 1))


def _back(default: str) -> Response:
    target = request.form.get("next") or ""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = default
    return redirect(target, 303)  # type: ignore[return-value]


class ProviderView(BaseView):  # type: ignore[misc]
    """服务商工作台: orders offered to the provider, taken by it, and what it offers."""

    route_base = "/provider"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        actor = current_actor()
        with runtime().db.sessions() as session:
            provider = provider_of(session, actor)
            offered = dispatch.pending_offers(session, actor)
            taken = [o for o in orders.list_orders(session, actor, limit=200) if o.status.value not in ("dispatched",)]
            page = self.render_template("console/o2o_provider.html", provider=provider, offered=offered, taken=taken,
                                        **_helpers())  # fmt: skip
        return page

    def _do(self, action: Any, done: str) -> Any:
        rt = runtime()
        with rt.db.transaction() as session:
            action(session, rt)
        flash(done, "success")
        return redirect(url_for("ProviderView.index"), 303)

    @expose("/orders/<number>/accept", methods=["POST"])
    @requires("can_act")
    def accept(self, number: str) -> Any:
        return self._do(lambda s, rt: dispatch.answer_offer(s, rt.engine, current_actor(), number, accept=True),
                        str(_l("Order %(number)s accepted.", number=number)))  # fmt: skip

    @expose("/orders/<number>/decline", methods=["POST"])
    @requires("can_act")
    def decline(self, number: str) -> Any:
        reason = request.form.get("reason") or ""
        return self._do(lambda s, rt: dispatch.answer_offer(s, rt.engine, current_actor(), number, accept=False,
                                                            reason=reason),
                        str(_l("Order %(number)s declined: it goes to the next provider.", number=number)))  # fmt: skip

    @expose("/orders/<number>/arrive", methods=["POST"])
    @requires("can_act")
    def arrive(self, number: str) -> Any:
        return self._do(lambda s, rt: dispatch.arrive(s, rt.engine, current_actor(), number),
                        str(_l("Order %(number)s: on the way.", number=number)))  # fmt: skip

    @expose("/orders/<number>/done", methods=["POST"])
    @requires("can_act")
    def done(self, number: str) -> Any:
        note, photo = request.form.get("note") or "", _photo()

        def finish(session: Any, rt: Any) -> None:
            store = materials.UploadStore.from_settings(rt.settings)
            dispatch.finish(session, rt.engine, store, current_actor(), number, note, photo)

        return self._do(finish, str(_l("Order %(number)s done: the orderer is asked to confirm.", number=number)))

    @expose("/services")
    @requires("can_read")
    def services(self) -> Any:
        actor = current_actor()
        with runtime().db.sessions() as session:
            provider = provider_of(session, actor)
            page = self.render_template(
                "console/o2o_provider_services.html", provider=provider, services=catalog.my_services(session, actor),
                slots=catalog.my_slots(session, actor), areas=catalog.areas_of(session, provider.id),
                categories=[c.value for c in catalog.ServiceCategory], **_helpers(),
            )  # fmt: skip
        return page

    @expose("/services", methods=["POST"])
    @requires("can_act")
    def add_service(self) -> Any:
        form = request.form
        minutes = form.get("duration_minutes", "60")
        with runtime().db.transaction() as session:
            catalog.add_service(
                session, current_actor(), code=form.get("code", ""), name=form.get("name", ""),
                category=form.get("category", ""), price_fen=parse_fen(form.get("price", "")),
                unit=form.get("unit", ""), duration_minutes=int(minutes) if minutes.isdigit() else 0,
                description=form.get("description", ""), credit_eligible=form.get("credit_eligible") == "yes",
            )  # fmt: skip
        flash(str(_l("Service added.")), "success")
        return redirect(url_for("ProviderView.services"), 303)

    @expose("/services/<code>/price", methods=["POST"])
    @requires("can_act")
    def price(self, code: str) -> Any:
        with runtime().db.transaction() as session:
            catalog.set_price(session, current_actor(), code, parse_fen(request.form.get("price", "")))
        flash(str(_l("Price changed: it applies to orders placed from now on.")), "success")
        return redirect(url_for("ProviderView.services"), 303)

    @expose("/services/<code>/active", methods=["POST"])
    @requires("can_act")
    def active(self, code: str) -> Any:
        with runtime().db.transaction() as session:
            catalog.set_active(session, current_actor(), code, request.form.get("active") == "yes")
        return redirect(url_for("ProviderView.services"), 303)

    @expose("/services/<code>/slots", methods=["POST"])
    @requires("can_act")
    def slots(self, code: str) -> Any:
        form = request.form
        with runtime().db.transaction() as session:
            added = catalog.add_daily_slots(
                session, current_actor(), code, first_day=form.get("first_day", ""), days=form.get("days", "1"),
                times=form.get("times", ""), capacity=form.get("capacity", "1"),
            )  # fmt: skip
        flash(str(_l("%(count)s time slots added.", count=len(added))), "success")
        return redirect(url_for("ProviderView.services"), 303)


class OperatorView(BaseView):  # type: ignore[misc]
    """平台运营: orders to watch and to dispatch, providers, ratings, complaints, settlements."""

    route_base = "/operator"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        which = request.args.get("show") or "open"
        actor = current_actor()
        with runtime().db.sessions() as session:
            watched = providers.watch(session, actor, which=which)
            choices = {w.order.number: dispatch.eligible_providers(session, w.order) for w in watched
                       if w.order.status.value == "unassigned"}  # fmt: skip
            page = self.render_template("console/o2o_operator.html", watched=watched, which=which, choices=choices,
                                        **_helpers())  # fmt: skip
        return page

    @expose("/orders/<number>")
    @requires("can_read")
    def order(self, number: str) -> Any:
        with runtime().db.sessions() as session:
            view = pages.order_page(session, current_actor(), number)
            choices = dispatch.eligible_providers(session, view.order)
            known = people(session, {e.actor for e in view.order.events})
            lang = locale()
            page = self.render_template("console/o2o_order.html", view=view, choices=choices,
                                        who=lambda name: who(name, known, lang), **_helpers())  # fmt: skip
        return page

    @expose("/orders/<number>/assign", methods=["POST"])
    @requires("can_act")
    def assign(self, number: str) -> Any:
        rt = runtime()
        with rt.db.transaction() as session:
            dispatch.assign(session, rt.engine, current_actor(), number, request.form.get("provider") or "")
        flash(str(_l("Order %(number)s dispatched.", number=number)), "success")
        return _back(url_for("OperatorView.index"))

    @expose("/orders/<number>/cancel", methods=["POST"])
    @requires("can_act")
    def cancel(self, number: str) -> Any:
        rt = runtime()
        with rt.db.transaction() as session:
            orders.cancel_order(session, rt.engine, current_actor(), number, request.form.get("reason") or "")
        flash(str(_l("Order %(number)s cancelled; credit and payment go back.", number=number)), "success")
        return _back(url_for("OperatorView.index"))

    @expose("/providers")
    @requires("can_read")
    def providers(self) -> Any:
        with runtime().db.sessions() as session:
            standings = feedback.standings(session)
            from huiju.services.registration import communities

            page = self.render_template("console/o2o_providers.html", standings=standings,
                                        communities=communities(runtime().db), **_helpers())  # fmt: skip
        return page

    @expose("/providers", methods=["POST"])
    @requires("can_act")
    def onboard(self) -> Any:
        form = request.form
        rate = form.get("fee_rate_bp", "500")
        onboarding = providers.Onboarding(
            code=form.get("code", ""), name=form.get("name", ""), kind=form.get("kind", ""),
            credit_code=form.get("credit_code", ""), contact_name=form.get("contact_name", ""),
            phone=form.get("phone", ""), fee_rate_bp=int(rate) if rate.isdigit() else -1,
            community_codes=tuple(form.getlist("areas")),
        )  # fmt: skip
        with runtime().db.transaction() as session:
            providers.onboard(session, current_actor(), onboarding)
        flash(str(_l("Provider onboarded.")), "success")
        return redirect(url_for("OperatorView.providers"), 303)

    @expose("/providers/<code>/areas", methods=["POST"])
    @requires("can_act")
    def areas(self, code: str) -> Any:
        with runtime().db.transaction() as session:
            providers.set_areas(session, current_actor(), code, request.form.getlist("areas"))
        flash(str(_l("Service areas saved.")), "success")
        return redirect(url_for("OperatorView.providers"), 303)

    @expose("/providers/<code>/suspend", methods=["POST"])
    @requires("can_act")
    def suspend(self, code: str) -> Any:
        with runtime().db.transaction() as session:
            providers.suspend(session, current_actor(), code, request.form.get("reason") or "")
        flash(str(_l("Provider suspended: no more orders are offered to it.")), "success")
        return redirect(url_for("OperatorView.providers"), 303)

    @expose("/providers/<code>/reinstate", methods=["POST"])
    @requires("can_act")
    def reinstate(self, code: str) -> Any:
        with runtime().db.transaction() as session:
            providers.reinstate(session, current_actor(), code)
        flash(str(_l("Provider takes orders again.")), "success")
        return redirect(url_for("OperatorView.providers"), 303)

    @expose("/services/<code>/active", methods=["POST"])
    @requires("can_act")
    def service_active(self, code: str) -> Any:
        """Take a provider's service off the list (or back): a complaint, a licence lapsed."""
        with runtime().db.transaction() as session:
            catalog.set_active(session, current_actor(), code, request.form.get("active") == "yes")
        flash(str(_l("Service %(code)s saved.", code=code)), "success")
        return redirect(url_for("OperatorView.providers"), 303)

    @expose("/complaints")
    @requires("can_read")
    def complaints(self) -> Any:
        with runtime().db.sessions() as session:
            found = feedback.complaints(session, current_actor())
            today = datetime.now(CHINA).date()
            page = self.render_template("console/o2o_complaints.html", complaints=found, today=today, **_helpers())
        return page

    @expose("/complaints/<number>/answer", methods=["POST"])
    @requires("can_act")
    def answer(self, number: str) -> Any:
        rt = runtime()
        with rt.db.transaction() as session:
            feedback.answer_complaint(session, rt.engine, current_actor(), number, request.form.get("answer") or "")
        flash(str(_l("Answer sent to the resident by SMS.")), "success")
        return redirect(url_for("OperatorView.complaints"), 303)

    @expose("/settlements")
    @requires("can_read")
    def settlements(self) -> Any:
        month = request.args.get("month") or settlement.last_month()
        with runtime().db.sessions() as session:
            found = settlement.settlements(session, current_actor(), month)
            page = self.render_template("console/o2o_settlements.html", settlements=found, month=month, **_helpers())
        return page

    @expose("/settlements", methods=["POST"])
    @requires("can_act")
    def settle(self) -> Any:
        month = request.form.get("month") or ""
        rt = runtime()
        security = rt.security
        signer = (lambda: security().signer) if security is not None else None
        with rt.db.transaction() as session:
            report = settlement.settle_month(session, rt.engine, current_actor(), month, signer)
            settlement.require_settled(report)
            month = report.month
        text = _l("%(month)s was settled before.", month=month) if report.already else _l(
            "%(month)s settled; the records go to the data exchange platform.", month=month)  # fmt: skip
        flash(str(text), "success")
        return redirect(url_for("OperatorView.settlements", month=month), 303)

    @expose("/settlements/<month>.<kind>")
    @requires("can_read")
    def export(self, month: str, kind: str) -> Any:
        with runtime().db.sessions() as session:
            found = settlement.settlements(session, current_actor(), month)
            data = exports.export(session, found, kind, locale())
        mimetype = exports.KINDS[kind]
        headers = {"Content-Disposition": f'attachment; filename="settlement-{month}.{kind}"',
                   "Cache-Control": "private, no-store"}  # fmt: skip
        return Response(data, 200, mimetype=mimetype, headers=headers)


class FamilyView(BaseView):  # type: ignore[misc]
    """A parent's consent to a relative's account, given at the community service centre (亲属绑定)."""

    route_base = "/family"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        return self.render_template("console/o2o_family.html", **_helpers())

    @expose("/", methods=["POST"])
    @requires("can_act")
    def record(self) -> Any:
        form = request.form
        with runtime().db.transaction() as session:
            family.record_at_centre(
                session, current_actor(), username=form.get("username", "").strip(),
                parent_id_number=form.get("id_number", ""), parent_name=form.get("name", ""),
                relation=form.get("relation", ""),
            )  # fmt: skip
        flash(str(_l("Consent recorded: the account may now order for the parent.")), "success")
        return redirect(url_for("FamilyView.index"), 303)
