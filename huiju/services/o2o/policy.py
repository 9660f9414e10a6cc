"""The platform's rules (运营规则): one row of :class:`huiju.models.O2OPolicy`, edited by the operator."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from huiju import durations, reference
from huiju.errors import InputError, PermissionDenied
from huiju.i18n import Message, _, localize
from huiju.labels_o2o import POLICY_SETTINGS
from huiju.models import O2OPolicy, Role
from huiju.services.actors import Actor
from huiju.services.audit_words import duration_words

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
    """The length of an ISO 8601 duration the process timers read (weeks to seconds; no months or
    years, whose length varies) in seconds (``PT15M`` → 900); InputError otherwise."""
    found = durations.fixed_seconds(duration)
    if found is None:
        raise InputError(_("'{value}' is not a duration such as PT15M (15 minutes), PT2H (2 hours) or P3D (3 days)",
                           value=duration))  # fmt: skip
    return found


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
        setting = POLICY_SETTINGS.get(name)
        if name in DURATION_FIELDS and setting is not None:
            given = str(value).strip()
            text = durations.from_words(given)
            length = durations.fixed_seconds(text) if text is not None else None
            if text is None or length is None:  # the operator's own text, as typed
                problem = _("'{value}' is not a length of time such as 15 minutes, 2 hours or 3 days", value=given)
                raise InputError(_("{setting}: {problem}", setting=setting, problem=problem), field=name)
            if length <= 0:
                raise InputError(_("{setting}: must be longer than zero", setting=setting), field=name)
            checked[name] = text
        elif name in NUMBER_FIELDS and setting is not None:
            low, high = NUMBER_FIELDS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                if name == "rating_threshold_tenths":  # given as a rating, kept in tenths
                    raise InputError(_("{setting}: a rating from {low} to {high}, in steps of 0.1", setting=setting,
                                       low=low / 10, high=high / 10), field=name)  # fmt: skip
                raise InputError(_("{setting}: a whole number from {low} to {high}", setting=setting, low=low,
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


def policy_words(policy: O2OPolicy, locale: str | None = None) -> list[tuple[str, str]]:
    """Each rule in words, in ``locale``: what it is (:data:`huiju.labels_o2o.POLICY_SETTINGS`) and its
    value, durations as 30 分钟 / 30 minutes, the complaint time in working days (工作日)."""
    values: dict[str, Message | str] = {
        "accept_within": duration_words(policy.accept_within, locale) or policy.accept_within,
        "payment_wait": duration_words(policy.payment_wait, locale) or policy.payment_wait,
        "confirm_within": duration_words(policy.confirm_within, locale) or policy.confirm_within,
        "complaint_days": _("{n} working day", n=1)
        if policy.complaint_days == 1
        else _("{n} working days", n=policy.complaint_days),
        "rating_threshold_tenths": _("{n} of 5", n=f"{policy.rating_threshold_tenths / 10:.1f}"),
        "rating_min_count": _("{n} rating", n=1)
        if policy.rating_min_count == 1
        else _("{n} ratings", n=policy.rating_min_count),
        "credit_months": _("{n} month", n=1) if policy.credit_months == 1 else _("{n} months", n=policy.credit_months),
    }
    return [(localize(POLICY_SETTINGS[name], locale), localize(value, locale)) for name, value in values.items()]
