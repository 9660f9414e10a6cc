"""``huiju case`` and ``huiju task``: drive cases from a terminal, as any role."""

from __future__ import annotations

from pathlib import Path

import click

from huiju.cli.support import handle_errors, json_arg, runtime_ctx, say
from huiju.i18n import _
from huiju.labels import DECISIONS, STATUSES


def register(main: click.Group) -> None:
    main.add_command(case)
    main.add_command(task)
    main.add_command(process)


@click.group(help="Submit, show and list cases (办件).")
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

    form = json_arg(data, "--data")
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
    from huiju.cli.format import print_case
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


@click.group(help="Human tasks: inboxes and decisions.")
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

    form = json_arg(data, "--data")
    if reason is not None:
        form["reason"] = reason
    if missing:
        form["missing_materials"] = list(missing)
    with runtime_ctx() as rt, rt.db.transaction() as session:
        result = complete_task(session, rt.engine, load_actor(session, username), task_id, decision, form)
        nxt = ", ".join(f"{t.name} ({t.role})" for t in result.ready_tasks) or "-"
    say(_("done: {decision}; next: {next}", decision=DECISIONS.get(decision, decision), next=nxt))


# -- process definitions ----------------------------------------------------------------------------


@click.group(help="Validate, deploy and list BPMN/DMN process definitions.")
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
@click.option("--as", "username", default=None, help="An administrator (default: the only one, or admin).")
@handle_errors
def process_deploy(files: tuple[Path, ...], username: str | None) -> None:
    from huiju.cli.support import acting_administrator
    from workflows_bpmn.definitions import deploy, read_sources
    from workflows_bpmn.expressions import host_functions

    sources = read_sources(files)
    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        actor = acting_administrator(session, username)
        result = deploy(session, sources, host_functions(), deployed_by=actor.username)
        d = result.definition
        if result.created:
            from huiju.services import audit

            audit.record(session, actor, "process.deploy", target_kind="definition", target=d.process_id,
                         definition=f"{d.process_id} v{d.version}", after={"hash": d.content_hash})  # fmt: skip
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
