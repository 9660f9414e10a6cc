"""One engine step: lock → load → change → advance → mirror → persist, in the caller's transaction.

Modelled on spiff-arena's ``process_instance_queue_service`` (``dequeued()``): every operation that
changes an instance runs inside :meth:`workflows_bpmn.runner.Engine.step`, which

1. **locks** the instance row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite write transactions
   hold the database lock from BEGIN) and reads it, state included, in one statement. On SQLite a
   caller that read the row's version with a statement of its own in the same transaction (the
   worker, through the outbox's ``RETURNING``) passes it, and when the process's cache holds the
   workflow and row committed at that version the step reads nothing;
2. **loads** the workflow — from the process's :class:`WorkflowCache` when it holds the committed
   version of that instance, else by deserializing — only if the change needs it;
3. lets the caller **change** it (complete a task, take a reply, deliver a message ...);
4. **advances** it (``do_engine_steps``), if the caller changed it;
5. **mirrors** what changed — found by comparing the mirror state before and after in memory
   (:mod:`workflows_bpmn.mirror`), never by querying the tables;
6. **persists** the instance in one ``UPDATE`` whose ``WHERE`` holds the version read in 1, so that a
   writer that did not lock (a stale ORM session) fails instead of overwriting;

and then hands the :class:`StepResult` to the listeners (the case's timeline and status, in the same
transaction) and, after commit, the new outbox messages to the broker and the workflow to the cache.
A step that raises leaves nothing behind: the caller's transaction rolls back, and the workflow it
may have half-changed is never cached.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy import event as sa_event
from sqlalchemy import insert as insert_into
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from huiju.db import utcnow
from huiju.errors import ConflictError, NotFoundError
from huiju.i18n import _
from workflows_bpmn.expressions import HuijuScriptEngine
from workflows_bpmn.mirror import (
    EMPTY,
    Completion,
    MirrorState,
    StepResult,
    TimelineEntry,
    cancel_abandoned_calls,
    sync_human_tasks,
    sync_waiting_messages,
    write_service_requests,
)
from workflows_bpmn.models import InstanceStatus, ProcessInstance
from workflows_bpmn.steps import outcome_of, step_errors

if TYPE_CHECKING:
    from workflows_bpmn.runner import Engine

log = logging.getLogger(__name__)

INSTANCE = cast(Table, ProcessInstance.__table__)
#: The incident of an instance that nothing can move on (see :func:`finish`).
STUCK = "stuck"
STUCK_DETAIL = "no task is ready, no call is pending, and no timer or message is awaited"
#: The columns a step may change, beside the state itself.
ROW_FIELDS = ("status", "outcome", "next_timer_due", "incident_kind", "incident_detail", "definition_id",
              "suspended_from")  # fmt: skip
# Statements built once: building one costs more than running it (its cache key, its compilation).
_READ = select(INSTANCE).where(INSTANCE.c.id == bindparam("iid"))
_LOCK = _READ.with_for_update()
_VERSION = (INSTANCE.c.id == bindparam("iid"), INSTANCE.c.lock_version == bindparam("version"))
_ROW: dict[str, Any] = {name: bindparam(f"new_{name}") for name in (*ROW_FIELDS, "updated_at")}
_PERSIST = (
    update(INSTANCE)
    .where(*_VERSION)
    .values(**_ROW, serialized=bindparam("new_serialized"), serializer_version=bindparam("new_serializer_version"),
            lock_version=INSTANCE.c.lock_version + 1)
)  # fmt: skip
_PERSIST_ROW = update(INSTANCE).where(*_VERSION).values(**_ROW, lock_version=INSTANCE.c.lock_version + 1)
_INSERT = insert_into(INSTANCE).returning(INSTANCE.c.id)
#: The row's columns a cached workflow keeps (the state is the workflow itself).
_CACHED_COLUMNS = tuple(c.key for c in INSTANCE.columns if c.key != "serialized")


@dataclass(frozen=True)
class Cached:
    """A committed workflow, its mirror state and its row's values (all but the state)."""

    workflow: BpmnWorkflow
    mirror: MirrorState
    row: dict[str, Any] | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # see StepResult.notes


