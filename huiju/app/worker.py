"""The Celery app factory (the worker, its beat, and the senders in the web process and CLI).

Default broker: kombu's filesystem transport in the instance folder (no server to install; about
45 ms a round trip). ``HUIJU_BROKER_URL=redis://...`` scales out. No result backend: tasks take
ids, write to the database and return nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery

from huiju.calendar import CHINA
from huiju.settings import Settings


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
    return app
