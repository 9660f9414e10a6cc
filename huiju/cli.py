"""The ``huiju`` command: set up, run, and drive cases from a terminal.

Every command reads the same settings as the web process and the worker (``HUIJU_*``), so with
``make demo`` running in one terminal, another terminal drives the same database and broker.
Errors print one line to stderr and exit with a code per kind of error (see ``EXIT_CODES``).
What it prints for a person is in ``HUIJU_LANG`` (Chinese unless set to ``en``); codes a person types
back (statuses, decisions) keep their code beside the label.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import click

from huiju.errors import ConflictError, DeployError, HuijuError, InputError, NotFoundError, PermissionDenied
from huiju.i18n import Message, _, localize
from huiju.labels import DECISIONS, STATUSES

EXIT_CODES: list[tuple[type[HuijuError], int]] = [
    (InputError, 2),
    (DeployError, 2),
    (NotFoundError, 3),
    (PermissionDenied, 4),
    (ConflictError, 5),
]


def cli_locale() -> str:
    """The language of the command line (``HUIJU_LANG``); Chinese when the settings cannot be read."""
    from huiju.errors import ConfigurationError
    from huiju.settings import load_settings

    try:
        return load_settings().lang
    except ConfigurationError:
        return "zh_CN"


def say(text: str | Message, *, err: bool = False) -> None:
    """Print one line for a person, in the language of the command line."""
    click.echo(localize(text, cli_locale()), err=err)


def _exit_code(exc: HuijuError) -> int:
    return next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), 1)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HuijuError as exc:
            say(_("error: {message}", message=exc.text), err=True)
            for key, value in exc.details.items():
                click.echo(f"  {key}: {value}", err=True)
            sys.exit(_exit_code(exc))

    return wrapper


@contextmanager
def runtime_ctx(with_celery: bool = True) -> Iterator[Any]:
    from huiju.bootstrap import build_runtime

    runtime = build_runtime(with_celery=with_celery)
    try:
        yield runtime
    finally:
        runtime.db.dispose()


@click.group(help="Huiju (汇聚): e-affairs workflow engine for smart communities.")
def main() -> None:
    pass


# -- setting up and running ---------------------------------------------------------------------


@main.command(help="Create the tables, deploy the shipped processes and load the development data.")
@click.option("--no-demo-data", is_flag=True, help="Only tables, processes and adapter settings.")
@handle_errors
def init(no_demo_data: bool) -> None:
    from huiju import seed
    from huiju.migrate import upgrade

    with runtime_ctx(with_celery=False) as rt:
        upgrade(rt.db)
        with rt.db.transaction() as session:
            if no_demo_data:
                from adapters.config import ensure_defaults

                report: dict[str, object] = {
                    "processes": seed.deploy_bundled(session),
                    "adapters": [a.system for a in ensure_defaults(session, rt.settings.sandbox_url)],
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


#: What ``huiju init`` reports, by the keys of :func:`huiju.seed.seed_all`.
INIT_REPORT: dict[str, Message] = {
    "certificates": _("certificates"),
    "residents": _("residents"),
    "items": _("items"),
    "accounts": _("accounts"),
    "processes": _("processes"),
    "adapters": _("adapters"),
}


@main.group(help="Database schema: upgrade, show the revision, write a new migration.")
def db() -> None:
    pass


@db.command("upgrade", help="Bring the schema to the newest migration (huiju init does this too).")
@handle_errors
def db_upgrade() -> None:
    from huiju.migrate import current_revision, upgrade

    with runtime_ctx(with_celery=False) as rt:
        upgrade(rt.db)
        say(_("schema at revision {revision}", revision=current_revision(rt.db) or "-"))


@db.command("current", help="The schema revision of the database and the newest one shipped.")
@handle_errors
def db_current() -> None:
    from huiju.migrate import current_revision, head_revision

    with runtime_ctx(with_celery=False) as rt:
        say(_("database: {current}; newest: {head}", current=current_revision(rt.db) or "-",
              head=head_revision() or "-"))  # fmt: skip


@db.command("revision", help="Write a migration for the models' changes (developers).")
@click.option("-m", "--message", required=True, help="Why the schema changes.")
@handle_errors
def db_revision(message: str) -> None:
    from huiju.migrate import revision, upgrade

    with runtime_ctx(with_celery=False) as rt:
        upgrade(rt.db)
        revision(rt.db, message)


@main.command(help="Print the development accounts (one per role).")
def accounts() -> None:
    from huiju.labels import label
    from huiju.seed import ACCOUNTS, DEMO_PASSWORD

    locale = cli_locale()
    headings = [localize(h, locale) for h in (_("account"), _("role"), _("password"), _("who"))]
    click.echo(f"{headings[0]:<24}{headings[1]:<20}{headings[2]:<14}{headings[3]}")
    for a in ACCOUNTS:
        click.echo(f"{a.username:<24}{label('role', a.role.value, locale):<20}{DEMO_PASSWORD:<14}{a.display_name}")


@main.command(help="Serve the simulated government systems (SOAP over HTTP) on loopback.")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option("--plain", is_flag=True, help="Verify and sign nothing (default: secure when certificates exist).")
@handle_errors
def sandbox(host: str | None, port: int | None, plain: bool) -> None:
    from adapters.sandbox.server import run
    from adapters.tls import ServerTls
    from certs.store import load_signing_identity, passphrase_of
    from certs.trust import TrustStore
    from huiju.settings import load_settings

    settings = load_settings()
    folder = settings.resolved_certs_folder
    if plain or not (folder / "ca.cert.pem").exists():
        say(_("the sandbox runs in plain mode: requests are not verified, replies not signed"), err=True)
        run(host or settings.sandbox_host, port or settings.sandbox_port)
        return
    run(
        host or settings.sandbox_host,
        port or settings.sandbox_port,
        trust=TrustStore.load(folder),
        signer=load_signing_identity(folder, "sandbox", passphrase=passphrase_of(settings)),
        callback_url=f"http://{settings.web_host}:{settings.web_port}/exchange/soap",
        tls=ServerTls.from_store(folder, "sandbox"),
    )


@main.command(help="Run a Celery worker with the periodic sweep (beat) embedded.")
@click.option("--concurrency", type=int, default=1)
@click.option("--no-beat", is_flag=True, help="Leave the sweep to another worker.")
@click.option("--loglevel", default="INFO")
@click.option("--pool", type=click.Choice(["prefork", "solo", "threads"]), default="prefork", show_default=True)
@click.option("--quiet", is_flag=True, help="No start-up banner.")
def worker(concurrency: int, no_beat: bool, loglevel: str, pool: str, quiet: bool) -> None:
    from huiju.bootstrap import build_runtime

    runtime = build_runtime()
    # --quiet (no banner) is an option of the celery command, not of its worker sub-command.
    argv = ["--quiet"] if quiet else []
    argv += ["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}", f"--pool={pool}"]
    if not no_beat:
        argv.append("--beat")
    runtime.celery.worker_main(argv)


@main.command(help="Serve the web process (JSON API; portal and console when present).")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
def serve(host: str | None, port: int | None) -> None:
    from werkzeug.serving import run_simple

    from huiju.settings import load_settings
    from huiju.web import create_app

    settings = load_settings()
    run_simple(host or settings.web_host, port or settings.web_port, create_app(), threaded=True)


@main.command(help="Initialise, then run the sandbox, a worker and the web process until Ctrl-C.")
@handle_errors
def demo() -> None:
    from huiju.demo import run_demo

    run_demo()


# -- cases and tasks ------------------------------------------------------------------------------


def _json_arg(raw: str | None, what: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if raw.startswith("@"):
        raw = Path(raw[1:]).read_text(encoding="utf-8")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(
            _("{what} is not valid JSON: {error} at column {column}", what=what, error=exc.msg, column=exc.colno)
        ) from exc
    if not isinstance(value, dict):
        raise InputError(_("{what} must be a JSON object", what=what))
    return value


@main.group(help="Submit, show and list cases (办件).")
def case() -> None:
    pass


@case.command("submit", help="Submit an application for an item.")
@click.option("--item", "item_code", required=True)
@click.option("--applicant", required=True, help="The applicant's resident ID number.")
@click.option("--data", default="{}", help="Form data as JSON, or @file.json.")
@click.option("--as", "username", default="admin", show_default=True)
@handle_errors
def case_submit(item_code: str, applicant: str, data: str, username: str) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.cases import submit_case

    form = _json_arg(data, "--data")
    with runtime_ctx() as rt, rt.db.transaction() as session:
        actor = load_actor(session, username)
        created = submit_case(session, rt.engine, actor, item_code, applicant, form)
        number, status = created.number, created.status.value
    say(_("case {number} submitted; status: {status}", number=number, status=STATUSES.get(status, status)))


@case.command("show", help="A case with its timeline: every step, who, when, which system.")
@click.argument("number")
@click.option("--as", "username", default="admin", show_default=True)
@handle_errors
def case_show(number: str, username: str) -> None:
    from huiju.cli_format import print_case
    from huiju.services.actors import load_actor
    from huiju.services.cases import get_case

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        print_case(session, get_case(session, load_actor(session, username), number), rt.settings.lang)


@case.command("list", help="Cases the account may see.")
@click.option("--as", "username", default="admin", show_default=True)
@click.option("--status", default=None)
@handle_errors
def case_list(username: str, status: str | None) -> None:
    from huiju.labels import label
    from huiju.services.actors import load_actor
    from huiju.services.cases import list_cases

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        locale = rt.settings.lang
        for c in list_cases(session, load_actor(session, username), status=status):
            shown = label("status", c.status.value, locale)
            outcome = label("outcome", c.outcome, locale) if c.outcome else ""
            click.echo(f"{c.number}  {c.item.code:<24}{c.applicant.name:<8}{shown:<22}{outcome}")


@case.command("retry", help="Send the failed government calls of a case in incident again.")
@click.argument("number")
@click.option("--as", "username", required=True)
@handle_errors
def case_retry(number: str, username: str) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.cases import retry_incident

    with runtime_ctx() as rt, rt.db.transaction() as session:
        ids = retry_incident(session, rt.engine, load_actor(session, username), number)
    say(_("sent again: {messages}", messages=", ".join(ids)))


@main.group(help="Human tasks: inboxes and decisions.")
def task() -> None:
    pass


@task.command("list", help="The inbox of an account.")
@click.option("--as", "username", required=True)
@handle_errors
def task_list(username: str) -> None:
    from sqlalchemy import select

    from huiju.labels import label_with_code
    from huiju.models import Case
    from huiju.services.actors import load_actor
    from huiju.services.tasks import inbox

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        tasks = inbox(session, load_actor(session, username))
        rows = session.execute(select(Case.id, Case.number).where(Case.id.in_({t.case_id for t in tasks})))
        numbers = {case_id: number for case_id, number in rows}
        locale = rt.settings.lang
        if not tasks:
            say(_("no tasks"))
        for t in tasks:
            line = _(
                "{task}  {case}  {step}due {due}  decisions: {decisions}",
                task=t.id,
                case=numbers.get(t.case_id, "-"),
                step=f"{t.name:<12}",
                due=t.due_at.date().isoformat() if t.due_at else "-",
                decisions=",".join(label_with_code("decision", d, locale) for d in t.decisions),
            )
            click.echo(line.localize(locale))


@task.command("complete", help="Complete a task with a decision.")
@click.argument("task_id")
@click.option("--as", "username", required=True)
@click.option("--decision", required=True)
@click.option("--reason", default=None)
@click.option("--missing", multiple=True, help="A missing material (repeat for several).")
@click.option("--data", default=None, help="More form fields as JSON, or @file.json.")
@handle_errors
def task_complete(
    task_id: str, username: str, decision: str, reason: str | None, missing: tuple[str, ...], data: str | None
) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.tasks import complete_task

    form = _json_arg(data, "--data")
    if reason is not None:
        form["reason"] = reason
    if missing:
        form["missing_materials"] = list(missing)
    with runtime_ctx() as rt, rt.db.transaction() as session:
        result = complete_task(session, rt.engine, load_actor(session, username), task_id, decision, form)
        nxt = ", ".join(f"{t.name} ({t.role})" for t in result.ready_tasks) or "-"
    say(_("done: {decision}; next: {next}", decision=DECISIONS.get(decision, decision), next=nxt))


# -- process definitions ----------------------------------------------------------------------------


@main.group(help="Validate, deploy and list BPMN/DMN process definitions.")
def process() -> None:
    pass


@process.command("validate", help="Run the deploy-time checks without deploying.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@handle_errors
def process_validate(files: tuple[Path, ...]) -> None:
    from workflows_bpmn.definitions import read_sources, validate
    from workflows_bpmn.expressions import host_functions

    bundle = validate(read_sources(files), host_functions())
    say(
        _(
            "ok: process '{process_id}' ({name}) from {files}",
            process_id=bundle.process_id,
            name=bundle.name,
            files=", ".join(bundle.sources),
        )
    )


@process.command("deploy", help="Deploy a new version (running cases stay on theirs).")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--as", "username", default="admin", show_default=True)
@handle_errors
def process_deploy(files: tuple[Path, ...], username: str) -> None:
    from huiju.models import Role
    from huiju.services.actors import load_actor
    from workflows_bpmn.definitions import deploy, read_sources
    from workflows_bpmn.expressions import host_functions

    sources = read_sources(files)
    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        actor = load_actor(session, username)
        if actor.role is not Role.ADMINISTRATOR:
            raise PermissionDenied(_("only administrators deploy processes"))
        result = deploy(session, sources, host_functions(), deployed_by=actor.username)
        d = result.definition
        fields = {"process_id": d.process_id, "version": d.version, "hash": d.content_hash[:12]}
        if result.created:
            say(_("deployed {process_id} version {version} ({hash})", **fields))
        else:
            say(_("unchanged, already {process_id} version {version} ({hash})", **fields))


@process.command("list", help="Deployed versions and their running cases.")
@handle_errors
def process_list() -> None:
    from workflows_bpmn.definitions import list_definitions

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        for d, running in list_definitions(session):
            line = _(
                "{process_id}v{version}{hash}  {deployed_at}  by {deployed_by}running: {running}",
                process_id=f"{d.process_id:<28}",
                version=f"{d.version:<4}",
                hash=d.content_hash[:12],
                deployed_at=f"{d.deployed_at:%Y-%m-%d %H:%M}",
                deployed_by=f"{d.deployed_by:<14}",
                running=running,
            )
            click.echo(line.localize(rt.settings.lang))


from huiju import cli_exchange  # noqa: E402 - registers the exchange and certs commands on main

cli_exchange.register(main)

if __name__ == "__main__":
    main()
