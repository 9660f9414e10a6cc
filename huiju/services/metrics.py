"""The figures of ``/metrics``, read from the database so that they are right with any number of
web processes and workers (a scrape of any one of them sees everything).

Most figures are counts of the domain tables, each served by an index: cases by status and outcome,
ready tasks by role, messages waiting in the outbox, instances in incident. Two kinds leave no row
of their own and are kept in ``metric_counter``: refused sign-ins (counted as they happen) and the
histogram of delivery latency, folded in from the outbox's settled messages a little after they
settle (:data:`FOLD_GRACE`), each message once, whichever process folds first.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from exchange.models import MessageStatus, OutboxMessage
from huiju.db import Database, utcnow
from huiju.models import Case, CaseStatus, MetricCounter
from workflows_bpmn.models import HumanTask, HumanTaskStatus, InstanceStatus, ProcessInstance

SIGN_IN_REFUSALS = "sign_in_refusals"
#: Why a sign-in was refused.
REFUSAL_REASONS = ("wrong_password", "throttled", "not_allowed")
#: Where: the officers' console, the residents' portal, the JSON API.
CHANNELS = ("console", "portal", "api")
LATENCY_BUCKET = "delivery_latency_bucket"
LATENCY_SUM = "delivery_latency_sum"
LATENCY_COUNT = "delivery_latency_count"
DELIVERY_FAILURES = "delivery_failures"
#: Where the fold stands: the (settled_at, id) of the last message folded in.
_WATERMARK_TIME, _WATERMARK_ID = "_delivery_fold_time", "_delivery_fold_id"
#: Upper bounds of the latency buckets, in seconds: a government system answers in a second or so,
#: a retried one in minutes.
LATENCY_BOUNDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, math.inf)
#: A message is folded this long after it settled: longer than any transaction that settles one
#: takes to commit, so that none is passed over.
FOLD_GRACE = timedelta(seconds=30)
FOLD_BATCH = 5_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def labels_of(**labels: str) -> str:
    """The label set in Prometheus' notation, sorted: the key of a counter row."""
    return ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))


def parse_labels(text: str) -> dict[str, str]:
    found = {}
    for part in text.split(",") if text else []:
        key, _, value = part.partition("=")
        found[key] = value.strip('"')
    return found


