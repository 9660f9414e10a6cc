"""The ``huiju`` command: set up, run, and drive cases from a terminal.

Every command reads the same settings as the web process and the worker (``HUIJU_*``), so with
``make demo`` running in one terminal, another terminal drives the same database and broker.
Errors print one line to stderr and exit with a code per kind of error (see ``EXIT_CODES``).
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

EXIT_CODES: list[tuple[type[HuijuError], int]] = [
    (InputError, 2),
    (DeployError, 2),
    (NotFoundError, 3),
    (PermissionDenied, 4),
    (ConflictError, 5),
]


def _exit_code(exc: HuijuError) -> int:
    return next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), 1)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HuijuError as exc:
            click.echo(f"error: {exc.message}", err=True)
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

    with runtime_ctx(with_celery=False) as rt:
        rt.db.create_all()
        with rt.db.transaction() as session:
            if no_demo_data:
                from adapters.config import ensure_defaults

                report: dict[str, object] = {
                    "processes": seed.deploy_bundled(session),
                    "adapters": [a.system for a in ensure_defaults(session, rt.settings.sandbox_url)],
                }
            else:
                report = seed.seed_all(session, rt.settings.sandbox_url)
        click.echo(f"database: {rt.settings.resolved_database_url}")
        for key, value in report.items():
            click.echo(f"{key}: {value}")


@main.command(help="Print the development accounts (one per role).")
def accounts() -> None:
    from huiju.seed import ACCOUNTS, DEMO_PASSWORD

    click.echo(f"{'account':<24}{'role':<20}{'password':<14}who")
    for a in ACCOUNTS:
        click.echo(f"{a.username:<24}{a.role.value:<20}{DEMO_PASSWORD:<14}{a.display_name}")


@main.command(help="Serve the simulated government systems (SOAP over HTTP) on loopback.")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
def sandbox(host: str | None, port: int | None) -> None:
    from adapters.sandbox.server import run
    from huiju.settings import load_settings

    settings = load_settings()
    run(host or settings.sandbox_host, port or settings.sandbox_port)


@main.command(help="Run a Celery worker with the periodic sweep (beat) embedded.")
@click.option("--concurrency", type=int, default=1)
@click.option("--no-beat", is_flag=True, help="Leave the sweep to another worker.")
@click.option("--loglevel", default="INFO")
@click.option("--pool", type=click.Choice(["prefork", "solo", "threads"]), default="prefork", show_default=True)
def worker(concurrency: int, no_beat: bool, loglevel: str, pool: str) -> None:
    from huiju.bootstrap import build_runtime

    runtime = build_runtime()
    argv = ["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}", f"--pool={pool}"]
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
        raise InputError(f"{what} is not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object")
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
    click.echo(f"case {number} submitted; status: {status}")


@case.command("show", help="A case with its timeline: every step, who, when, which system.")
@click.argument("number")
@click.option("--as", "username", default="admin", show_default=True)
@handle_errors
def case_show(number: str, username: str) -> None:
    from huiju.cli_format import print_case
    from huiju.services.actors import load_actor
    from huiju.services.cases import get_case

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        print_case(session, get_case(session, load_actor(session, username), number))


@case.command("list", help="Cases the account may see.")
@click.option("--as", "username", default="admin", show_default=True)
@click.option("--status", default=None)
@handle_errors
def case_list(username: str, status: str | None) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.cases import list_cases

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        for c in list_cases(session, load_actor(session, username), status=status):
            click.echo(f"{c.number}  {c.item.code:<24}{c.applicant.name:<8}{c.status.value:<22}{c.outcome or ''}")


@case.command("retry", help="Send the failed government calls of a case in incident again.")
@click.argument("number")
@click.option("--as", "username", required=True)
@handle_errors
def case_retry(number: str, username: str) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.cases import retry_incident

    with runtime_ctx() as rt, rt.db.transaction() as session:
        ids = retry_incident(session, rt.engine, load_actor(session, username), number)
    click.echo(f"sent again: {', '.join(ids)}")


@main.group(help="Human tasks: inboxes and decisions.")
def task() -> None:
    pass


@task.command("list", help="The inbox of an account.")
@click.option("--as", "username", required=True)
@handle_errors
def task_list(username: str) -> None:
    from sqlalchemy import select

    from huiju.models import Case
    from huiju.services.actors import load_actor
    from huiju.services.tasks import inbox

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        tasks = inbox(session, load_actor(session, username))
        rows = session.execute(select(Case.id, Case.number).where(Case.id.in_({t.case_id for t in tasks})))
        numbers = {case_id: number for case_id, number in rows}
        if not tasks:
            click.echo("no tasks")
        for t in tasks:
            due = t.due_at.date().isoformat() if t.due_at else "-"
            click.echo(
                f"{t.id}  {numbers.get(t.case_id, '-')}  {t.name:<12}due {due}  decisions: {','.join(t.decisions)}"
            )


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
    click.echo(f"done: {decision}; next: {nxt}")


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
    click.echo(f"ok: process '{bundle.process_id}' ({bundle.name}) from {', '.join(bundle.sources)}")


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
            raise PermissionDenied("only administrators deploy processes")
        result = deploy(session, sources, host_functions(), deployed_by=actor.username)
        d = result.definition
        verb = "deployed" if result.created else "unchanged, already"
        click.echo(f"{verb} {d.process_id} version {d.version} ({d.content_hash[:12]})")


@process.command("list", help="Deployed versions and their running cases.")
@handle_errors
def process_list() -> None:
    from workflows_bpmn.definitions import list_definitions

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        for d, running in list_definitions(session):
            click.echo(
                f"{d.process_id:<28}v{d.version:<4}{d.content_hash[:12]}  {d.deployed_at:%Y-%m-%d %H:%M}  "
                f"by {d.deployed_by:<14}running: {running}"
            )


if __name__ == "__main__":
    main()
