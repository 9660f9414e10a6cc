"""Community services O2O: providers, services, slots, family links, orders, service credit,
settlements, the platform's rules and the Open311 channels.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06 02:56:45.252555
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huiju.db

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "o2o_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("accept_within", sa.String(length=16), nullable=False),
        sa.Column("payment_wait", sa.String(length=16), nullable=False),
        sa.Column("confirm_within", sa.String(length=16), nullable=False),
        sa.Column("complaint_days", sa.Integer(), nullable=False),
        sa.Column("rating_threshold_tenths", sa.Integer(), nullable=False),
        sa.Column("rating_min_count", sa.Integer(), nullable=False),
        sa.Column("credit_months", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint("rating_threshold_tenths BETWEEN 10 AND 50", name=op.f("ck_o2o_policy_rating_threshold")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_policy")),
    )
    op.create_table(
        "o2o_provider",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("COMPANY", "PROPERTY", "NONPROFIT", name="providerkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("contact_name", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column(
            "status",
            sa.Enum("ACTIVE", "SUSPENDED", name="providerstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("suspended_reason", sa.Text(), nullable=False),
        sa.Column("fee_rate_bp", sa.Integer(), nullable=False),
        sa.Column("joined_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("fee_rate_bp BETWEEN 0 AND 10000", name=op.f("ck_o2o_provider_fee_rate_bp")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_provider")),
        sa.UniqueConstraint("code", name=op.f("uq_o2o_provider_code")),
        sa.UniqueConstraint("credit_code", name=op.f("uq_o2o_provider_credit_code")),
    )
    op.create_table(
        "open311_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_digest", sa.String(length=64), nullable=False),
        sa.Column("key_hint", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_client")),
        sa.UniqueConstraint("key_digest", name=op.f("uq_open311_client_key_digest")),
        sa.UniqueConstraint("name", name=op.f("uq_open311_client_name")),
    )
    op.create_table(
        "o2o_provider_area",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["org.id"], name=op.f("fk_o2o_provider_area_community_id_org")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["o2o_provider.id"], name=op.f("fk_o2o_provider_area_provider_id_o2o_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_provider_area")),
        sa.UniqueConstraint("provider_id", "community_id", name=op.f("uq_o2o_provider_area_provider_id")),
    )
    with op.batch_alter_table("o2o_provider_area", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_o2o_provider_area_community_id"), ["community_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_o2o_provider_area_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "o2o_service",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "HOME_CARE",
                "MEAL_DELIVERY",
                "BATHING",
                "HEALTH_CHECK",
                "HOUSEKEEPING",
                "REPAIR",
                "PROPERTY",
                name="servicecategory",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column(
            "unit", sa.Enum("VISIT", "MEAL", "HOUR", name="serviceunit", native_enum=False, length=16), nullable=False
        ),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("credit_eligible", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("duration_minutes > 0", name=op.f("ck_o2o_service_duration_minutes")),
        sa.CheckConstraint("price_fen > 0", name=op.f("ck_o2o_service_price_fen")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["o2o_provider.id"], name=op.f("fk_o2o_service_provider_id_o2o_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_service")),
        sa.UniqueConstraint("code", name=op.f("uq_o2o_service_code")),
    )
    with op.batch_alter_table("o2o_service", schema=None) as batch_op:
        batch_op.create_index("ix_o2o_service_category", ["category", "active"], unique=False)
        batch_op.create_index(batch_op.f("ix_o2o_service_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "o2o_settlement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.Integer(), nullable=False),
        sa.Column("credit_fen", sa.Integer(), nullable=False),
        sa.Column("cash_fen", sa.Integer(), nullable=False),
        sa.Column("fee_fen", sa.Integer(), nullable=False),
        sa.Column("payable_fen", sa.Integer(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("PUBLISHING", "PUBLISHED", "FAILED", name="settlementstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("process_instance_id", sa.Integer(), nullable=True),
        sa.Column("record_id", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("payable_fen = total_fen - fee_fen", name=op.f("ck_o2o_settlement_payable")),
        sa.CheckConstraint("total_fen = credit_fen + cash_fen", name=op.f("ck_o2o_settlement_split")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["o2o_provider.id"], name=op.f("fk_o2o_settlement_provider_id_o2o_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_settlement")),
        sa.UniqueConstraint("provider_id", "month", name=op.f("uq_o2o_settlement_provider_id")),
    )
    with op.batch_alter_table("o2o_settlement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_o2o_settlement_process_instance_id"), ["process_instance_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_o2o_settlement_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "o2o_credit_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("balance_fen", sa.Integer(), nullable=False),
        sa.Column("updated_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("balance_fen >= 0", name=op.f("ck_o2o_credit_account_balance_fen")),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_o2o_credit_account_resident_id_resident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_credit_account")),
        sa.UniqueConstraint("resident_id", name=op.f("uq_o2o_credit_account_resident_id")),
    )
    op.create_table(
        "o2o_slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name=op.f("ck_o2o_slot_booked")),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_o2o_slot_capacity")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_o2o_slot_period")),
        sa.ForeignKeyConstraint(["service_id"], ["o2o_service.id"], name=op.f("fk_o2o_slot_service_id_o2o_service")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_slot")),
        sa.UniqueConstraint("service_id", "starts_at", name=op.f("uq_o2o_slot_service_id")),
    )
    with op.batch_alter_table("o2o_slot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_o2o_slot_service_id"), ["service_id"], unique=False)

    op.create_table(
        "o2o_family_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column(
            "status",
            sa.Enum("PENDING", "ACTIVE", "REVOKED", name="linkstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("code_mac", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("requested_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consented_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["parent_id"], ["resident.id"], name=op.f("fk_o2o_family_link_parent_id_resident")),
        sa.ForeignKeyConstraint(["user_id"], ["huiju_user.id"], name=op.f("fk_o2o_family_link_user_id_huiju_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_family_link")),
        sa.UniqueConstraint("user_id", "parent_id", name=op.f("uq_o2o_family_link_user_id")),
    )
    with op.batch_alter_table("o2o_family_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_o2o_family_link_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_o2o_family_link_user_id"), ["user_id"], unique=False)

    op.create_table(
        "o2o_provider_staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["o2o_provider.id"], name=op.f("fk_o2o_provider_staff_provider_id_o2o_provider")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["huiju_user.id"], name=op.f("fk_o2o_provider_staff_user_id_huiju_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_provider_staff")),
        sa.UniqueConstraint("user_id", name=op.f("uq_o2o_provider_staff_user_id")),
    )
    with op.batch_alter_table("o2o_provider_staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_o2o_provider_staff_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "o2o_entitlement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("monthly_fen", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("granted_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("monthly_fen > 0", name=op.f("ck_o2o_entitlement_monthly_fen")),
        sa.CheckConstraint("valid_until >= valid_from", name=op.f("ck_o2o_entitlement_validity")),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_o2o_entitlement_case_id_case")),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"], name=op.f("fk_o2o_entitlement_resident_id_resident")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_entitlement")),
        sa.UniqueConstraint("case_id", name=op.f("uq_o2o_entitlement_case_id")),
    )
    with op.batch_alter_table("o2o_entitlement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_o2o_entitlement_resident_id"), ["resident_id"], unique=False)

    op.create_table(
        "o2o_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "HOME_CARE",
                "MEAL_DELIVERY",
                "BATHING",
                "HEALTH_CHECK",
                "HOUSEKEEPING",
                "REPAIR",
                "PROPERTY",
                name="servicecategory",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("beneficiary_id", sa.Integer(), nullable=False),
        sa.Column("ordered_by_id", sa.Integer(), nullable=False),
        sa.Column("contact_phone", sa.String(length=20), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_fen", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.Integer(), nullable=False),
        sa.Column("credit_fen", sa.Integer(), nullable=False),
        sa.Column("cash_fen", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PLACED",
                "DISPATCHED",
                "UNASSIGNED",
                "ACCEPTED",
                "ON_THE_WAY",
                "DONE",
                "CONFIRMED",
                "CANCELLED",
                name="orderstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "payment_status",
            sa.Enum(
                "NONE",
                "PENDING",
                "PAID",
                "FAILED",
                "REFUNDING",
                "REFUNDED",
                "CLOSED",
                name="paymentstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("payment_id", sa.String(length=64), nullable=True),
        sa.Column("process_instance_id", sa.Integer(), nullable=True),
        sa.Column("placed_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=False),
        sa.Column("done_note", sa.Text(), nullable=False),
        sa.Column("done_photo_id", sa.Integer(), nullable=True),
        sa.Column("settlement_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "credit_fen >= 0 AND cash_fen >= 0 AND unit_price_fen > 0", name=op.f("ck_o2o_order_amounts")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_o2o_order_quantity")),
        sa.CheckConstraint("total_fen = credit_fen + cash_fen", name=op.f("ck_o2o_order_split")),
        sa.ForeignKeyConstraint(["beneficiary_id"], ["resident.id"], name=op.f("fk_o2o_order_beneficiary_id_resident")),
        sa.ForeignKeyConstraint(["community_id"], ["org.id"], name=op.f("fk_o2o_order_community_id_org")),
        sa.ForeignKeyConstraint(["done_photo_id"], ["material.id"], name=op.f("fk_o2o_order_done_photo_id_material")),
        sa.ForeignKeyConstraint(
            ["ordered_by_id"], ["huiju_user.id"], name=op.f("fk_o2o_order_ordered_by_id_huiju_user")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["o2o_provider.id"], name=op.f("fk_o2o_order_provider_id_o2o_provider")
        ),
        sa.ForeignKeyConstraint(["service_id"], ["o2o_service.id"], name=op.f("fk_o2o_order_service_id_o2o_service")),
        sa.ForeignKeyConstraint(
            ["settlement_id"], ["o2o_settlement.id"], name=op.f("fk_o2o_order_settlement_id_o2o_settlement")
        ),
        sa.ForeignKeyConstraint(["slot_id"], ["o2o_slot.id"], name=op.f("fk_o2o_order_slot_id_o2o_slot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_order")),
        sa.UniqueConstraint("number", name=op.f("uq_o2o_order_number")),
    )
    with op.batch_alter_table("o2o_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_o2o_order_beneficiary_id"), ["beneficiary_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_o2o_order_community_id"), ["community_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_o2o_order_ordered_by_id"), ["ordered_by_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_o2o_order_payment_id"), ["payment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_o2o_order_process_instance_id"), ["process_instance_id"], unique=False)
        batch_op.create_index("ix_o2o_order_provider_status", ["provider_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_o2o_order_service_id"), ["service_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_o2o_order_settlement_id"), ["settlement_id"], unique=False)
        batch_op.create_index("ix_o2o_order_status", ["status"], unique=False)

    op.create_table(
        "o2o_complaint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("raised_by", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "status", sa.Enum("OPEN", "ANSWERED", name="complaintstatus", native_enum=False, length=16), nullable=False
        ),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("answered_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("process_instance_id", sa.Integer(), nullable=True),
        sa.Column("created_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["o2o_order.id"], name=op.f("fk_o2o_complaint_order_id_o2o_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_complaint")),
        sa.UniqueConstraint("number", name=op.f("uq_o2o_complaint_number")),
    )
    with op.batch_alter_table("o2o_complaint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_o2o_complaint_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_o2o_complaint_process_instance_id"), ["process_instance_id"], unique=False)

    op.create_table(
        "o2o_credit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("TOP_UP", "SPEND", "RETURN", name="creditkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("balance_after", sa.Integer(), nullable=False),
        sa.Column("entitlement_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.CheckConstraint("balance_after >= 0", name=op.f("ck_o2o_credit_entry_balance_after")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["o2o_credit_account.id"], name=op.f("fk_o2o_credit_entry_account_id_o2o_credit_account")
        ),
        sa.ForeignKeyConstraint(
            ["entitlement_id"], ["o2o_entitlement.id"], name=op.f("fk_o2o_credit_entry_entitlement_id_o2o_entitlement")
        ),
        sa.ForeignKeyConstraint(["order_id"], ["o2o_order.id"], name=op.f("fk_o2o_credit_entry_order_id_o2o_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_credit_entry")),
        sa.UniqueConstraint("entitlement_id", "period", name=op.f("uq_o2o_credit_entry_entitlement_id")),
        sa.UniqueConstraint("order_id", "kind", name=op.f("uq_o2o_credit_entry_order_id")),
    )
    with op.batch_alter_table("o2o_credit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_o2o_credit_entry_account_id"), ["account_id"], unique=False)

    op.create_table(
        "o2o_order_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["o2o_order.id"], name=op.f("fk_o2o_order_event_order_id_o2o_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_order_event")),
    )
    with op.batch_alter_table("o2o_order_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_o2o_order_event_order_id"), ["order_id"], unique=False)

    op.create_table(
        "o2o_order_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("offered_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "PENDING",
                "ACCEPTED",
                "DECLINED",
                "LAPSED",
                "WITHDRAWN",
                name="offeroutcome",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("answered_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["o2o_order.id"], name=op.f("fk_o2o_order_offer_order_id_o2o_order")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["o2o_provider.id"], name=op.f("fk_o2o_order_offer_provider_id_o2o_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_order_offer")),
        sa.UniqueConstraint("task_id", name=op.f("uq_o2o_order_offer_task_id")),
    )
    with op.batch_alter_table("o2o_order_offer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_o2o_order_offer_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_o2o_order_offer_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "o2o_order_rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_by", sa.String(length=64), nullable=False),
        sa.Column("rated_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name=op.f("ck_o2o_order_rating_level")),
        sa.ForeignKeyConstraint(["order_id"], ["o2o_order.id"], name=op.f("fk_o2o_order_rating_order_id_o2o_order")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["o2o_provider.id"], name=op.f("fk_o2o_order_rating_provider_id_o2o_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_o2o_order_rating")),
        sa.UniqueConstraint("order_id", name=op.f("uq_o2o_order_rating_order_id")),
    )
    with op.batch_alter_table("o2o_order_rating", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_o2o_order_rating_provider_id"), ["provider_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("o2o_order_rating", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_o2o_order_rating_provider_id"))

    op.drop_table("o2o_order_rating")
    with op.batch_alter_table("o2o_order_offer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_o2o_order_offer_provider_id"))
        batch_op.drop_index(batch_op.f("ix_o2o_order_offer_order_id"))

    op.drop_table("o2o_order_offer")
    with op.batch_alter_table("o2o_order_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_o2o_order_event_order_id"))

    op.drop_table("o2o_order_event")
    with op.batch_alter_table("o2o_credit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_o2o_credit_entry_account_id"))

    op.drop_table("o2o_credit_entry")
    with op.batch_alter_table("o2o_complaint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_o2o_complaint_process_instance_id"))
        batch_op.drop_index(batch_op.f("ix_o2o_complaint_order_id"))

    op.drop_table("o2o_complaint")
    with op.batch_alter_table("o2o_order", schema=None) as batch_op:
        batch_op.drop_index("ix_o2o_order_status")
        batch_op.drop_index(batch_op.f("ix_o2o_order_settlement_id"))
        batch_op.drop_index(batch_op.f("ix_o2o_order_service_id"))
        batch_op.drop_index("ix_o2o_order_provider_status")
        batch_op.drop_index(batch_op.f("ix_o2o_order_process_instance_id"))
        batch_op.drop_index(batch_op.f("ix_o2o_order_payment_id"))
        batch_op.drop_index(batch_op.f("ix_o2o_order_ordered_by_id"))
        batch_op.drop_index(batch_op.f("ix_o2o_order_community_id"))
        batch_op.drop_index(batch_op.f("ix_o2o_order_beneficiary_id"))

    op.drop_table("o2o_order")
    with op.batch_alter_table("o2o_entitlement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_o2o_entitlement_resident_id"))

    op.drop_table("o2o_entitlement")
    with op.batch_alter_table("o2o_provider_staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_o2o_provider_staff_provider_id"))

    op.drop_table("o2o_provider_staff")
    with op.batch_alter_table("o2o_family_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_o2o_family_link_user_id"))
        batch_op.drop_index(batch_op.f("ix_o2o_family_link_parent_id"))

    op.drop_table("o2o_family_link")
    with op.batch_alter_table("o2o_slot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_o2o_slot_service_id"))

    op.drop_table("o2o_slot")
    op.drop_table("o2o_credit_account")
    with op.batch_alter_table("o2o_settlement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_o2o_settlement_provider_id"))
        batch_op.drop_index(batch_op.f("ix_o2o_settlement_process_instance_id"))

    op.drop_table("o2o_settlement")
    with op.batch_alter_table("o2o_service", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_o2o_service_provider_id"))
        batch_op.drop_index("ix_o2o_service_category")

    op.drop_table("o2o_service")
    with op.batch_alter_table("o2o_provider_area", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_o2o_provider_area_provider_id"))
        batch_op.drop_index(batch_op.f("ix_o2o_provider_area_community_id"))

    op.drop_table("o2o_provider_area")
    op.drop_table("open311_client")
    op.drop_table("o2o_provider")
    op.drop_table("o2o_policy")
