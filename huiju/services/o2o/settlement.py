"""The monthly settlement (清分结算) per provider: orders confirmed in a month, what the service credit
and the residents paid, the platform's fee, what the provider is owed.

``huiju o2o settle 2026-11`` settles a month once it has ended (in China time), exactly once: the
first run writes one settlement per provider (unique per provider and month) and marks its orders;
each settlement is published to the data exchange platform as a record signed with Huiju's key, by
the ``o2o_settlement`` process (so through the outbox, the worker and the message log, with the
receiver's exactly-once by message id). A second run finds the month settled and publishes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import select
from sqlalchemy.orm import Session

from certs.store import SigningIdentity
from exchange.models import OutboxMessage
from huiju.calendar import CHINA
from huiju.db import utcnow
from huiju.errors import ConfigurationError, ConflictError, InputError, PermissionDenied
from huiju.i18n import _
from huiju.models import Order, OrderStatus, Provider, Role, Settlement, SettlementStatus
from huiju.services.actors import Actor
from huiju.services.o2o.credit import add_months, parse_month
from workflows_bpmn.mirror import StepResult
from workflows_bpmn.models import InstanceStatus
from workflows_bpmn.runner import Engine

PROCESS = "o2o_settlement"
DATASET = "o2o_settlement"
#: The fields of a published record that its signature covers, in this order.
SIGNED_FIELDS = (
    "settlement_number", "month", "provider_code", "provider_name", "credit_code", "orders", "total_fen",
    "credit_fen", "cash_fen", "fee_rate_bp", "fee_fen", "payable_fen", "created_at",
)  # fmt: skip


@dataclass
class SettleReport:
    month: str
    created: list[Settlement] = field(default_factory=list)
    existing: list[Settlement] = field(default_factory=list)  # settled before: nothing published again

    @property
    def already(self) -> bool:
        return bool(self.existing) and not self.created


def fee_of(total_fen: int, rate_bp: int) -> int:
    """The platform's fee, rounded half up to the fen, in integers."""
    return (total_fen * rate_bp + 5000) // 10000


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The month's start and end as UTC instants (China's month: midnight to midnight, UTC+8)."""
    year, number = parse_month(month)
    first = date(year, number, 1)
    start = datetime(first.year, first.month, 1, tzinfo=CHINA)
    nxt = add_months(first, 1)
    return start.astimezone(UTC), datetime(nxt.year, nxt.month, 1, tzinfo=CHINA).astimezone(UTC)


def canonical(record: dict[str, Any]) -> bytes:
    """What a settlement's signature covers: the signed fields as sorted, compact JSON (UTF-8)."""
    values = {name: str(record[name]) for name in SIGNED_FIELDS}
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sign_record(record: dict[str, Any], signer: SigningIdentity) -> dict[str, str]:
    """The signature fields of a record: ECDSA or RSA (PKCS#1 v1.5) over SHA-256 of :func:`canonical`."""
    data = canonical(record)
    if isinstance(signer.key, ec.EllipticCurvePrivateKey):
        signature = signer.key.sign(data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(signer.key, rsa.RSAPrivateKey):
        signature = signer.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:  # pragma: no cover - the PKI issues EC or RSA keys only
        raise ConfigurationError(_("the signing key is neither EC nor RSA"))
    return {
        "signature": base64.b64encode(signature).decode(),
        "signature_alg": "ecdsa-sha256" if signer.key_type == "ec" else "rsa-sha256",
        "signer_serial": signer.info.serial_hex,
        "signer_fingerprint": signer.info.fingerprint,
        "digest": hashlib.sha256(data).hexdigest(),
    }


def verify_record(record: dict[str, Any], certificate: Any) -> bool:
    """Whether ``record`` carries a valid signature by ``certificate`` (an x509 certificate)."""
    signature = base64.b64decode(str(record["signature"]))
    key = certificate.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, canonical(record), ec.ECDSA(hashes.SHA256()))
        else:
            key.verify(signature, canonical(record), padding.PKCS1v15(), hashes.SHA256())
    except Exception:  # cryptography raises InvalidSignature; any other failure is not valid either
        return False
    return True


