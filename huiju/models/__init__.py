"""Domain models (domain state; the engine's own tables live in :mod:`workflows_bpmn.models`)."""

from huiju.models.applications import BAD_RATING_LEVELS, Draft, Material, Rating
from huiju.models.cases import FINAL, WITHDRAWABLE, Case, CaseEvent, CaseStatus
from huiju.models.documents import Document
from huiju.models.items import Item, ItemKind, ResponsibleLevel, Theme, TimeUnit
from huiju.models.orgs import Org, OrgLevel
from huiju.models.residents import Resident
from huiju.models.users import Role, User

__all__ = [
    "BAD_RATING_LEVELS",
    "FINAL",
    "WITHDRAWABLE",
    "Draft",
    "Material",
    "Rating",
    "Theme",
    "Case",
    "CaseEvent",
    "CaseStatus",
    "Document",
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
