"""The resident's rating of a concluded case (好差评), and the follow-up a bad one opens (差评回访).

A rating is given once per case, by the applicant or the agent who applied for them (代办), on
five levels from 非常满意 (5) to 非常不满意 (1). A bad rating (:data:`BAD_RATING_LEVELS`) starts
the ``rating_follow_up`` process: a task for the officers of the case's community, shown in their
inbox like any other, whose steps are written into the case's timeline without changing its status.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.calendar import WorkingCalendar
from huiju.db import utcnow
from huiju.errors import ConflictError, InputError, PermissionDenied
from huiju.i18n import _
from huiju.models import BAD_RATING_LEVELS, Case, CaseEvent, CaseStatus, Rating, Role, TimeUnit
from huiju.services import clock
from huiju.services.actors import Actor
from huiju.services.cases import FOLLOW_UP, get_case
from workflows_bpmn.runner import Engine

FOLLOW_UP_PROCESS = "rating_follow_up"
#: Working days the community has to follow a bad rating up.
FOLLOW_UP_DAYS = 5
LEVELS = (5, 4, 3, 2, 1)
MAX_COMMENT = 500


def rating_of(session: Session, case: Case) -> Rating | None:
    return session.scalars(select(Rating).where(Rating.case_id == case.id)).one_or_none()


def can_rate(session: Session, case: Case) -> bool:
    return case.status is CaseStatus.CONCLUDED and rating_of(session, case) is None


def rate_case(session: Session, engine: Engine, actor: Actor, number: str, level: int, comment: str = "") -> Rating:
    if actor.role is not Role.RESIDENT:
        raise PermissionDenied(_("only the applicant rates a case"))
    case = get_case(session, actor, number)
    if level not in LEVELS:
        raise InputError(_("choose a rating from 1 (very dissatisfied) to 5 (very satisfied)"), field="level")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise InputError(_("the comment may have at most {n} characters", n=MAX_COMMENT), field="comment")
    if case.status is not CaseStatus.CONCLUDED:
        raise ConflictError(_("case {number} can be rated once it is concluded", number=number))
    if rating_of(session, case) is not None:
        raise ConflictError(_("case {number} has been rated already", number=number))
    rating = Rating(case_id=case.id, level=level, comment=comment, rated_by=actor.username)
    session.add(rating)
    case.events.append(CaseEvent(kind="rated", actor=actor.username, detail=str(level),
                                 data={"level": level, "comment": comment}))  # fmt: skip
    session.flush()
    if level in BAD_RATING_LEVELS:
        today = clock.china_day(utcnow())
        deadline = WorkingCalendar.load(session).deadline(today, FOLLOW_UP_DAYS, TimeUnit.WORKING_DAYS.value)
        street = case.community.street
        result = engine.start(
            session,
            FOLLOW_UP_PROCESS,
            data={"case_number": case.number, "item_code": case.item.code, "level": level, "comment": comment},
            context={
                "case_id": case.id,
                "case_number": case.number,
                "community_id": case.community_id,
                "street_id": street.id if street else None,
                "due_at": clock.due_at(deadline.due).isoformat(),
                FOLLOW_UP: True,
                "actor": actor.username,
            },
            actor=actor.username,
        )
        rating.follow_up_instance_id = result.instance.id
    return rating
