"""The item catalog (事项目录): what a resident can apply for, and how it is handled."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from huiju.db import Base


class ItemKind(enum.StrEnum):
    APPROVAL = "approval"  # 行政审批
    PUBLIC_SERVICE = "public_service"  # 公共服务
    CONVENIENCE = "convenience_service"  # 便民服务
    O2O = "o2o"  # 社区服务 O2O


class ResponsibleLevel(enum.StrEnum):
    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"


class TimeUnit(enum.StrEnum):
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"


class Item(Base):
    __tablename__ = "item"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[ItemKind] = mapped_column(Enum(ItemKind, native_enum=False, length=32))
    responsible_level: Mapped[ResponsibleLevel] = mapped_column(
        Enum(ResponsibleLevel, native_enum=False, length=16)
    )
    statutory_limit: Mapped[int]  # 法定时限
    committed_limit: Mapped[int]  # 承诺时限
    limit_unit: Mapped[TimeUnit] = mapped_column(Enum(TimeUnit, native_enum=False, length=16))
    required_materials: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    form_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    process_id: Mapped[str] = mapped_column(String(100))
    # How long a resident has to answer a request for more material (补正), ISO 8601 duration.
    supplement_wait: Mapped[str] = mapped_column(String(32), default="P30D")
    active: Mapped[bool] = mapped_column(default=True)
