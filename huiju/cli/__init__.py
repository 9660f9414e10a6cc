"""The ``huiju`` command: set up, run, and drive cases from a terminal.

Every command reads the same settings as the web process and the worker (``HUIJU_*``), so with
``make demo`` running in one terminal, another terminal drives the same database and broker.
Errors print one line to stderr and exit with a code per kind of error (see ``EXIT_CODES``).
What it prints for a person is in ``HUIJU_LANG`` (Chinese unless set to ``en``), its help included
(:mod:`huiju.cli.help`); codes a person types back (statuses, decisions) keep their code beside the label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from huiju.cli.help import Group
from huiju.cli.support import cli_locale, handle_errors, runtime_ctx, say
from huiju.i18n import N_, Message, _, localize


@click.group(cls=Group, help=N_("Huiju (汇聚): e-affairs workflow engine for smart communities."))
def main() -> None:
    from huiju.services.audit import clear_origin, set_origin

    set_origin("cli")  # what a command records in the audit trail is marked as typed at a terminal
    click.get_current_context().call_on_close(clear_origin)


# -- setting up and running ---------------------------------------------------------------------


@main.command(help=N_("Create the tables, deploy the shipped processes and load the development data."))
@click.option("--no-demo-data", is_flag=True, help=N_("Only tables, processes and adapter settings."))
@handle_errors
def init(no_demo_data: bool) -> None:
    from huiju.app import seed
    from huiju.migrate import upgrade

    with runtime_ctx(with_celery=False) as rt:
        upgrade(rt.db)
        with rt.db.transaction() as session:
            if no_demo_data:
                from adapters.config import ensure_defaults

                report: dict[str, object] = {
                    "processes": seed.deploy_bundled(session),
                    "adapters": [
                        a.system
                        for a in ensure_defaults(
                            session,
                            rt.settings.sandbox_url,
                            endpoints=rt.settings.adapter_endpoints,
                            use_sandbox=rt.settings.env != "production",
                        )
                    ],  # fmt: skip
                }
            else:
                report = seed.seed_all(session, rt.settings.sandbox_url)
        say(_("database: {url}", url=rt.settings.resolved_database_url))
        if rt.settings.exchange_signing and not no_demo_data:
            report["certificates"] = _dev_certificates(rt.settings)
        for key, value in report.items():
            shown = ", ".join(localize(v, rt.settings.lang) for v in value) if isinstance(value, list) else value
            say(_("{what}: {value}", what=INIT_REPORT.get(key, key), value=shown))


def _dev_certificates(settings: Any) -> str:
    """A development PKI (CA, Huiju's and the sandbox's certificates) unless one exists."""
    from certs.store import init_dev_pki, passphrase_of

    folder = settings.resolved_certs_folder
    if (folder / "ca.cert.pem").exists():
        return str(folder)
    init_dev_pki(folder, passphrase=passphrase_of(settings))
    return str(folder)


#: What ``huiju init`` reports, by the keys of :func:`huiju.app.seed.seed_all`.
INIT_REPORT: dict[str, Message] = {
    "certificates": _("certificates"),
    "residents": _("residents"),
    "items": _("items"),
    "accounts": _("accounts"),
    "processes": _("processes"),
    "adapters": _("adapters"),
    "o2o": _("community services"),
}


@main.group(help=N_("Database schema: upgrade, show the revision, write a new migration."))
def db() -> None:
    pass


@db.command("upgrade", help=N_("Bring the schema to the newest migration (huiju init does this too)."))
@handle_errors
def db_upgrade() -> None:
    from huiju.migrate import current_revision, upgrade

    with runtime_ctx(with_celery=False) as rt:
        upgrade(rt.db)
        say(_("schema at revision {revision}", revision=current_revision(rt.db) or "-"))


@db.command("current", help=N_("The schema revision of the database and the newest one shipped."))
@handle_errors
def db_current() -> None:
    from huiju.migrate import current_revision, head_revision

    with runtime_ctx(with_celery=False) as rt:
        say(_("database: {current}; newest: {head}", current=current_revision(rt.db) or "-",
              head=head_revision() or "-"))  # fmt: skip


@db.command("revision", help=N_("Write a migration for the models' changes (developers)."))
@click.option("-m", "--message", required=True, help=N_("Why the schema changes."))
@handle_errors
def db_revision(message: str) -> None:
    from huiju.migrate import revision, upgrade

    with runtime_ctx(with_celery=False) as rt:
        upgrade(rt.db)
        revision(rt.db, message)


@main.command(help=N_("Print the development accounts (one per role)."))
@handle_errors
def accounts() -> None:
    from huiju.app.seed import ACCOUNTS, DEMO_PASSWORD
    from huiju.labels import label

    locale = cli_locale()
    headings = [localize(h, locale) for h in (_("account"), _("role"), _("password"), _("who"))]
    click.echo(f"{headings[0]:<24}{headings[1]:<20}{headings[2]:<14}{headings[3]}")
    for a in ACCOUNTS:
        click.echo(f"{a.username:<24}{label('role', a.role.value, locale):<20}{DEMO_PASSWORD:<14}{a.display_name}")


@main.group(
    help=N_("Serve the simulated government systems (SOAP over HTTP) on loopback; `sandbox sms` lists the texts sent."),
    invoke_without_command=True,
)
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option("--plain", is_flag=True, help=N_("Verify and sign nothing (default: secure when certificates exist)."))
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=N_(
        "Where the journal, stored records and owed callbacks are kept across restarts "
        "(default: HUIJU_SANDBOX_DATA, <instance>/sandbox)."
    ),
)
@click.option(
    "--payer",
    type=click.Choice(["at_once", "checkout"]),
    default=None,
    help=N_(
        "What the payment platform's payer does with a new payment: at_once pays it, checkout waits for a "
        "person on the checkout page (default: HUIJU_SANDBOX_PAYER, at_once)."
    ),
)
@click.pass_context
@handle_errors
def sandbox(
    ctx: click.Context, host: str | None, port: int | None, plain: bool, data: Path | None, payer: str | None
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from adapters.sandbox.server import run
    from adapters.tls import ClientTls, ServerTls
    from certs.store import load_signing_identity, passphrase_of
    from certs.trust import TrustStore
    from huiju.settings import load_settings

    settings = load_settings()
    folder = settings.resolved_certs_folder
    data_folder = (data or settings.resolved_sandbox_data).resolve()
    checkout: dict[str, Any] = {"checkout_port": settings.sandbox_checkout_port,
                                "payer": payer or settings.sandbox_payer}  # fmt: skip
    host, port = host or settings.sandbox_host, port or settings.sandbox_port
    for taken in (port, settings.sandbox_checkout_port):  # said in words, before anything starts
        if taken:
            _refuse_a_taken_port(host, taken)
    if plain or not (folder / "ca.cert.pem").exists():
        say(_("the sandbox runs in plain mode: requests are not verified, replies not signed"), err=True)
        run(host, port, data_folder=data_folder, **checkout)
        return
    # Callbacks go where Huiju's web process takes them: over mutual TLS in secure mode.
    mtls = settings.resolved_inbound_mtls
    run(
        host,
        port,
        data_folder=data_folder,
        trust=TrustStore.watching(folder),  # a new CRL or partner CA is read without a restart
        signer=load_signing_identity(folder, "sandbox", passphrase=passphrase_of(settings)),
        callback_url=settings.inbound_url,
        tls=ServerTls.from_store(folder, "sandbox"),
        callback_tls=ClientTls.from_store(folder, "sandbox") if mtls else None,
        **checkout,
    )


@sandbox.command("sms", help=N_("What the sandbox's SMS platform received, newest last (a development inbox)."))
@click.option("--phone", default=None, help=N_("Only the texts sent to this phone."))
@handle_errors
def sandbox_sms(phone: str | None) -> None:
    import json
    import urllib.request

    from huiju.app.demo import client_context
    from huiju.calendar import CHINA
    from huiju.errors import NotFoundError
    from huiju.settings import load_settings

    settings = load_settings()
    url = f"{settings.sandbox_url}/_sandbox/store"
    try:
        with urllib.request.urlopen(url, timeout=5, context=client_context(settings)) as reply:  # noqa: S310 - our sandbox
            stored = json.loads(reply.read())
    except OSError as exc:
        raise NotFoundError(_("the sandbox does not answer at {url}: start it with huiju demo", url=url)) from exc
    from datetime import datetime

    texts = [m for m in stored.get("sms", []) if not phone or m.get("phone") == phone.strip()]
    if not texts:
        say(_("no SMS received yet") if not phone else _("no SMS sent to {phone}", phone=phone))
    for m in texts:
        at = datetime.fromisoformat(str(m.get("sent_at"))).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{at}  {m.get('phone')}  {m.get('text') or m.get('template')}")


@main.command(help=N_("Run a Celery worker with the periodic sweep (beat) embedded."))
@click.option("--concurrency", type=int, default=1)
@click.option("--no-beat", is_flag=True, help=N_("Leave the sweep to another worker."))
@click.option("--loglevel", default="INFO")
@click.option("--pool", type=click.Choice(["prefork", "solo", "threads"]), default="prefork", show_default=True)
@click.option("--quiet", is_flag=True, help=N_("No start-up banner."))
@click.option("--name", default=None, help=N_("The worker's node name (several workers on one host: one each)."))
@click.option(
    "--nice",
    "niceness",
    type=click.IntRange(0, 19),
    default=None,
    help=N_("CPU priority, 0 to 19: above 0 the worker yields the CPU to the web processes (default: "
            "HUIJU_WORKER_NICENESS, 10)."),
)  # fmt: skip
@handle_errors
def worker(
    concurrency: int, no_beat: bool, loglevel: str, pool: str, quiet: bool, name: str | None, niceness: int | None
) -> None:
    import gc

    from huiju.app.bootstrap import build_runtime
    from huiju.app.worker import install_log_context, yield_cpu

    runtime = build_runtime()
    yield_cpu(runtime.settings.worker_niceness if niceness is None else niceness)
    install_log_context(runtime.celery, runtime.settings, lambda: runtime)
    # --quiet (no banner) is an option of the celery command, not of its worker sub-command.
    argv = ["--quiet"] if quiet else []
    argv += ["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}", f"--pool={pool}"]
    if name:
        argv.append(f"--hostname={name}")
    if not no_beat:
        argv.append("--beat")
    # What is loaded now lives as long as the worker: the garbage collector stops looking through it
    # (in the pool's forked processes too, which then also keep sharing its memory pages).
    gc.freeze()
    runtime.celery.worker_main(argv)


@main.command(help=N_("Serve the web process: JSON API, portal (/portal) and officer console (/console)."))
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    help=N_("Serve with gunicorn in this many processes (default: the one-process development server)."),
)
@handle_errors
def serve(host: str | None, port: int | None, processes: int | None) -> None:
    from huiju.logs import configure as configure_logs
    from huiju.settings import load_settings

    settings = load_settings()
    if processes is not None:
        _gunicorn(host or settings.web_host, port or settings.web_port, processes)
        return
    from werkzeug.serving import run_simple

    from huiju.app.web import create_app

    configure_logs(settings)
    app = create_app()
    if settings.resolved_inbound_mtls:
        start_inbound(app, settings)
    run_simple(host or settings.web_host, port or settings.web_port, app, threaded=True)


def start_inbound(app: Any, settings: Any) -> None:
    """The inbound endpoint on its own listener, over mutual TLS (secure mode), in a thread."""
    import threading

    server = _inbound_server(app, settings)
    threading.Thread(target=server.serve_forever, name="huiju-inbound", daemon=True).start()


def _inbound_server(app: Any, settings: Any) -> Any:
    from adapters.tls import ServerTls
    from huiju.app.inbound_tls import serve_inbound

    server = serve_inbound(
        settings.inbound_host, settings.inbound_port, app, ServerTls.from_store(settings.resolved_certs_folder, "huiju")
    )
    say(_("callbacks: {url} (mutual TLS, client certificate required)", url=settings.inbound_url), err=True)
    return server


@main.command("serve-inbound", help=N_("Serve only the inbound endpoint over mutual TLS (beside gunicorn)."))
@handle_errors
def serve_inbound_only() -> None:
    # gunicorn's processes share one port; the mTLS listener is one process of its own, started and
    # stopped by gunicorn's master (huiju.app.gunicorn_config).
    from huiju.app.web import create_app
    from huiju.logs import configure as configure_logs
    from huiju.settings import load_settings

    settings = load_settings()
    configure_logs(settings)
    server = _inbound_server(create_app(), settings)
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # Ctrl-C reaches the whole group: gunicorn's master stops too
        pass
    finally:
        server.server_close()


def _gunicorn(host: str, port: int, processes: int) -> None:
    """Replace this process with gunicorn's master (its signals, Ctrl-C included, stop it)."""
    import os
    import sys

    _refuse_a_taken_port(host, port)

    argv = [sys.executable, "-m", "gunicorn", "-c", "python:huiju.app.gunicorn_config", "--bind", f"{host}:{port}",
            "--workers", str(processes), "huiju.app.wsgi:application()"]  # fmt: skip
    os.execv(sys.executable, argv)  # noqa: S606 - our own server, started from our own command


