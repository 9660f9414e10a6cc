"""One engine step: lock → load → change → advance → mirror → persist, in the caller's transaction.

Modelled on spiff-arena's ``process_instance_queue_service`` (``dequeued()``): every operation that
changes an instance runs inside :meth:`workflows_bpmn.runner.Engine.step`, which

1. **locks** the instance row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite write transactions
   hold the database lock from BEGIN) and reads it, state included, in one statement;
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
from workflows_bpmn.mirror import EMPTY, Completion, MirrorState, StepResult, TimelineEntry
from workflows_bpmn.models import InstanceStatus, ProcessInstance

if TYPE_CHECKING:
    from workflows_bpmn.runner import Engine

INSTANCE = cast(Table, ProcessInstance.__table__)
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


class WorkflowCache:
    """Committed workflows of one process, by instance and lock version (least recently used out).

    An entry is taken out while a step works on it and put back only after that step's commit, with
    the version it committed: a stale entry is never used (another process's step changed the
    version), and a step that failed never leaves its half-changed workflow behind.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[int, tuple[int, BpmnWorkflow, MirrorState]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def take(self, instance_id: int, version: int) -> tuple[BpmnWorkflow, MirrorState] | None:
        with self._lock:
            entry = self._entries.pop(instance_id, None)
            if entry is None or entry[0] != version:
                self.misses += 1
                return None
            self.hits += 1
            return entry[1], entry[2]

    def put(self, instance_id: int, version: int, workflow: BpmnWorkflow, mirror: MirrorState) -> None:
        with self._lock:
            self._entries[instance_id] = (version, workflow, mirror)
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

    @property
    def loaded(self) -> bool:
        return self._workflow is not None

    @property
    def workflow(self) -> BpmnWorkflow:
        if self._workflow is None:
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
        spec, subprocess_specs = engine.cache.get_by_id(self.session, instance.definition_id)
        script_engine = HuijuScriptEngine(engine.functions(self.session))
        cached = engine.workflows.take(instance.id, self.version)
        if cached is not None:
            workflow, self.before = cached
            workflow.script_engine = script_engine
        else:
            workflow = engine.store.loads(
                self.serialized, instance.serializer_version, spec, subprocess_specs, script_engine
            )
            self.before = MirrorState.of(workflow)
        self._workflow, self._script_engine = workflow, script_engine


def lock(engine: Engine, session: Session, instance_id: int, actor: str, *, for_update: bool = True) -> Step:
    """Lock and read the instance row (one statement), as a :class:`Step` not yet loaded."""
    session.flush()  # what the caller changed through the session, before the step reads by statement
    locking = for_update and session.get_bind().dialect.name != "sqlite"
    row = session.connection().execute(_LOCK if locking else _READ, {"iid": instance_id}).first()
    if row is None:
        raise NotFoundError(_("no process instance {instance_id}", instance_id=instance_id))
    values = row._asdict()
    serialized, version = values.pop("serialized"), values["lock_version"]
    instance = ProcessInstance(**values)
    step = Step(engine, session, instance, StepResult(instance, actor=actor), version, serialized)
    step._row = {name: values[name] for name in ROW_FIELDS}
    held = session.identity_map.get(identity_key(ProcessInstance, instance_id))
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
    """Insert a new instance's row, with its state; its id goes into the rows written beside it."""
    instance = step.instance
    instance.serialized = serialized
    values = {c.key: getattr(instance, c.key) for c in INSTANCE.columns if c.key != "id"}
    instance.id = step.session.connection().execute(_INSERT, values).scalar_one()


_AFTER_COMMIT = "huiju_after_commit"


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction commits (never if it rolls back).

    One pair of session listeners per transaction, however many steps it holds: registering a
    listener costs more than a step's statements.
    """
    actions: list[Callable[[], None]] | None = session.info.get(_AFTER_COMMIT)
    if actions is None:
        actions = session.info[_AFTER_COMMIT] = []

        def run(done: Session) -> None:
            for pending in done.info.pop(_AFTER_COMMIT, []):
                pending()

        def drop(failed: Session) -> None:
            failed.info.pop(_AFTER_COMMIT, None)

        sa_event.listen(session, "after_commit", run, once=True)
        sa_event.listen(session, "after_rollback", drop, once=True)
    actions.append(action)


def keep(step: Step, workflow: BpmnWorkflow, mirror: MirrorState, *, version: int) -> None:
    """Cache the workflow under ``version`` once the step's transaction has committed."""
    cache, instance_id = step.engine.workflows, step.instance.id
    after_commit(step.session, lambda: cache.put(instance_id, version, workflow, mirror))


def is_final(status: InstanceStatus) -> bool:
    return status is InstanceStatus.COMPLETED