class WorkflowCache:
    """Committed workflows of one process, by instance and lock version (least recently used out).

    An entry is taken out while a step works on it and put back only after that step's commit, with
    the version it committed: a stale entry is never used (another process's step changed the
    version), and a step that failed never leaves its half-changed workflow behind.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[int, tuple[int, Cached]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def take(self, instance_id: int, version: int, *, with_row: bool = False) -> Cached | None:
        """The entry committed at ``version``, taken out (None, and the entry dropped, if stale);
        ``with_row``: only an entry that holds the row's values too (else it stays)."""
        with self._lock:
            entry = self._entries.get(instance_id)
            if entry is not None and entry[0] == version and with_row and entry[1].row is None:
                return None
            self._entries.pop(instance_id, None)
            if entry is None or entry[0] != version:
                self.misses += 1
                return None
            self.hits += 1
            return entry[1]

    def holds(self, instance_id: int, version: int) -> bool:
        with self._lock:
            entry = self._entries.get(instance_id)
            return entry is not None and entry[0] == version

    def put(
        self, instance_id: int, version: int, workflow: BpmnWorkflow, mirror: MirrorState,
        row: dict[str, Any] | None = None, notes: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        with self._lock:
            self._entries[instance_id] = (version, Cached(workflow, mirror, row, dict(notes or {})))
            self._entries.move_to_end(instance_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def discard(self, instance_id: int) -> None:
        with self._lock:
            self._entries.pop(instance_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class Step:
    """An instance locked for one step; what the caller changes, and what the step will write."""

    engine: Engine
    session: Session
    instance: ProcessInstance  # the locked row, detached; its status and outcome may be changed
    result: StepResult
    version: int
    serialized: bytes
    #: The caller changed the workflow: advance it, mirror and persist.
    advance: bool = False
    #: Mirror and persist the workflow as the caller left it, without advancing (a cancellation).
    mirror: bool = False
    #: The user task this step completed, and the service task whose reply or failure it took.
    completed: Completion | None = None
    settled_task: str | None = None
    #: The workflow was reset (退回): a task made ready again has a row already.
    reset: bool = False
    #: Timeline entries that follow the mirror's (what ended the step).
    closing: list[TimelineEntry] = field(default_factory=list)
    #: False when the workflow was touched in a way not persisted: it must not be cached.
    cacheable: bool = True
    before: MirrorState = EMPTY
    _workflow: BpmnWorkflow | None = None
    _script_engine: HuijuScriptEngine | None = None
    _row: dict[str, Any] = field(default_factory=dict)
    #: The cache was looked up for this version already (at lock): a miss then is a miss now.
    _cache_missed: bool = False

    @property
    def loaded(self) -> bool:
        return self._workflow is not None

    @property
    def workflow(self) -> BpmnWorkflow:
        if self._workflow is None or self._script_engine is None:
            self._load()
        assert self._workflow is not None  # noqa: S101 - set by _load
        return self._workflow

    @property
    def script_engine(self) -> HuijuScriptEngine:
        if self._script_engine is None:
            self._load()
        assert self._script_engine is not None  # noqa: S101 - set by _load
        return self._script_engine

    def changed(self) -> None:
        """The caller changed the workflow: advance, mirror and persist it."""
        self.advance = True

    def _load(self) -> None:
        engine, instance = self.engine, self.instance
        script_engine = HuijuScriptEngine(engine.functions(self.session))
        workflow = self._workflow  # taken from the cache at lock already
        if workflow is None:
            cached = None if self._cache_missed else engine.workflows.take(instance.id, self.version)
            if cached is not None:
                workflow, self.before = cached.workflow, cached.mirror
                self.result.notes = dict(cached.notes)
            else:
                spec, subprocess_specs = engine.cache.get_by_id(self.session, instance.definition_id)
                workflow = engine.store.loads(
                    self.serialized, instance.serializer_version, spec, subprocess_specs, script_engine
                )
                self.before = MirrorState.of(workflow)
        workflow.script_engine = script_engine
        self._workflow, self._script_engine = workflow, script_engine


def lock(
    engine: Engine, session: Session, instance_id: int, actor: str, *, for_update: bool = True,
    version: int | None = None,
) -> Step:  # fmt: skip
    """Lock and read the instance row (one statement), as a :class:`Step` not yet loaded.

    ``version``: the row's lock version, read by the caller in this same SQLite write transaction
    (which holds the database since its first statement, so the row cannot change meanwhile): when
    the cache holds the workflow and row committed at that version, nothing is read.
    """
    session.flush()  # what the caller changed through the session, before the step reads by statement
    held = session.identity_map.get(identity_key(ProcessInstance, instance_id))
    sqlite = session.get_bind().dialect.name == "sqlite"
    # The shortcut only where the row can have changed by no other way than a step (the session
    # holds no copy of it that the caller may have changed since reading the version).
    shortcut = version is not None and sqlite and held is None
    cached = engine.workflows.take(instance_id, version, with_row=True) if shortcut and version is not None else None
    if cached is not None and cached.row is not None:
        values = {**cached.row, "context": dict(cached.row["context"] or {})}
        serialized = b""  # not needed: the workflow is the cached one
    else:
        locking = for_update and not sqlite
        row = session.connection().execute(_LOCK if locking else _READ, {"iid": instance_id}).first()
        if row is None:
            raise NotFoundError(_("no process instance {instance_id}", instance_id=instance_id))
        values = row._asdict()
        serialized = values.pop("serialized")
        version = values["lock_version"]
    assert version is not None  # noqa: S101 - read above, or given and found in the cache
    instance = ProcessInstance(**values)
    step = Step(engine, session, instance, StepResult(instance, actor=actor), version, serialized)
    if cached is not None:
        step._workflow, step.before = cached.workflow, cached.mirror
        step.result.notes = dict(cached.notes)
    elif shortcut and not engine.workflows.holds(instance_id, version):
        step._cache_missed = True
    step._row = {name: values[name] for name in ROW_FIELDS}
    if held is not None:  # this step is about to change the row: the session's copy is read again on use
        session.expire(held)
    return step


def persist(step: Step, serialized: bytes | None) -> None:
    """Write the row's changed columns (and the state, if given) under the version read at lock."""
    instance = step.instance
    row = {name: getattr(instance, name) for name in ROW_FIELDS}
    if serialized is None and row == step._row:
        return
    now = utcnow()
    values: dict[str, Any] = {f"new_{name}": value for name, value in row.items()}
    values.update(iid=instance.id, version=step.version, new_updated_at=now)
    if serialized is not None:
        values.update(new_serialized=serialized, new_serializer_version=step.engine.serializer_version)
    done = step.session.connection().execute(_PERSIST if serialized is not None else _PERSIST_ROW, values)
    if done.rowcount != 1:
        raise ConflictError(
            _("process instance {instance_id} was changed by another step; try again", instance_id=instance.id)
        )
    instance.lock_version, instance.updated_at = step.version + 1, now
    if serialized is not None:
        instance.serializer_version = step.engine.serializer_version


def insert(step: Step, serialized: bytes) -> None:
    """Insert a new instance's row, with its state (and its id, if reserved); its id goes into the rows
    written beside it."""
    instance = step.instance
    instance.serialized = serialized
    values = {c.key: getattr(instance, c.key) for c in INSTANCE.columns if c.key != "id" or instance.id is not None}
    instance.id = step.session.connection().execute(_INSERT, values).scalar_one()


_AFTER_COMMIT = "huiju_after_commit"


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction commits (never if it rolls back).

    The actions wait in the session's ``info``; two listeners on every session, registered once
    with this module, run or drop them: registering listeners per transaction cost more than a
    step's statements.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


@sa_event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for pending in session.info.pop(_AFTER_COMMIT, ()):
        pending()


@sa_event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def keep(step: Step, workflow: BpmnWorkflow, mirror: MirrorState, *, version: int) -> None:
    """Cache the workflow, and the row's values as committed, under ``version`` once the step's
    transaction has committed."""
    cache, instance, result = step.engine.workflows, step.instance, step.result
    row = {key: getattr(instance, key) for key in _CACHED_COLUMNS}
    row["context"] = dict(row["context"] or {})
    after_commit(step.session, lambda: cache.put(instance.id, version, workflow, mirror, row, result.notes))


def is_final(status: InstanceStatus) -> bool:
    return status is InstanceStatus.COMPLETED


# -- the end of a step --------------------------------------------------------------------------


def finish(engine: Engine, step: Step, *, new: bool = False) -> None:
    """Advance, mirror and persist what the step changed (``new``: insert the instance row), then
    tell the listeners; after commit, the new messages go to the broker and the workflow to the cache."""
    session, instance, result = step.session, step.instance, step.result
    if step.advance or step.mirror:
        workflow, script_engine = step.workflow, step.script_engine
        if step.advance and instance.status is not InstanceStatus.SUSPENDED:
            # A suspended instance takes in what arrives (a reply, a callback) but moves on only when
            # it is resumed (see workflows_bpmn.administration).
            with step_errors(instance):
                workflow.do_engine_steps()
        after = MirrorState.of(workflow)
        if workflow.completed:
            if instance.status is not InstanceStatus.COMPLETED:
                instance.status = InstanceStatus.COMPLETED
                instance.outcome = outcome_of(workflow)
                step.closing.append(TimelineEntry("process_completed", "system", detail=instance.outcome or ""))
            instance.next_timer_due = None
        else:
            instance.next_timer_due = after.next_timer
            if after.stuck and instance.status is InstanceStatus.RUNNING:
                incident(instance, step.closing, STUCK, STUCK_DETAIL)
        concluded = instance.status is InstanceStatus.COMPLETED
        serialized = engine.store.dumps(workflow, concluded=concluded)
        if new:
            insert(step, serialized)
        else:
            persist(step, serialized)
        write_service_requests(session, instance, script_engine, result)
        cancel_abandoned_calls(session, instance, step.before, after, result, settled_task=step.settled_task)
        sync_waiting_messages(session, instance, step.before, after)
        sync_human_tasks(session, instance, workflow, step.before, after, result,
                         completed=step.completed, reset=step.reset)  # fmt: skip
        if concluded or not step.cacheable:
            engine.workflows.discard(instance.id)
        else:
            keep(step, workflow, after, version=instance.lock_version)
    else:
        persist(step, None)
        if step.loaded and step.cacheable:  # read, unchanged: the committed workflow, new version
            keep(step, step.workflow, step.before, version=instance.lock_version)
    result.timeline.extend(step.closing)
    if result.timeline or result.messages:
        result.workflow = step.workflow if step.loaded else None
        for listener in engine.listeners:
            listener(session, result)
    dispatch_after_commit(engine, session, [m.message_id for m in result.messages])


def incident(instance: ProcessInstance, timeline: list[TimelineEntry], kind: str, detail: str) -> None:
    """Stop the instance until someone acts, with the reason (its kind is worded in huiju.labels)."""
    instance.status = InstanceStatus.INCIDENT
    instance.incident_kind, instance.incident_detail = kind, detail
    timeline.append(TimelineEntry("incident", "system", detail=detail, data={"incident": kind}))


def dispatch_after_commit(engine: Engine, session: Session, message_ids: list[str]) -> None:
    """Hand the messages to the broker once the transaction that wrote them has committed."""
    if not message_ids or engine.dispatch is None:
        return
    dispatch = engine.dispatch

    def send() -> None:
        try:
            dispatch(message_ids)
        except Exception:  # the sweeper sends them later; a broker hiccup must not fail the step
            log.warning("could not hand messages %s to the broker; the sweeper will", message_ids)

    after_commit(session, send)
