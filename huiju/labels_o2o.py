"""Labels of the community-services (O2O) codes: order and payment statuses, service categories,
offers, providers, credit entries, order timeline kinds.

:mod:`huiju.labels` reads these tables like its own (``label("order_status", "placed")``). Their
message ids are short English phrases rather than the bare codes, because several codes are also
case codes with another meaning in Chinese (a provider's ``accept`` is 接单, an officer's 受理).
"""

from __future__ import annotations

from huiju.i18n import Message, _

ORDER_STATUSES: dict[str, Message] = {
    "placed": _("order placed"),
    "dispatched": _("finding a provider"),
    "unassigned": _("awaiting manual dispatch"),
    "accepted": _("accepted by the provider"),
    "on_the_way": _("provider on the way"),
    "done": _("service done"),
    "confirmed": _("completion confirmed"),
    "cancelled": _("order cancelled"),
}

PAYMENT_STATUSES: dict[str, Message] = {
    "none": _("covered by service credit"),
    "pending": _("awaiting payment"),
    "paid": _("paid"),
    "failed": _("payment failed"),
    "refunding": _("refund under way"),
    "refunded": _("refunded"),
    "closed": _("payment closed"),
}

#: What became of an order's cash part, in short, as lists of orders show it (see
#: :func:`huiju.services.o2o.pages.payment_state`; the order's own page says it in a sentence).
PAYMENT_STATES: dict[str, Message] = {
    "awaited": _("awaiting your payment"),
    "preparing": _("payment page being prepared"),
    "paid": _("paid"),
    "failed": _("payment failed, order cancelled"),
    "unpaid": _("not paid in time, order cancelled"),
    "closed": _("cancelled before payment, nothing charged"),
    "refunding": _("refund under way"),
    "refunded": _("refunded"),
}

CATEGORIES: dict[str, Message] = {
    "home_care": _("home care visits"),
    "meal_delivery": _("meal delivery"),
    "bathing": _("bathing assistance"),
    "health_check": _("health checks"),
    "housekeeping": _("housekeeping"),
    "repair": _("home repairs"),
    "property": _("property services"),
}

UNITS: dict[str, Message] = {
    "visit": _("per visit"),
    "meal": _("per meal"),
    "hour": _("per hour"),
}

OFFER_OUTCOMES: dict[str, Message] = {
    "pending": _("waiting for an answer"),
    "accepted": _("accepted"),
    "declined": _("declined"),
    "lapsed": _("not answered in time"),
    "withdrawn": _("withdrawn"),
}

PROVIDER_KINDS: dict[str, Message] = {
    "company": _("service company"),
    "property": _("property management company"),
    "nonprofit": _("social organisation"),
}

PROVIDER_STATUSES: dict[str, Message] = {
    "active": _("taking orders"),
    "suspended": _("suspended"),
}

CREDIT_KINDS: dict[str, Message] = {
    "top_up": _("monthly credit"),
    "spend": _("paid for an order"),
    "return": _("returned from a cancelled order"),
}

#: Kinds of order timeline entries (:class:`huiju.models.OrderEvent`).
ORDER_EVENTS: dict[str, Message] = {
    "placed": _("order placed"),
    "credit_spent": _("service credit used"),
    "credit_returned": _("service credit returned"),
    "payment_requested": _("payment requested"),
    "paid": _("payment received"),
    "payment_failed": _("payment failed"),
    "refund_requested": _("refund requested"),
    "refunded": _("payment refunded"),
    "offered": _("offered to a provider"),
    "accepted": _("accepted by the provider"),
    "declined": _("declined by the provider"),
    "lapsed": _("not accepted in time"),
    "unassigned": _("no provider accepted: the platform dispatches it"),
    "assigned": _("dispatched by the platform"),
    "on_the_way": _("provider on the way"),
    "done": _("service done"),
    "confirmed": _("completion confirmed"),
    "auto_confirmed": _("confirmed automatically"),
    "cancelled": _("order cancelled"),
    "unpaid": _("cancelled: not paid in time"),
    "payment_failed_cancelled": _("cancelled: the payment failed"),
    "rated": _("rated"),
    "complained": _("complaint raised"),
    "complaint_answered": _("complaint answered"),
    "sms_sent": _("SMS sent"),
}

COMPLAINT_STATUSES: dict[str, Message] = {
    "open": _("awaiting an answer"),
    "answered": _("answered"),
}

SETTLEMENT_STATUSES: dict[str, Message] = {
    "publishing": _("being published"),
    "published": _("published"),
    "failed": _("publication failed"),
}

LINK_STATUSES: dict[str, Message] = {
    "pending": _("waiting for consent"),
    "active": _("linked"),
    "revoked": _("unlinked"),
}

#: A rating's five levels (5 the best), as the order timeline shows a ``rated`` event.
RATINGS: dict[str, Message] = {
    "5": _("rated very satisfied"),
    "4": _("rated satisfied"),
    "3": _("rated fairly satisfied"),
    "2": _("rated dissatisfied"),
    "1": _("rated very dissatisfied"),
}

#: The platform's rules (运营规则, :class:`huiju.models.O2OPolicy`) by their columns, as the operator
#: reads them (``huiju o2o policy``; the values in words: :func:`huiju.services.o2o.policy.policy_words`).
POLICY_SETTINGS: dict[str, Message] = {
    "accept_within": _("time for a provider to accept an offer"),
    "payment_wait": _("time for the payer to pay"),
    "confirm_within": _("time after which a done order is confirmed automatically"),
    "complaint_days": _("time to answer a complaint"),
    "rating_threshold_tenths": _("providers rated below this are flagged"),
    "rating_min_count": _("ratings a provider needs before being flagged"),
    "credit_months": _("how long an approved subsidy grants service credit"),
}

RELATIONS: dict[str, Message] = {
    "child": _("son or daughter"),
    "spouse": _("spouse"),
    "relative": _("other relative"),
}