def _refuse_a_taken_port(host: str, port: int) -> None:
    """gunicorn's processes each listen on the port with SO_REUSEPORT (the kernel then spreads new
    connections evenly over them); another server of this account listening so on the same port
    would share its requests without a word. Refuse to start while anything listens there (the
    sandbox too: its own server would say so in English, with a traceback)."""
    import errno
    import socket

    from huiju.errors import ConfigurationError

    reasons = {
        errno.EADDRINUSE: _("another program listens on that port"),
        errno.EACCES: _("this account may not listen on that port"),
        errno.EADDRNOTAVAIL: _("this machine has no such address"),
    }
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers bind: a port whose last connections still wait out TIME_WAIT (a server just
        # killed and started again) is free; one something listens on is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = reasons.get(exc.errno or 0) or exc.strerror or str(exc)
            raise ConfigurationError(_("cannot serve on {host}:{port}: {reason}", host=host, port=port,
                                       reason=reason)) from exc  # fmt: skip


@main.command(help=N_("Initialise, then run the sandbox, a worker and the web process until Ctrl-C."))
@handle_errors
def demo() -> None:
    from huiju.app.demo import run_demo

    run_demo()


@main.command(
    "demo-scale",
    help=N_(
        "Like demo, on PostgreSQL and Redis (Debian's packages, on loopback), with two workers and "
        "two gunicorn web processes, until Ctrl-C."
    ),
)
@handle_errors
def demo_scale() -> None:
    from huiju.app.demo_scale import run_demo_scale

    run_demo_scale()


from huiju.cli import (  # noqa: E402,F401 - they register their commands on main
    adapters,
    audit,
    calendar,
    callbacks,
    cases,
    documents,
    exchange,
    o2o,
    operations,
    residents,
    users,
)

adapters.register(main)
audit.register(main)
calendar.register(main)
cases.register(main)
operations.register(cases.case, cases.process)
documents.register(main)
exchange.register(main)
callbacks.register(main)
o2o.register(main)
residents.register(main)
users.register(main)
