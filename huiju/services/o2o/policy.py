"""The platform's rules (运营规则): one row of :class:`huiju.models.O2OPolicy`, edited by the operator."""

from __future__ import annotations

import re
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from huiju import reference
from huiju.errors import InputError, PermissionDenied
from huiju.i18n import _
from huiju.models import O2OPolicy, Role
from huiju.services.actors import Actor

#: ISO 8601 durations the process timers read: days, hours, minutes, seconds (no months, no years:
#: their length varies).
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
DURATION_FIELDS = ("accept_within", "payment_wait", "confirm_within")
#: The rules until the operator saves them.
DEFAULTS: dict[str, Any] = {
    "accept_within": "PT15M", "payment_wait": "PT30M", "confirm_within": "P3D", "complaint_days": 3,
    "rating_threshold_tenths": 30, "rating_min_count": 3, "credit_months": 12,
}  # fmt: skip
_POLICY = cast(Table, O2OPolicy.__table__)
NUMBER_FIELDS = {"complaint_days": (1, 30), "rating_threshold_tenths": (10, 50), "rating_min_count": (1, 100),
                 "credit_months": (1, 60)}  # fmt: skip


def seconds_of(duration: str) -> int:
    """The length of an ISO 8601 duration of days to seconds (``PT15M`` → 900); InputError otherwise."""
    match = _DURATION.match(duration.strip())
    if not match or duration.strip() in ("P", "PT") or duration.strip().endswith("T"):
        raise InputError(_("'{value}' is not a duration such as PT15M, PT2H or P3D", value=duration))
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def get_policy(session: Session) -> O2OPolicy:
    """The rules in force (the defaults until the operator saves them): a copy of its own to read,
    from what this process keeps between transactions (see :mod:`huiju.reference`)."""
    values = reference.cached(session, "o2o_policy", _read_policy)
    if values is None:
        return O2OPolicy(**DEFAULTS)
    return O2OPolicy(**values)


def _read_policy(session: Session) -> dict[str, Any] | None:
    row = session.execute(select(_POLICY).order_by(_POLICY.c.id).limit(1)).mappings().first()
    return dict(row) if row is not None else None


def update_policy(session: Session, actor: Actor, changes: dict[str, Any]) -> O2OPolicy:
    """Change some rules; every value is checked first, nothing is saved when one is refused."""
    if actor.role not in (Role.OPERATOR, Role.ADMINISTRATOR):
        raise PermissionDenied(_("only the platform operator sets the platform's rules"))
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name in DURATION_FIELDS:
            text = str(value).strip().upper()
            if seconds_of(text) <= 0:
                raise InputError(_("'{field}' must be longer than zero", field=name), field=name)
            checked[name] = text
        elif name in NUMBER_FIELDS:
            low, high = NUMBER_FIELDS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InputError(_("'{field}' must be a whole number from {low} to {high}", field=name, low=low,
                                   high=high), field=name)  # fmt: skip
            checked[name] = value
        else:
            raise InputError(_("'{field}' is not a rule of the platform", field=name), field=name)
    policy = session.scalars(select(O2OPolicy).order_by(O2OPolicy.id).limit(1)).first()
    if policy is None:
        policy = O2OPolicy(**DEFAULTS)
        session.add(policy)
    for name, value in checked.items():
        setattr(policy, name, value)
    policy.updated_by = actor.username
    session.flush()
    return policy
