"""Domain models (domain state; the engine's own tables live in :mod:`workflows_bpmn.models`)."""

from huiju.models.cases import Case, CaseEvent, CaseStatus
from huiju.models.items import Item, ItemKind, ResponsibleLevel, TimeUnit
from huiju.models.orgs import Org, OrgLevel
from huiju.models.residents import Resident
from huiju.models.users import Role, User

__all__ = [
    "Case",
    "CaseEvent",
    "CaseStatus",
    "Item",
    "ItemKind",
    "Org",
    "OrgLevel",
    "Resident",
    "ResponsibleLevel",
    "Role",
    "TimeUnit",
    "User",
]
