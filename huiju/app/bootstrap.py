"""Assembly: the database, the engine and the Celery app built from the settings, once per process.

This is the top of the layering: it may import every layer, and it is where the layers above the
engine register themselves with it (the case service's step listener, the correlation of held callbacks).
"""

from __future__ import annotations

from huiju.db import Database
from huiju.runtime import Runtime
from huiju.settings import Settings, load_settings


def import_models() -> None:
    """Import every module that declares tables, so that ``Base.metadata`` knows them all."""
    import adapters.config  # noqa: F401
    import exchange.correlation  # noqa: F401
    import exchange.log  # noqa: F401
    import exchange.models  # noqa: F401
    import huiju.calendar  # noqa: F401
    import huiju.models  # noqa: F401
    import workflows_bpmn.models  # noqa: F401


def build_runtime(settings: Settings | None = None, *, with_celery: bool = True) -> Runtime:
    from huiju.app.correlate import correlation_listener
    from huiju.calendar import WorkingCalendar
    from huiju.services import documents, handback
    from huiju.services.cases import on_step
    from huiju.services.o2o.lifecycle import listener as o2o_listener
    from workflows_bpmn.definitions import SpecCache
    from workflows_bpmn.expressions import host_functions
    from workflows_bpmn.runner import Engine

    settings = settings or load_settings()
    settings.ensure_folders()
    import_models()
    db = Database(settings.resolved_database_url)
    runtime = Runtime(settings=settings, db=db, engine=None)
    from adapters.custom import install

    install(db)  # the systems an integrator added (uploaded WSDLs) join the adapter registry
    if settings.exchange_signing:
        from certs.store import passphrase_of
        from exchange.security import SecurityProvider

        runtime.security = SecurityProvider(settings.resolved_certs_folder, passphrase=passphrase_of(settings)).current
    from certs.store import passphrase_of

    signer = runtime.office_signer = documents.OfficeSigner(settings.resolved_certs_folder, passphrase_of(settings))
    issue_documents = documents.listener(signer, f"{settings.resolved_public_url}/portal", runtime.make_documents)
    waits = {"egov_decision": settings.decision_query_after}
    runtime.engine = Engine(
        cache=SpecCache(host_functions()),
        functions=lambda session: host_functions(lambda: WorkingCalendar.load(session), waits=waits),
        dispatch=runtime.dispatch,
        # The written documents the step's decisions call for first (their lines join the step's timeline),
        # then the case's timeline and status, then a 补正 answer handed back to the officer who asked for it.
        listeners=[issue_documents, on_step, handback.on_step],
    )
    # Held callbacks are taken up as soon as the reply they overtook is settled (huiju.app.correlate).
    runtime.engine.listeners.append(correlation_listener(runtime))
    # Community services follow their orders, settlements and complaints, and grant credit on approval.
    runtime.engine.listeners.append(o2o_listener(runtime.engine))
    if with_celery:
        from huiju.app.worker import create_celery

        runtime.celery = create_celery(settings, lambda: runtime)
    return runtime
