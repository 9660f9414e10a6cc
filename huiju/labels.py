"""Labels for the codes a person reads: case statuses, outcomes, decisions, timeline kinds, roles.

The codes themselves (``intake``, ``approve``, ``task_ready`` ...) stay what the API returns and
what the command line accepts (``--status intake``, ``--decision accept``); this module is the one
place where they get words. A label's message id *is* its code, so English shows the code a person
can type back, and the Chinese catalogue gives the term of the trade (``awaiting_supplement`` =
待补正, ``refuse`` = 不予受理).
"""

from __future__ import annotations

from typing import Literal

from huiju import labels_o2o as o2o
from huiju.i18n import Message, _, normalize

LabelKind = Literal[
    "status", "outcome", "decision", "timeline", "role",
    # community services (O2O), see huiju.labels_o2o
    "order_status", "payment_status", "category", "unit", "offer", "provider_kind", "provider_status",
    "credit", "order_event", "complaint_status", "settlement_status", "link_status", "relation", "rating",
]  # fmt: skip

#: Case statuses (:class:`huiju.models.CaseStatus`).
STATUSES: dict[str, Message] = {
    "submitted": _("submitted"),
    "verifying": _("verifying"),
    "intake": _("intake"),
    "review": _("review"),
    "answering": _("answering"),
    "awaiting_supplement": _("awaiting_supplement"),
    "street_review": _("street_review"),
    "processing": _("processing"),
    "incident": _("incident"),
    "concluded": _("concluded"),
    "withdrawn": _("withdrawn"),
}

#: How a concluded case ended (the ``outcome`` property of the BPMN end event).
OUTCOMES: dict[str, Message] = {
    "approved": _("approved"),
    "refused": _("refused"),
    "denied": _("denied"),
    "ineligible": _("ineligible"),
    "identity_mismatch": _("identity_mismatch"),
    "closed": _("closed"),
    "supplement_expired": _("supplement_expired"),
    "withdrawn": _("withdrawn"),
    "answered": _("answered"),
    "followed_up": _("followed_up"),
    # how an O2O order's process ended
    "confirmed": _("order confirmed"),
    "cancelled": _("order cancelled"),
    "unpaid": _("not paid in time"),
    "payment_failed": _("payment failed"),
    # an O2O settlement's publication
    "published": _("published"),
}

#: Decisions offered by human tasks.
DECISIONS: dict[str, Message] = {
    "accept": _("accept"),
    "refuse": _("refuse"),
    "supplement": _("supplement"),
    "approve": _("approve"),
    "deny": _("deny"),
    "submit": _("submit"),
    "retry": _("retry"),
    "close": _("close"),
    "return": _("return"),
    "co_review": _("co_review"),
    "answer": _("answer"),
    "done": _("done"),
    "agree": _("agree"),
    "disagree": _("disagree"),
    # O2O steps (a provider's 接单 is not an officer's 受理: phrases, not bare codes)
    "decline": _("decline the order"),
    "arrive": _("arrived"),
    "confirm": _("confirm completion"),
    "assign": _("assign a provider"),
    "cancel": _("cancel the order"),
}

#: Kinds of case timeline entries (:class:`huiju.models.CaseEvent`).
TIMELINE: dict[str, Message] = {
    "submitted": _("submitted"),
    "process_started": _("process_started"),
    "service_requested": _("service_requested"),
    "service_replied": _("service_replied"),
    "service_failed": _("service_failed"),
    "service_ignored": _("service_ignored"),
    "incident": _("incident"),
    "incident_retried": _("incident_retried"),
    "task_ready": _("task_ready"),
    "task_completed": _("task_completed"),
    "task_cancelled": _("task_cancelled"),
    "timer_fired": _("timer_fired"),
    "process_completed": _("process_completed"),
    "task_claimed": _("task_claimed"),
    "task_released": _("task_released"),
    "task_transferred": _("task_transferred"),
    "returned": _("returned"),
    "co_review_requested": _("co_review_requested"),
    "clock_paused": _("clock_paused"),
    "clock_resumed": _("clock_resumed"),
    "reminder": _("reminder"),
    "escalated": _("escalated"),
    "material_uploaded": _("material_uploaded"),
    "withdrawn": _("withdrawn"),
    "rated": _("rated"),
    "deadline_recomputed": _("deadline_recomputed"),
    "callback_held": _("callback_held"),
}

#: Account roles (:class:`huiju.models.Role`).
ROLES: dict[str, Message] = {
    "resident": _("resident"),
    "community_officer": _("community_officer"),
    "street_reviewer": _("street_reviewer"),
    "administrator": _("administrator"),
    "integrator": _("integrator"),
    "provider": _("provider"),
    "operator": _("operator"),
}

TABLES: dict[LabelKind, dict[str, Message]] = {
    "status": STATUSES,
    "outcome": OUTCOMES,
    "decision": DECISIONS,
    "timeline": TIMELINE,
    "role": ROLES,
    "order_status": o2o.ORDER_STATUSES,
    "payment_status": o2o.PAYMENT_STATUSES,
    "category": o2o.CATEGORIES,
    "unit": o2o.UNITS,
    "offer": o2o.OFFER_OUTCOMES,
    "provider_kind": o2o.PROVIDER_KINDS,
    "provider_status": o2o.PROVIDER_STATUSES,
    "credit": o2o.CREDIT_KINDS,
    "order_event": o2o.ORDER_EVENTS,
    "complaint_status": o2o.COMPLAINT_STATUSES,
    "settlement_status": o2o.SETTLEMENT_STATUSES,
    "link_status": o2o.LINK_STATUSES,
    "relation": o2o.RELATIONS,
    "rating": o2o.RATINGS,
}


def label(kind: LabelKind, code: str, locale: str | None = None) -> str:
    """The label of ``code`` in ``locale``; an unknown code is shown as it is."""
    message = TABLES[kind].get(code)
    return message.localize(locale) if message is not None else code


def label_with_code(kind: LabelKind, code: str, locale: str | None = None) -> str:
    """``受理(accept)`` where the code must be typed back; just the code in English."""
    shown = label(kind, code, locale)
    return code if normalize(locale) == "en" or shown == code else f"{shown}({code})"
