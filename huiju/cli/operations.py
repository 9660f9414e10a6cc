"""``huiju case suspend|resume|move`` and ``huiju process diff|migrate``: what an administrator does
to running cases and process versions, from a terminal (the console's pages do the same)."""

from __future__ import annotations

import click

from huiju.cli.support import acting_administrator, handle_errors, runtime_ctx, say
from huiju.i18n import N_, _


def register(case: click.Group, process: click.Group) -> None:
    for command in (case_suspend, case_resume, case_move):
        case.add_command(command)
    for command in (process_diff, process_migrate):
        process.add_command(command)


@click.command("suspend", help=N_("Suspend a case (中止): no timer fires and no call is sent until it is resumed."))
@click.argument("number")
@click.option("--reason", required=True)
@click.option("--as", "username", default=None, help=N_("An administrator (default: admin, or the only one)."))
@handle_errors
def case_suspend(number: str, reason: str, username: str | None) -> None:
    from huiju.services import running

    with runtime_ctx() as rt, rt.db.transaction() as session:
        running.suspend_case(session, rt.engine, acting_administrator(session, username), number, reason)
    say(_("case {number} suspended", number=number))


@click.command("resume", help=N_("Resume a suspended case where it stood."))
@click.argument("number")
@click.option("--reason", required=True)
@click.option("--as", "username", default=None, help=N_("An administrator (default: admin, or the only one)."))
@handle_errors
def case_resume(number: str, reason: str, username: str | None) -> None:
    from huiju.services import running

    with runtime_ctx() as rt, rt.db.transaction() as session:
        running.resume_case(session, rt.engine, acting_administrator(session, username), number, reason)
    say(_("case {number} resumed", number=number))


@click.command("move", help=N_("Move a stuck case to another step (the step's BPMN id), with a reason."))
@click.argument("number")
@click.option("--to", "to_step", required=True)
@click.option("--from", "from_step", default=None, help=N_("The step it stands on, when it stands on several."))
@click.option("--reason", required=True)
@click.option("--as", "username", default=None, help=N_("An administrator (default: admin, or the only one)."))
@handle_errors
def case_move(number: str, to_step: str, from_step: str | None, reason: str, username: str | None) -> None:
    from huiju.services import running

    with runtime_ctx() as rt, rt.db.transaction() as session:
        actor = acting_administrator(session, username)
        running.move_case(session, rt.engine, actor, number, to_step, reason, from_step)
    say(_("case {number} moved to {step}", number=number, step=to_step))


@click.command("diff", help=N_("Compare two versions of a process: elements added, removed, changed."))
@click.argument("process_id")
@click.argument("old", type=int)
@click.argument("new", type=int)
@click.option("--as", "username", default=None, help=N_("An administrator (default: admin, or the only one)."))
@handle_errors
def process_diff(process_id: str, old: int, new: int, username: str | None) -> None:
    from huiju.services import processes

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        comparison = processes.compare_versions(session, acting_administrator(session, username), process_id, old, new)
        locale = rt.settings.lang
    marks = {"added": "+", "removed": "-", "changed": "~"}
    for change in comparison.changes:
        kind = processes.kind_words(change.kind).localize(locale)
        click.echo(f"{marks[change.change]} {change.element}  {kind}  {change.name}")
        for fact in change.facts:
            words = processes.fact_words(fact.path).localize(locale)
            if fact.before is None:
                click.echo(f"    + {words}" + (f": {fact.after}" if fact.after else ""))
            elif fact.after is None:
                click.echo(f"    - {words}" + (f": {fact.before}" if fact.before else ""))
            else:
                click.echo(f"    ~ {words}: {fact.before} → {fact.after}")
    for name in comparison.files_added:
        click.echo(f"+ {name}")
    for name in comparison.files_removed:
        click.echo(f"- {name}")
    for name in comparison.files_changed:
        click.echo(f"~ {name}")
    say(_("{added} added, {changed} changed, {removed} removed", added=len(comparison.of("added")),
          changed=len(comparison.of("changed")), removed=len(comparison.of("removed"))))  # fmt: skip


@click.command("migrate", help=N_("Migrate the running cases of one version to another (a dry run with --dry-run)."))
@click.argument("process_id")
@click.option("--from", "old", type=int, required=True, help=N_("The version the cases run on."))
@click.option("--to", "new", type=int, required=True, help=N_("The version to move them to."))
@click.option("--case", "number", default=None, help=N_("Only this case."))
@click.option("--dry-run", is_flag=True, help=N_("Say what would move and what cannot, and why; change nothing."))
@click.option("--as", "username", default=None, help=N_("An administrator (default: admin, or the only one)."))
@handle_errors
def process_migrate(
    process_id: str, old: int, new: int, number: str | None, dry_run: bool, username: str | None
) -> None:
    from huiju.services import processes, running

    with runtime_ctx() as rt:
        with rt.db.sessions() as session:
            actor = acting_administrator(session, username)
            source = processes.get_version(session, actor, process_id, old).id
            target = processes.get_version(session, actor, process_id, new).id
            plan = running.migration_plan(session, rt.engine, actor, source, target)
        rows = [row for row in plan if number is None or row.case_number == number]
        for row in rows:
            where = ", ".join(p.step for p in row.check.positions) or "-"
            verdict = _("can move") if row.check.movable else _("cannot move")
            say(_("{case}  at {steps}: {verdict}", case=row.case_number or f"#{row.instance_id}", steps=where,
                  verdict=verdict))  # fmt: skip
            for reason in [*row.check.refusals, *row.check.changes]:
                say(_("    {reason}", reason=reason))
        if dry_run:
            say(_("dry run: {movable} of {total} would move; nothing was changed",
                  movable=sum(r.check.movable for r in rows), total=len(rows)))  # fmt: skip
            return
        if number is not None:
            with rt.db.transaction() as session:
                running.migrate_case(session, rt.engine, actor, number, target)
            say(_("case {number} migrated to version {version}", number=number, version=new))
            return
        report = running.migrate_version(rt.db, rt.engine, actor, source, target)
        say(_("{moved} migrated, {refused} left on version {version}", moved=len(report.moved),
              refused=len(report.refused), version=old))  # fmt: skip
