"""Domain models (domain state; the engine's own tables live in :mod:`workflows_bpmn.models`)."""

from huiju.models.applications import BAD_RATING_LEVELS, Draft, Material, Rating
from huiju.models.audit import AuditEntry
from huiju.models.cases import FINAL, WITHDRAWABLE, Case, CaseEvent, CaseNumberCounter, CaseStatus
from huiju.models.documents import Document, DocumentNumberCounter
from huiju.models.items import Item, ItemFormVersion, ItemKind, ItemState, ResponsibleLevel, Theme, TimeUnit
from huiju.models.metrics import MetricCounter
from huiju.models.o2o import (
    FamilyLink,
    LinkStatus,
    Provider,
    ProviderArea,
    ProviderKind,
    ProviderStaff,
    ProviderStatus,
    Service,
    ServiceCategory,
    ServiceUnit,
    TimeSlot,
)
from huiju.models.o2o_credit import (
    CreditAccount,
    CreditEntry,
    CreditKind,
    Entitlement,
    O2OPolicy,
    Open311Client,
    Settlement,
    SettlementStatus,
)
from huiju.models.o2o_orders import (
    CANCELLABLE,
    FINAL_ORDER,
    Complaint,
    ComplaintStatus,
    OfferOutcome,
    Order,
    OrderEvent,
    OrderOffer,
    OrderRating,
    OrderStatus,
    PaymentStatus,
)
from huiju.models.orgs import Org, OrgLevel
from huiju.models.residents import Resident
from huiju.models.roster import ImportStatus, RosterImport
from huiju.models.sessions import PendingRegistration, WebSession
from huiju.models.users import Role, User

__all__ = [
    "AuditEntry",
    "BAD_RATING_LEVELS",
    "CANCELLABLE",
    "FINAL_ORDER",
    "Complaint",
    "ComplaintStatus",
    "CreditAccount",
    "CreditEntry",
    "CreditKind",
    "Entitlement",
    "FamilyLink",
    "LinkStatus",
    "O2OPolicy",
    "OfferOutcome",
    "Open311Client",
    "Order",
    "OrderEvent",
    "OrderOffer",
    "OrderRating",
    "OrderStatus",
    "PaymentStatus",
    "Provider",
    "ProviderArea",
    "ProviderKind",
    "ProviderStaff",
    "ProviderStatus",
    "Service",
    "ServiceCategory",
    "ServiceUnit",
    "Settlement",
    "SettlementStatus",
    "TimeSlot",
    "FINAL",
    "WITHDRAWABLE",
    "Draft",
    "Material",
    "Rating",
    "Theme",
    "Case",
    "CaseEvent",
    "CaseNumberCounter",
    "CaseStatus",
    "Document",
    "DocumentNumberCounter",
    "Item",
    "ItemFormVersion",
    "ImportStatus",
    "ItemKind",
    "MetricCounter",
    "ItemState",
    "Org",
    "PendingRegistration",
    "OrgLevel",
    "Resident",
    "ResponsibleLevel",
    "Role",
    "RosterImport",
    "TimeUnit",
    "User",
    "WebSession",
]