def settle_month(
    session: Session, engine: Engine, actor: Actor, month: str, signer: Callable[[], SigningIdentity] | None,
    *, now: datetime | None = None,
) -> SettleReport:  # fmt: skip
    """Settle ``month`` (``2026-11``) for every provider with confirmed orders in it; once.

    ``signer`` gives Huiju's signing identity (loaded only when there is something to sign).
    """
    if actor.role not in (Role.OPERATOR, Role.ADMINISTRATOR):
        raise PermissionDenied(_("only the platform operator settles accounts"))
    start, end = month_bounds(month)
    month = start.astimezone(CHINA).strftime("%Y-%m")
    if (now or utcnow()) < end:
        raise InputError(_("{month} has not ended yet; settle it from the first day of the next month",
                           month=month), field="month")  # fmt: skip
    report = SettleReport(month)
    report.existing = list(session.scalars(select(Settlement).where(Settlement.month == month)))
    if report.existing:
        return report
    orders = session.scalars(
        select(Order).where(Order.status == OrderStatus.CONFIRMED, Order.confirmed_at >= start,
                            Order.confirmed_at < end, Order.settlement_id.is_(None), Order.provider_id.is_not(None))
        .order_by(Order.id)
    ).all()  # fmt: skip
    if orders and signer is None:
        raise ConfigurationError(_("settlement records are signed with Huiju's key: run huiju certs init"))
    identity = signer() if orders and signer is not None else None
    by_provider: dict[int, list[Order]] = defaultdict(list)
    for order in orders:
        by_provider[int(order.provider_id or 0)].append(order)
    created_at = (now or utcnow()).astimezone(UTC).isoformat(timespec="seconds")
    for provider_id in sorted(by_provider):
        provider = session.get(Provider, provider_id)
        assert provider is not None and identity is not None  # noqa: S101 - a foreign key; checked above
        report.created.append(_settle(session, engine, actor, provider, month, by_provider[provider_id],
                                      identity, created_at))  # fmt: skip
    return report


def _settle(
    session: Session, engine: Engine, actor: Actor, provider: Provider, month: str, orders: list[Order],
    signer: SigningIdentity, created_at: str,
) -> Settlement:  # fmt: skip
    total = sum(o.total_fen for o in orders)
    credit, cash = sum(o.credit_fen for o in orders), sum(o.cash_fen for o in orders)
    fee = fee_of(total, provider.fee_rate_bp)
    number = f"JS{month.replace('-', '')}{provider.code}"
    record: dict[str, Any] = {
        "settlement_number": number, "month": month, "provider_code": provider.code, "provider_name": provider.name,
        "credit_code": provider.credit_code, "orders": len(orders), "total_fen": total, "credit_fen": credit,
        "cash_fen": cash, "fee_rate_bp": provider.fee_rate_bp, "fee_fen": fee, "payable_fen": total - fee,
        "created_at": created_at,
    }  # fmt: skip
    record.update(sign_record(record, signer))
    settlement = Settlement(
        provider_id=provider.id, month=month, orders=len(orders), total_fen=total, credit_fen=credit, cash_fen=cash,
        fee_fen=fee, payable_fen=total - fee, record=record, status=SettlementStatus.PUBLISHING,
        created_by=actor.username,
    )  # fmt: skip
    session.add(settlement)
    session.flush()
    for order in orders:
        order.settlement_id = settlement.id
    result = engine.start(
        session, PROCESS, data={"dataset": DATASET, "record": {k: str(v) for k, v in record.items()}},
        context={"settlement_id": settlement.id, "case_number": number, "actor": actor.username},
        actor=actor.username,
    )  # fmt: skip
    settlement.process_instance_id = result.instance.id
    return settlement


def on_step(session: Session, result: StepResult) -> None:
    """Listener part: a settlement is published when its process ends; failed when it is stuck."""
    settlement_id = result.instance.context.get("settlement_id")
    settlement = session.get(Settlement, settlement_id) if settlement_id is not None else None
    if settlement is None:
        return
    instance = result.instance
    if instance.status is InstanceStatus.COMPLETED and instance.outcome == "published":
        reply = session.scalar(
            select(OutboxMessage.reply).where(OutboxMessage.process_instance_id == instance.id,
                                              OutboxMessage.operation == "data_exchange.publish_record")
        ) or {}  # fmt: skip
        settlement.status, settlement.published_at = SettlementStatus.PUBLISHED, utcnow()
        settlement.record_id = str(reply.get("record_id") or "") or None
    elif instance.status is InstanceStatus.INCIDENT:
        settlement.status = SettlementStatus.FAILED
    elif settlement.status is SettlementStatus.FAILED:
        settlement.status = SettlementStatus.PUBLISHING  # sent again after an incident


def settlements(session: Session, actor: Actor, month: str | None = None) -> list[Settlement]:
    if actor.role not in (Role.OPERATOR, Role.ADMINISTRATOR):
        raise PermissionDenied(_("only the platform operator reads settlements"))
    stmt = select(Settlement).order_by(Settlement.month.desc(), Settlement.provider_id)
    if month:
        start, _end = month_bounds(month)
        stmt = stmt.where(Settlement.month == start.astimezone(CHINA).strftime("%Y-%m"))
    return list(session.scalars(stmt.limit(1000)))


def orders_of(session: Session, settlement: Settlement) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.settlement_id == settlement.id).order_by(Order.id)))


def last_month(today: date | None = None) -> str:
    day = today or utcnow().astimezone(CHINA).date()
    previous = day.replace(day=1) - timedelta(days=1)
    return f"{previous.year:04d}-{previous.month:02d}"


def require_settled(report: SettleReport) -> None:
    if not report.created and not report.existing:
        raise ConflictError(_("no order was confirmed in {month}: nothing to settle", month=report.month))
