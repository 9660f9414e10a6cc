"""Words for the codes of the domain: case statuses, outcomes, decisions, timeline kinds, roles and
lanes, government systems and their operations, message states, subsidy tiers.

The codes themselves (``intake``, ``approve``, ``task_ready`` ...) stay what the API returns and what
the command line accepts (``--status intake``, ``--decision accept``); no code is ever shown to a
person: this module is the one place where they get words, Chinese first (the catalogue gives the
term of the trade: ``awaiting_supplement`` = 待补正, ``refuse`` = 不予受理), English second. Where a
person types a code back (the command line), :func:`label_with_code` shows both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from huiju import labels_o2o as o2o
from huiju.i18n import Message, _, normalize

LabelKind = Literal[
    "status",
    "outcome",
    "decision",
    "timeline",
    "role",
    "system",
    "operation",
    "message",
    "tier",
    "document",
    "rating",
    "incident",
    "instance",
    # community services (O2O), see huiju.labels_o2o
    "order_status",
    "payment_status",
    "payment_state",
    "category",
    "unit",
    "offer",
    "provider_kind",
    "provider_status",
    "credit",
    "order_event",
    "complaint_status",
    "settlement_status",
    "link_status",
    "relation",
    "order_rating",
    "policy_setting",
]

#: Case statuses (:class:`huiju.models.CaseStatus`).
STATUSES: dict[str, Message] = {
    "submitted": _("Submitted"),
    "verifying": _("Checking identity"),
    "intake": _("Awaiting acceptance"),
    "review": _("Under community review"),
    "answering": _("Awaiting an answer"),
    "awaiting_supplement": _("Awaiting more material"),
    "street_review": _("Under street review"),
    "processing": _("Being processed"),
    "incident": _("Held up by a system fault"),
    "concluded": _("Concluded"),
    "suspended": _("Suspended by an administrator"),
    "withdrawn": _("Withdrawn"),
}

#: How a concluded case ended (the ``outcome`` property of the BPMN end event).
OUTCOMES: dict[str, Message] = {
    "approved": _("Approved"),
    "refused": _("Not accepted"),
    "denied": _("Not approved"),
    "ineligible": _("Conditions not met"),
    "identity_mismatch": _("Identity does not match"),
    "closed": _("Closed"),
    "supplement_expired": _("Material not supplied in time"),
    "withdrawn": _("Withdrawn by the applicant"),
    "answered": _("Answered"),
    "followed_up": _("Followed up"),
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
    "accept": _("Accept"),
    "refuse": _("Do not accept"),
    "supplement": _("Ask for more material"),
    "approve": _("Approve"),
    "deny": _("Do not approve"),
    "submit": _("Send the material"),
    "retry": _("Try again"),
    "close": _("Close the case"),
    "return": _("Send back"),
    "co_review": _("Ask for a co-review"),
    "answer": _("Answer"),
    "done": _("Dealt with"),
    "agree": _("Agree"),
    "disagree": _("Disagree"),
    "transfer": _("Transfer"),
    # O2O steps (a provider's 接单 is not an officer's 受理: phrases, not bare codes)
    "decline": _("decline the order"),
    "arrive": _("arrived"),
    "confirm": _("confirm completion"),
    "assign": _("assign a provider"),
    "cancel": _("cancel the order"),
}

#: Kinds of case timeline entries (:class:`huiju.models.CaseEvent`), in the officer's terms.
TIMELINE: dict[str, Message] = {
    "submitted": _("Application received"),
    "process_started": _("Handling started"),
    "service_requested": _("Government system called"),
    "service_replied": _("Government system answered"),
    "service_failed": _("Government system call failed"),
    "service_ignored": _("Late answer set aside"),
    "service_cancelled": _("Government system call withdrawn"),
    "incident": _("Held up by a system fault"),
    "incident_retried": _("Sent again after a fault"),
    "task_ready": _("Step opened"),
    "task_completed": _("Step decided"),
    "task_cancelled": _("Step cancelled"),
    "timer_fired": _("Time limit reached"),
    "process_completed": _("Case concluded"),
    "task_claimed": _("Task taken"),
    "task_released": _("Task given back to the queue"),
    "task_transferred": _("Task transferred"),
    "task_assigned": _("Handed back to the officer who asked for the material"),
    "returned": _("Sent back"),
    "co_review_requested": _("Co-review requested"),
    "clock_paused": _("Clock stopped"),
    "clock_resumed": _("Clock restarted"),
    "reminder": _("Reminder sent"),
    "escalated": _("Escalated for supervision"),
    "material_uploaded": _("Material uploaded"),
    "withdrawn": _("Withdrawn by the applicant"),
    "rated": _("Rated by the applicant"),
    "deadline_recomputed": _("Time limits recomputed"),
    "message_received": _("Decision received from the extranet"),
    "sms_delivered": _("SMS delivered"),
    "sms_failed": _("SMS not delivered"),
    "document_issued": _("Written document issued"),
    "callback_held": _("Callback held until the request it answers is settled"),
    "suspended": _("Case suspended by an administrator"),
    "resumed": _("Case resumed"),
    "moved": _("Case moved to another step"),
    "migrated": _("Case moved to a newer version of its process"),
}

#: Account roles (:class:`huiju.models.Role`) and the lanes of the processes.
ROLES: dict[str, Message] = {
    "resident": _("Resident"),
    "community_officer": _("Community officer"),
    "street_reviewer": _("Street reviewer"),
    "administrator": _("Administrator"),
    "integrator": _("Integrator"),
    "applicant": _("Applicant"),
    "system": _("Huiju (automatic)"),
    "provider": _("Service provider"),
    "operator": _("Platform operator"),
}

#: The government systems behind the adapters.
SYSTEMS: dict[str, Message] = {
    "citizen_info": _("Citizen information system"),
    "sms": _("SMS platform"),
    "egov_approval": _("E-gov extranet approval platform"),
    "data_exchange": _("Data exchange platform"),
    "payment": _("Payment platform"),
    "huiju": _("Huiju"),
}

#: Operations of the adapters (:data:`adapters.registry.OPERATIONS`).
OPERATIONS: dict[str, Message] = {
    "citizen_info.verify_identity": _("Verify the identity"),
    "citizen_info.query_person": _("Look up the person's registration"),
    "sms.send_sms": _("Send an SMS"),
    "sms.query_delivery": _("Ask whether an SMS arrived"),
    "egov.submit_case": _("Report the case to the extranet"),
    "egov.query_case": _("Ask the extranet about the case"),
    "data_exchange.publish_record": _("Share a record"),
    "data_exchange.query_records": _("Look up shared records"),
    "payment.create_payment": _("Ask for a payment"),
    "payment.query_payment": _("Ask what became of a payment"),
    "payment.refund": _("Refund a payment"),
    "NotifyDecision": _("Decision from the extranet"),
    "NotifyDelivery": _("SMS delivery report"),
    "NotifyPayment": _("Payment report"),
}

#: States of a message with a government system: outbox status, log direction, kind and outcome.
MESSAGES: dict[str, Message] = {
    "pending": _("Waiting to be sent"),
    "delivered": _("Delivered"),
    "dead": _("Failed"),
    "cancelled": _("Withdrawn"),
    "out": _("Sent"),
    "in": _("Received"),
    "request": _("Request"),
    "reply": _("Reply"),
    "callback": _("Callback"),
    "refusal": _("Refusal"),
    "sent": _("Sent"),
    "transient_failure": _("Failed, will retry"),
    "permanent_failure": _("Failed for good"),
    "refused": _("Refused"),
    "accepted": _("Accepted"),
    "outbox": _("Outbox"),
}

#: The elderly-care subsidy's tiers (DMN ``subsidy_tier``).
TIERS: dict[str, Message] = {"A": _("Tier 1"), "B": _("Tier 2"), "C": _("Tier 3")}

#: Written documents (文书) of a case (:mod:`huiju.services.documents`).
DOCUMENTS: dict[str, Message] = {
    "acceptance_notice": _("Notice of acceptance"),
    "refusal_notice": _("Notice of non-acceptance"),
    "supplement_notice": _("Notice to supplement materials"),
    "approval_decision": _("Decision to grant"),
    "denial_decision": _("Decision not to grant"),
}

#: The five levels of 好差评.
RATINGS: dict[str, Message] = {
    "5": _("Very satisfied"),
    "4": _("Satisfied"),
    "3": _("Fairly satisfied"),
    "2": _("Dissatisfied"),
    "1": _("Very dissatisfied"),
}

#: Why a process instance is in incident (:mod:`huiju.services.incidents`).
INCIDENTS: dict[str, Message] = {
    "call_failed": _("A call to a government system failed"),
    "step_failed": _("A step of the process failed"),
    "stuck": _("The process cannot go on by itself"),
    "unknown": _("Reason not known"),
}

#: Where a case's process stands (:class:`workflows_bpmn.models.InstanceStatus`).
INSTANCES: dict[str, Message] = {
    "running": _("Running"),
    "incident": _("Held up by a system fault"),
    "completed": _("Ended"),
    "suspended": _("Suspended by an administrator"),
}

TABLES: dict[LabelKind, dict[str, Message]] = {
    "status": STATUSES,
    "outcome": OUTCOMES,
    "decision": DECISIONS,
    "timeline": TIMELINE,
    "role": ROLES,
    "system": SYSTEMS,
    "operation": OPERATIONS,
    "message": MESSAGES,
    "tier": TIERS,
    "document": DOCUMENTS,
    "rating": RATINGS,
    "incident": INCIDENTS,
    "instance": INSTANCES,
    "order_status": o2o.ORDER_STATUSES,
    "payment_status": o2o.PAYMENT_STATUSES,
    "payment_state": o2o.PAYMENT_STATES,
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
    "order_rating": o2o.RATINGS,
    "policy_setting": o2o.POLICY_SETTINGS,
}

#: The opinion (意见) a decision carries when the officer writes none: the phrase of the trade.
STANDARD_OPINIONS: dict[str, Message] = {
    "accept": _("The materials are complete and in the required form; the application is accepted."),
    "supplement": _("Please supply the materials listed, all at once."),
    "approve": _("Checked and found to meet the conditions; approved."),
    "agree": _("Agreed."),
    "retry": _("The system is working again; try again."),
    "submit": _("The materials asked for are attached."),
    "co_review": _("Please review this case with me."),
}


@lru_cache(maxsize=4096)  # the tables and the catalogues are fixed for the process's life
def label(kind: LabelKind, code: str, locale: str | None = None) -> str:
    """The words for ``code`` in ``locale``; an unknown code is shown as it is."""
    message = TABLES[kind].get(code)
    return message.localize(locale) if message is not None else code


def label_with_code(kind: LabelKind, code: str, locale: str | None = None) -> str:
    """``受理(accept)``: the words and, where a person types it back, the code."""
    shown = label(kind, code, locale)
    return code if shown == code else f"{shown}({code})"


@dataclass(frozen=True)
class Choices:
    """Codes a person may type back, each in words with its code (``社区专干(community_officer)``), listed
    in the reader's language: a parameter of a message that says what is allowed."""

    kind: LabelKind
    codes: tuple[str, ...]

    def localize(self, locale: str | None = None) -> str:
        separator = ", " if normalize(locale) == "en" else "、"
        return separator.join(label_with_code(self.kind, code, locale) for code in self.codes)


def known(kind: LabelKind, code: str) -> bool:
    return code in TABLES[kind]


def standard_opinion(decision: str, locale: str | None = "zh_CN") -> str:
    """The opinion a decision carries by default ("" where the officer must write one)."""
    message = STANDARD_OPINIONS.get(decision)
    return message.localize(normalize(locale)) if message is not None else ""
