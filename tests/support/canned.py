"""What the government systems answer, for tests that settle the outbox in-process (no sandbox).

The shapes are those of the adapters' replies (``adapters.registry``); a person comes from the
sandbox's seeded people when known, so that names and birth dates agree with the seed data.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from itertools import count
from typing import Any

from sqlalchemy import select

from adapters.sandbox.people import find
from exchange.models import MessageStatus, OutboxMessage
from huiju import idnumber
from huiju.app.callbacks import deliver_decision
from huiju.db import utcnow
from huiju.runtime import Runtime

_serial = count(1)


def canned_reply(message: OutboxMessage) -> dict[str, Any]:
    params, n = message.params, next(_serial)
    if message.operation == "citizen_info.verify_identity":
        return {"match": True, "reason": None}
    if message.operation == "citizen_info.query_person":
        person = find(params["id_number"])
        return {
            "id_number": params["id_number"],
            "name": person.name if person else "张桂兰",
            "gender": idnumber.gender(params["id_number"]),
            "birth_date": idnumber.birth_date(params["id_number"]).isoformat(),
            "registered_address": person.registered_address if person else "北京市朝阳区建外街道永安里1号",
            "household": [],
        }
    if message.operation == "sms.send_sms":
        return {"sms_id": f"SMS{n:08d}", "accepted": True}
    if message.operation == "egov.submit_case":
        return {"receipt_number": f"ZW{n:010d}", "received_at": "2026-03-02T10:00:00+08:00"}
    if message.operation == "data_exchange.publish_record":
        return {"record_id": f"REC-{params.get('dataset', 'x')}-{n}"}
    if message.operation == "payment.create_payment":
        return {"payment_id": f"PAY-{n:08d}", "status": "pending", "pay_url": f"https://pay.example/{n}",
                "created_at": "2026-03-02T10:00:00+08:00"}  # fmt: skip
    if message.operation == "payment.refund":  # the canned payer has always paid: a refund is under way
        return {"payment_id": params["payment_id"], "status": "refunding", "refund_id": f"RF-{n:08d}"}
    raise AssertionError(f"no canned reply for {message.operation}")


def deliver_replies(
    runtime: Runtime,
    reply: Callable[[OutboxMessage], dict[str, Any]] = canned_reply,
    *,
    operations: Collection[str] | None = None,
) -> list[str]:
    """Answer every pending outbox message and settle it, until the cases wait for people again.

    With ``operations``, only messages of those operations are answered: the others stay pending (e.g.
    ``{"sms.send_sms"}`` settles a subsidy's receipt SMS and leaves the identity check it sends waiting).
    """
    done: list[str] = []
    while True:
        with runtime.db.transaction() as session:
            query = (
                select(OutboxMessage)
                .where(OutboxMessage.settled_at.is_(None), OutboxMessage.status == MessageStatus.PENDING)
                .order_by(OutboxMessage.id)
            )
            if operations is not None:
                query = query.where(OutboxMessage.operation.in_(list(operations)))
            pending = session.scalars(query).all()
            for message in pending:
                message.status = MessageStatus.DELIVERED
                message.reply = reply(message)
                message.attempts += 1
                message.delivered_at = utcnow()
            batch = [(m.message_id, m.operation) for m in pending]
        if not batch:
            return done
        for message_id, operation in batch:
            with runtime.db.transaction() as session:
                runtime.engine.settle(session, message_id)
            done.append(operation)
            if operation == "egov.submit_case":  # the extranet decides at once and calls back
                with runtime.db.transaction() as session:
                    message = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one()
                    if message.reply is not None:
                        deliver_decision(session, runtime.engine, str(message.case_number),
                                         str(message.reply["receipt_number"]))  # fmt: skip
