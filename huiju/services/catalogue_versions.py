"""Versions of an item's application form (表单版本).

An item's form — its JSON Schema and its required materials — changes over time, while cases
submitted under an earlier form are still handled: each change of a published item's form is a new
:class:`~huiju.models.ItemFormVersion`, and a case keeps the version it was submitted with
(``Case.form_version``), so that its data is always read with the schema it was checked against.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from huiju.db import utcnow
from huiju.models import Item, ItemFormVersion


def form_versions(session: Session, item: Item) -> list[ItemFormVersion]:
    return list(
        session.scalars(
            select(ItemFormVersion).where(ItemFormVersion.item_id == item.id).order_by(ItemFormVersion.version)
        )
    )


def current_form_version(session: Session, item: Item) -> ItemFormVersion:
    """The version new applications are submitted with; an item kept before forms had versions gets
    its first one here, from what it holds."""
    version = item.form_version or 1
    stmt = select(ItemFormVersion).where(ItemFormVersion.item_id == item.id, ItemFormVersion.version == version)
    found = session.scalars(stmt).one_or_none()
    if found is not None:
        return found
    row = ItemFormVersion(
        item_id=item.id,
        version=version,
        form_schema=item.form_schema,
        required_materials=item.required_materials,
        created_at=utcnow(),
        created_by="system",
    )
    try:
        with session.begin_nested():  # first applications may arrive together: one of them makes it
            session.add(row)
    except IntegrityError:
        return session.scalars(stmt).one()
    if item.form_version != version:
        item.form_version = version
    return row


def add_form_version(
    session: Session,
    item: Item,
    schema: dict[str, Any],
    materials: list[dict[str, Any]],
    by: str,
    *,
    version: int | None = None,
) -> ItemFormVersion:
    """A new version of the item's form, made the one new applications use."""
    if version is None:
        last = session.scalar(
            select(ItemFormVersion.version)
            .where(ItemFormVersion.item_id == item.id)
            .order_by(ItemFormVersion.version.desc())
            .limit(1)
        )
        version = (last or 0) + 1
    row = ItemFormVersion(item_id=item.id, version=version, form_schema=schema, required_materials=materials,
                          created_at=utcnow(), created_by=by)  # fmt: skip
    session.add(row)
    item.form_schema, item.required_materials, item.form_version = schema, materials, version
    session.flush()
    return row