def add(session: Session, name: str, labels: str, amount: float) -> None:
    """Add to a counter in the database, creating it at 0 first (one statement, no race)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(MetricCounter).values(name=name, labels=labels, value=amount, updated_at=utcnow())
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[MetricCounter.name, MetricCounter.labels],
            set_={"value": MetricCounter.value + amount, "updated_at": utcnow()},
        )
    )


def count_sign_in_refusal(db: Database, channel: str, reason: str) -> None:
    """One refused sign-in (wrong password or unknown account, throttled, or not for this door)."""
    if channel not in CHANNELS or reason not in REFUSAL_REASONS:
        raise ValueError(f"unknown sign-in channel or reason: {channel}, {reason}")
    with db.transaction() as session:
        add(session, SIGN_IN_REFUSALS, labels_of(channel=channel, reason=reason), 1)


# -- the delivery latency histogram ---------------------------------------------------------------


def _bucket(seconds: float) -> str:
    bound = next(b for b in LATENCY_BOUNDS if seconds <= b)
    return "+Inf" if math.isinf(bound) else repr(bound)


def fold_delivery_latencies(db: Database, now: datetime | None = None) -> int:
    """Fold the messages settled since the last fold (up to :data:`FOLD_GRACE` ago) into the
    histogram; how many. Two processes folding at once take turns on the watermark row."""
    until = (now or utcnow()) - FOLD_GRACE
    with db.transaction() as session:
        for key in (_WATERMARK_TIME, _WATERMARK_ID):
            add(session, key, "", 0)  # the rows exist: the lock below has something to hold
        marks = dict(
            session.execute(
                select(MetricCounter.name, MetricCounter.value)
                .where(MetricCounter.name.in_([_WATERMARK_TIME, _WATERMARK_ID]))
                .with_for_update()
            ).all()
        )
        # Microseconds since 1970 are whole numbers well inside a double's exact range.
        since = _EPOCH + timedelta(microseconds=int(marks[_WATERMARK_TIME]))
        last_id = int(marks[_WATERMARK_ID])
        rows = session.execute(
            select(
                OutboxMessage.id, OutboxMessage.system, OutboxMessage.status, OutboxMessage.created_at,
                OutboxMessage.delivered_at, OutboxMessage.settled_at,
            )
            .where(
                OutboxMessage.settled_at >= since,
                or_(OutboxMessage.settled_at > since, OutboxMessage.id > last_id),
                OutboxMessage.settled_at <= until,
            )
            .order_by(OutboxMessage.settled_at, OutboxMessage.id)
            .limit(FOLD_BATCH)
        ).all()  # fmt: skip
        if not rows:
            return 0
        buckets: dict[tuple[str, str], float] = defaultdict(float)
        sums: dict[str, float] = defaultdict(float)
        failures: dict[str, float] = defaultdict(float)
        for row in rows:
            if row.status is MessageStatus.DELIVERED and row.delivered_at is not None:
                seconds = max(0.0, (row.delivered_at - row.created_at).total_seconds())
                buckets[(row.system, _bucket(seconds))] += 1
                sums[row.system] += seconds
            elif row.status is MessageStatus.DEAD:
                failures[row.system] += 1
        for (system, le), n in buckets.items():
            add(session, LATENCY_BUCKET, labels_of(system=system, le=le), n)
        for system, total in sums.items():
            add(session, LATENCY_SUM, labels_of(system=system), total)
            add(session, LATENCY_COUNT, labels_of(system=system),
                sum(n for (s, _le), n in buckets.items() if s == system))  # fmt: skip
        for system, n in failures.items():
            add(session, DELIVERY_FAILURES, labels_of(system=system), n)
        last = rows[-1]
        micros = (last.settled_at - _EPOCH) // timedelta(microseconds=1)
        session.execute(update(MetricCounter).where(MetricCounter.name == _WATERMARK_TIME).values(value=micros))
        session.execute(update(MetricCounter).where(MetricCounter.name == _WATERMARK_ID).values(value=last.id))
        return len(rows)


# -- reading ----------------------------------------------------------------------------------------


@dataclass
class Histogram:
    """Cumulative buckets (upper bound → count), as Prometheus reads them."""

    buckets: list[tuple[str, float]]
    total: float
    count: float


@dataclass
class Figures:
    cases_by_status: dict[str, int] = field(default_factory=dict)
    cases_concluded: dict[str, int] = field(default_factory=dict)  # by outcome
    open_tasks: dict[str, int] = field(default_factory=dict)  # by role
    outbox_depth: dict[str, int] = field(default_factory=dict)  # pending messages by system
    outbox_oldest_age: dict[str, float] = field(default_factory=dict)  # seconds, by system
    dead_messages: dict[str, int] = field(default_factory=dict)  # dead letters by system
    incidents: int = 0
    sign_in_refusals: dict[tuple[str, str], float] = field(default_factory=dict)  # (channel, reason)
    delivery_latency: dict[str, Histogram] = field(default_factory=dict)  # by system
    delivery_failures: dict[str, float] = field(default_factory=dict)  # by system

    @property
    def cases_started(self) -> int:
        return sum(self.cases_by_status.values())


def read_figures(session: Session, now: datetime | None = None) -> Figures:
    """Every figure, each one query served by an index (no table is read row by row)."""
    now = now or utcnow()
    figures = Figures()
    for status, outcome, n in session.execute(
        select(Case.status, Case.outcome, func.count()).group_by(Case.status, Case.outcome)
    ):
        figures.cases_by_status[status.value] = figures.cases_by_status.get(status.value, 0) + n
        if status in (CaseStatus.CONCLUDED, CaseStatus.WITHDRAWN):
            key = outcome or status.value
            figures.cases_concluded[key] = figures.cases_concluded.get(key, 0) + n
    ready = select(HumanTask.role, func.count()).where(HumanTask.status == HumanTaskStatus.READY)
    figures.open_tasks = {role: n for role, n in session.execute(ready.group_by(HumanTask.role))}
    for system, n, oldest in session.execute(
        select(OutboxMessage.system, func.count(), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status == MessageStatus.PENDING)
        .group_by(OutboxMessage.system)
    ):
        figures.outbox_depth[system] = n
        figures.outbox_oldest_age[system] = max(0.0, (now - as_aware(oldest)).total_seconds()) if oldest else 0.0
    figures.dead_messages = {
        system: n
        for system, n in session.execute(
            select(OutboxMessage.system, func.count())
            .where(OutboxMessage.status == MessageStatus.DEAD)
            .group_by(OutboxMessage.system)
        )
    }
    figures.incidents = int(
        session.scalar(
            select(func.count()).select_from(ProcessInstance).where(ProcessInstance.status == InstanceStatus.INCIDENT)
        )
        or 0
    )
    _read_counters(session, figures)
    return figures


def as_aware(moment: datetime) -> datetime:
    # min() over a column comes back without the column's type on SQLite: a string, or naive.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _read_counters(session: Session, figures: Figures) -> None:
    raw: dict[str, dict[str, float]] = defaultdict(dict)
    counters = select(MetricCounter.name, MetricCounter.labels, MetricCounter.value)
    # Names that begin with "_" are the fold's own bookkeeping (the underscore is a LIKE wildcard).
    for row in session.execute(counters.where(~MetricCounter.name.startswith("_", autoescape=True))):
        raw[row.name][row.labels] = row.value
    for labels, value in raw[SIGN_IN_REFUSALS].items():
        parsed = parse_labels(labels)
        figures.sign_in_refusals[(parsed["channel"], parsed["reason"])] = value
    per_system: dict[str, dict[str, float]] = defaultdict(dict)
    for labels, value in raw[LATENCY_BUCKET].items():
        parsed = parse_labels(labels)
        per_system[parsed["system"]][parsed["le"]] = value
    for system, counts in per_system.items():
        running, buckets = 0.0, []
        for bound in LATENCY_BOUNDS:
            le = "+Inf" if math.isinf(bound) else repr(bound)
            running += counts.get(le, 0.0)
            buckets.append((le, running))
        figures.delivery_latency[system] = Histogram(
            buckets,
            raw[LATENCY_SUM].get(labels_of(system=system), 0.0),
            raw[LATENCY_COUNT].get(labels_of(system=system), running),
        )
    figures.delivery_failures = {
        parse_labels(labels)["system"]: value for labels, value in raw[DELIVERY_FAILURES].items()
    }
