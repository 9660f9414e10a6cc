"""Domain models (domain state; the engine's own tables live in :mod:`workflows_bpmn.models`)."""

from huiju.models.applications import BAD_RATING_LEVELS, Draft, Material, Rating
from huiju.models.audit import AuditEntry
from huiju.models.cases import FINAL, WITHDRAWABLE, Case, CaseEvent, CaseNumberCounter, CaseStatus
from huiju.models.documents import Document
from huiju.models.items import Item, ItemFormVersion, ItemKind, ItemState, ResponsibleLevel, Theme, TimeUnit
from huiju.models.metrics import MetricCounter
from huiju.models.orgs import Org, OrgLevel
from huiju.models.residents import Resident
from huiju.models.roster import ImportStatus, RosterImport
from huiju.models.sessions import PendingRegistration, WebSession
from huiju.models.users import Role, User

__all__ = [
    "AuditEntry",
    "BAD_RATING_LEVELS",
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
