"""``huiju case`` and ``huiju task``: drive cases from a terminal, as any role."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from huiju.cli.support import cli_locale, handle_errors, json_arg, runtime_ctx, say
from huiju.errors import InputError
from huiju.i18n import N_, _, localize
from huiju.labels import label_with_code

if TYPE_CHECKING:
    from huiju.services.materials import Upload


def register(main: click.Group) -> None:
    main.add_command(case)
    main.add_command(task)
    main.add_command(process)


@click.group(help=N_("Submit, show and list cases (办件)."))
def case() -> None:
    pass


@case.command("submit", help=N_("Submit an application for an item, with its materials."))
@click.option("--item", "item_code", required=True, help=N_("The item's code (huiju case items lists them)."))
@click.option("--applicant", required=True, help=N_("The applicant's resident ID number."))
@click.option("--data", default="{}", help=N_("Form data as JSON, or @file.json."))
@click.option("--material", "material_files", multiple=True, metavar="CODE=FILE",
              help=N_("A material of the item and its file, e.g. id_card=身份证.jpg (repeat for each)."))  # fmt: skip
@click.option("--as", "username", default="admin", show_default=True, help=N_("The account that submits."))
@handle_errors
def case_submit(item_code: str, applicant: str, data: str, material_files: tuple[str, ...], username: str) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.applications import submit_with_materials
    from huiju.services.materials import UploadStore

    form = json_arg(data, "--data")
    files = [material_arg(value) for value in material_files]
    with runtime_ctx() as rt, rt.db.transaction() as session:
        actor = load_actor(session, username)
        store = UploadStore.from_settings(rt.settings)
        created = submit_with_materials(session, rt.engine, store, actor, item_code, applicant, form, files,
                                        cli_locale())  # fmt: skip
        number, status = created.number, created.status.value
    say(
        _(
            "case {number} submitted; status: {status}",
            number=number,
            status=label_with_code("status", status, cli_locale()),
        )
    )


@case.command("items", help=N_("The items one can apply for, with their materials (codes for --material)."))
@handle_errors
def case_items() -> None:
    from huiju.services.cases import list_items

    locale = cli_locale()
    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        for item in list_items(session):
            click.echo(f"{item.code}  {item.name_in(locale)}")
            for m in item.required_materials:
                shown = m.get("name_en") if locale == "en" and m.get("name_en") else m.get("name")
                need = localize(_("required") if m.get("required") else _("if available"), locale)
                click.echo(f"    --material {m['code']}=FILE  {shown}（{need}）")


def material_arg(value: str) -> Upload:
    """``CODE=FILE`` read into an upload (the file's bytes; its name as the resident's file name)."""
    from huiju.services.materials import Upload

    code, sep, path = value.partition("=")
    if not sep or not code.strip() or not path.strip():
        raise InputError(_("--material wants CODE=FILE, e.g. id_card=身份证.jpg, not '{value}'", value=value))
    file = Path(path.strip())
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise InputError(_("cannot read {file}: {reason}", file=str(file), reason=exc.strerror or "")) from exc
    return Upload(code.strip(), file.name, content)


@case.command("show", help=N_("A case with its timeline: every step, who, when, which system."))
@click.argument("number")
@click.option("--as", "username", default="admin", show_default=True)
@handle_errors
def case_show(number: str, username: str) -> None:
    from huiju.cli.format import print_case
    from huiju.services.actors import load_actor
    from huiju.services.cases import get_case

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        print_case(session, get_case(session, load_actor(session, username), number), rt.settings.lang)


@case.command("list", help=N_("Cases the account may see."))
@click.option("--as", "username", default="admin", show_default=True)
@click.option("--status", default=None)
@handle_errors
def case_list(username: str, status: str | None) -> None:
    from huiju.labels import label
    from huiju.services.actors import load_actor
    from huiju.services.cases import list_cases

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        locale = rt.settings.lang
        for c in list_cases(session, load_actor(session, username), status=status):
            shown = label("status", c.status.value, locale)
            outcome = label("outcome", c.outcome, locale) if c.outcome else ""
            click.echo(f"{c.number}  {c.item.code:<24}{c.applicant.name:<8}{shown:<22}{outcome}")


@case.command("retry", help=N_("Send the failed government calls of a case in incident again."))
@click.argument("number")
@click.option("--as", "username", required=True)
@handle_errors
def case_retry(number: str, username: str) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.cases import retry_incident

    with runtime_ctx() as rt, rt.db.transaction() as session:
        ids = retry_incident(session, rt.engine, load_actor(session, username), number)
    say(_("sent again: {messages}", messages=", ".join(ids)))


@click.group(help=N_("Human tasks: inboxes and decisions."))
def task() -> None:
    pass


@task.command("list", help=N_("The inbox of an account, one page at a time."))
@click.option("--as", "username", required=True)
@click.option("--sort", type=click.Choice(["due", "received"]), default="due", show_default=True)
@click.option("--limit", type=int, default=25, show_default=True, help=N_("Tasks per page (at most 200)."))
@click.option("--after", default=None, help=N_("The cursor printed under the page before."))
@handle_errors
def task_list(username: str, sort: str, limit: int, after: str | None) -> None:
    from huiju.labels import label_with_code
    from huiju.services.actors import load_actor
    from huiju.services.worklist import InboxFilter, inbox_page
    from workflows_bpmn.step_names import step_names

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        page = inbox_page(session, load_actor(session, username), InboxFilter(sort=sort, limit=limit, after=after))
        locale = rt.settings.lang
        steps = step_names(session)
        if not page.rows:
            say(_("no tasks"))
        for row in page.rows:
            t = row.task
            line = _(
                "{task}  {case}  {step}due {due}  decisions: {decisions}",
                task=t.id,
                case=row.case.number if row.case else "-",
                step=f"{steps.of(t.name, locale):<12}",
                due=t.due_at.date().isoformat() if t.due_at else "-",
                decisions=",".join(label_with_code("decision", d, locale) for d in t.decisions),
            )
            click.echo(line.localize(locale))
        if page.next:
            say(_("more tasks: add --after {cursor}", cursor=page.next))


@task.command("complete", help=N_("Complete a task with a decision."))
@click.argument("task_id")
@click.option("--as", "username", required=True)
@click.option("--decision", required=True)
@click.option("--reason", default=None)
@click.option("--missing", multiple=True, help=N_("A missing material (repeat for several)."))
@click.option("--data", default=None, help=N_("More form fields as JSON, or @file.json."))
@handle_errors
def task_complete(
    task_id: str, username: str, decision: str, reason: str | None, missing: tuple[str, ...], data: str | None
) -> None:
    from huiju.labels import label
    from huiju.services.actors import load_actor
    from huiju.services.tasks import complete_task
    from workflows_bpmn.step_names import step_names

    form = json_arg(data, "--data")
    if reason is not None:
        form["reason"] = reason
    if missing:
        form["missing_materials"] = list(missing)
    with runtime_ctx() as rt, rt.db.transaction() as session:
        result = complete_task(session, rt.engine, load_actor(session, username), task_id, decision, form)
        steps, locale = step_names(session), cli_locale()
        nxt = ", ".join(f"{steps.of(t.name, locale)} ({label('role', t.role, locale)})" for t in result.ready_tasks)
    nxt = nxt or "-"
    say(_("done: {decision}; next: {next}", decision=label_with_code("decision", decision, cli_locale()), next=nxt))


# -- process definitions ----------------------------------------------------------------------------


@click.group(help=N_("Validate, deploy and list BPMN/DMN process definitions."))
def process() -> None:
    pass


@process.command(
    "validate", help=N_("Run the deploy-time checks without deploying (every problem, each naming its element).")
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@handle_errors
def process_validate(files: tuple[Path, ...]) -> None:
    from sqlalchemy.orm import Session

    from huiju.errors import DeployError
    from workflows_bpmn.definitions import calls_deployed, check, read_sources
    from workflows_bpmn.expressions import host_functions
    from workflows_bpmn.validation import ParsedBundle, findings_of

    sources = read_sources(files)

    def checked(session: Session | None) -> ParsedBundle:
        try:
            return check(session, sources, host_functions(), collect=True)
        except DeployError as exc:
            found = findings_of(exc)
            if len(found) == 1:  # one problem: its reason is the one line printed
                raise DeployError(found[0].text) from exc
            for finding in found:
                say(finding.text, err=True)
            raise DeployError(_("{count} problem(s) found; nothing was deployed", count=len(found))) from exc

    if calls_deployed(sources):  # what the files call is looked up among the deployed definitions
        with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
            bundle = checked(session)
    else:
        bundle = checked(None)
    say(_("ok: process '{process_id}' ({name}) from {files}", process_id=bundle.process_id, name=bundle.name,
          files=", ".join(sources)))  # fmt: skip


@process.command("deploy", help=N_("Deploy a new version (running cases stay on theirs)."))
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--as", "username", default=None, help=N_("An administrator (default: the only one, or admin)."))
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


@process.command("list", help=N_("Deployed versions and their running cases."))
@handle_errors
def process_list() -> None:
    from workflows_bpmn.definitions import list_definitions

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
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
