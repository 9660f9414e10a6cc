"""The item catalog (事项目录): what a resident can apply for, and how it is handled."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huiju import reference
from huiju.db import Base, UTCDateTime, utcnow
from huiju.i18n import normalize


class ItemKind(enum.StrEnum):
    APPROVAL = "approval"  # 行政审批
    PUBLIC_SERVICE = "public_service"  # 公共服务
    CONVENIENCE = "convenience_service"  # 便民服务
    O2O = "o2o"  # 社区服务 O2O
    SERVICE_REQUEST = "service_request"  # 居民诉求: repair, complaint, consultation


class Theme(enum.StrEnum):
    """What residents browse the catalog by (主题)."""

    ELDERLY_CARE = "elderly_care"  # 养老服务
    SOCIAL_ASSISTANCE = "social_assistance"  # 社会救助
    CERTIFICATES = "certificates"  # 证明开具
    EMPLOYMENT = "employment"  # 就业创业
    FAMILY = "family"  # 婚育家庭
    SERVICE_REQUESTS = "service_requests"  # 居民诉求
    OTHER = "other"


class ResponsibleLevel(enum.StrEnum):
    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"


class TimeUnit(enum.StrEnum):
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"


class ItemState(enum.StrEnum):
    """An item's life in the catalogue: prepared, offered to residents, no longer offered."""

    DRAFT = "draft"  # 草稿: being prepared, not shown in the portal
    PUBLISHED = "published"  # 已发布: residents apply for it
    WITHDRAWN = "withdrawn"  # 已停办: no new applications; cases already submitted go on


class Item(Base):
    __tablename__ = "item"
    __table_args__ = reference.table_info()  # the inbox's item filter is kept between requests

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[ItemKind] = mapped_column(Enum(ItemKind, native_enum=False, length=32))
    responsible_level: Mapped[ResponsibleLevel] = mapped_column(Enum(ResponsibleLevel, native_enum=False, length=16))
    statutory_limit: Mapped[int]  # 法定时限
    committed_limit: Mapped[int]  # 承诺时限
    limit_unit: Mapped[TimeUnit] = mapped_column(Enum(TimeUnit, native_enum=False, length=16))
    required_materials: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    form_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    process_id: Mapped[str] = mapped_column(String(100))
    # How long a resident has to answer a request for more material (补正), ISO 8601 duration.
    supplement_wait: Mapped[str] = mapped_column(String(32), default="P30D")
    theme: Mapped[Theme] = mapped_column(Enum(Theme, native_enum=False, length=32), default=Theme.OTHER)
    # What a resident reads before applying, in plain words: {"zh": ..., "en": ...} each.
    summary: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    eligibility: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # 申请条件
    steps: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # 办理流程
    # Offered to residents: kept equal to ``state is PUBLISHED`` by the catalogue service.
    active: Mapped[bool] = mapped_column(default=True)
    state: Mapped[ItemState] = mapped_column(Enum(ItemState, native_enum=False, length=16), default=ItemState.PUBLISHED)
    # The version of the form (form_schema and required_materials) new applications use; every
    # version is kept in item_form_version, and a case keeps the one it was submitted with.
    form_version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(64))

    def name_in(self, locale: str | None) -> str:
        """The item's name on a page in ``locale`` (the Chinese name where it has no English one)."""
        return self.name_en if normalize(locale) == "en" and self.name_en else self.name


class ItemFormVersion(Base):
    """One version of an item's application form: its JSON Schema and required materials."""

    __tablename__ = "item_form_version"
    __table_args__ = (UniqueConstraint("item_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    version: Mapped[int]
    form_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    required_materials: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
