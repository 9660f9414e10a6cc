"""A call to a government system made while a person waits (not through the outbox).

Most calls go through the outbox and are delivered by a worker. A few must be answered within
the request that needs them, such as checking a resident's identity when they register (the
account is created only if the citizen information system agrees). Such a call is signed and
verified like any other, and what went over the wire goes to the message log in a transaction of
its own, so that the record stays even when the caller refuses what came back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from adapters import client as adapter_client
from adapters import registry as adapter_registry
from adapters.config import get_config
from adapters.signing import Exchanged
from exchange.delivery import Caller, Claimed, log_exchange, send
from exchange.security import ExchangeSecurity
from huiju.db import Database
from huiju.errors import HuijuError


def call_now(
    db: Database,
    operation: str,
    params: dict[str, Any],
    *,
    user_id: str,
    security: Callable[[], ExchangeSecurity] | None,
    case_number: str | None = None,
    caller: Caller = adapter_client.call,
    message_id: str | None = None,
) -> dict[str, Any]:
    """Call ``operation`` once, now, and return its reply; every exchange is logged (under
    ``message_id`` when given, a new one otherwise).

    Raises what the adapter raises (InputError before sending, Transient/PermanentAdapterError).
    """
    spec = adapter_registry.validate_params(operation, params)
    with db.sessions() as session:
        settings = get_config(session, spec.system).snapshot()
    claimed = Claimed(
        message_id=message_id or str(uuid.uuid4()), operation=operation, params=dict(params), user_id=user_id,
        case_number=case_number, attempt=1, settings=settings,
    )  # fmt: skip
    exchanged: list[Exchanged] = []
    error: HuijuError | None = None
    reply: dict[str, Any] = {}
    try:
        reply = send(caller, claimed, security, exchanged)
    except HuijuError as exc:
        error = exc
    if exchanged:
        with db.transaction() as session:
            for record in exchanged:
                log_exchange(session, claimed, record, error)
    if error is not None:
        raise error
    return reply
