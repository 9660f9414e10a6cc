"""The Celery app factory (the worker, its beat, and the senders in the web process and CLI).

Default broker: kombu's filesystem transport in the instance folder (no server to install; about
45 ms a round trip). ``HUIJU_BROKER_URL=redis://...`` scales out. No result backend: tasks take
ids, write to the database and return nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from celery import Celery, signals
from sqlalchemy import select

from huiju import logs
from huiju.calendar import CHINA
from huiju.settings import Settings


def yield_cpu(niceness: int) -> None:
    """Lower this process's CPU priority to ``niceness`` (its children, Celery's pool and beat, inherit
    it); never raise it, which takes privileges."""
    if niceness > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, niceness)


def create_celery(settings: Settings, runtime: Callable[[], Any]) -> Celery:
    from huiju.app import housekeeping, reconcile
    from workflows_bpmn import tasks

    app = Celery("huiju", set_as_current=False)
    broker = settings.resolved_broker_url
    conf: dict[str, Any] = {
        "broker_url": broker,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "beat_schedule": {
            "huiju-sweep": {"task": "huiju.sweep", "schedule": settings.sweep_seconds},
            # Held callbacks and overdue delivery reports (huiju.app.reconcile): a fallback (held
            # callbacks are taken up at once after the step that settles their reply), so at most
            # once a second, and a round left waiting in a busy queue expires rather than piles up.
            "huiju-reconcile": {
                "task": "huiju.reconcile",
                "schedule": max(settings.sweep_seconds, 1.0),
                "options": {"expires": max(settings.sweep_seconds, 1.0)},
            },
            # Each month's service credit (服务券) as soon as the month begins; once per month, whatever runs twice.
            "huiju-o2o-top-up": {"task": "huiju.o2o_top_up", "schedule": 3600.0},
            # Documents whose PDF the worker was not handed when their decision committed.
            "huiju-unmade-documents": {
                "task": "huiju.unmade_documents",
                "schedule": housekeeping.UNMADE_DOCUMENTS_EVERY,
                "options": {"expires": housekeeping.UNMADE_DOCUMENTS_EVERY},
            },
            # Files kept toward 补正 answers that can no longer be sent (huiju.app.housekeeping).
            "huiju-pending-uploads": {
                "task": "huiju.pending_uploads",
                "schedule": housekeeping.PENDING_UPLOADS_EVERY,
                "options": {"expires": housekeeping.PENDING_UPLOADS_EVERY},
            },
        },
        "beat_schedule_filename": str(settings.instance_path.resolve() / "celerybeat-schedule"),
        "timezone": CHINA.key,
    }
    if broker.startswith("filesystem://"):
        from huiju.app.broker import TRANSPORT

        folder = settings.broker_folder
        conf["broker_transport"] = TRANSPORT  # kombu's, with messages written whole (see huiju.app.broker)
        conf["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            # The broadcast exchanges (worker control) too, not in the current directory.
            "control_folder": str(folder / "control"),
            "store_processed": False,
            # kombu polls the folder once a second by default: a case step would wait that long.
            "polling_interval": 0.1,
        }
    app.conf.update(conf)
    tasks.register(app, runtime)
    reconcile.register(app, runtime)
    housekeeping.register(app, runtime)

    @app.task(name="huiju.o2o_top_up", shared=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def o2o_top_up() -> None:
        from huiju.services.o2o import credit

        with runtime().db.transaction() as session:
            credit.top_up_month(session, credit.current_month(), by="worker")

    return app


def install_log_context(app: Celery, settings: Settings, runtime: Callable[[], Any]) -> None:
    """In a worker process (once): it logs through Huiju's handler (JSON in production), and a
    delivery job's records carry its message id and case number."""

    def setup_logging(**_kwargs: Any) -> None:
        logs.configure(settings)

    def before(task: Any = None, args: Any = None, **_kwargs: Any) -> None:
        logs.clear()
        if task is None or task.app is not app or task.name != "huiju.deliver" or not args:
            return
        message_id = str(args[0])
        logs.bind(message_id=message_id, case_number=_case_number_of(runtime(), message_id))

    def after(**_kwargs: Any) -> None:
        logs.clear()

    # Connecting to setup_logging also keeps Celery from installing handlers of its own.
    signals.setup_logging.connect(setup_logging, weak=False)
    signals.task_prerun.connect(before, weak=False)
    signals.task_postrun.connect(after, weak=False)


def _case_number_of(runtime: Any, message_id: str) -> str | None:
    from exchange.models import OutboxMessage

    try:
        with runtime.db.sessions() as session:
            found = session.scalar(select(OutboxMessage.case_number).where(OutboxMessage.message_id == message_id))
            return str(found) if found else None
    except Exception:  # the log context is a help; the job itself reports a database that does not answer
        return None
