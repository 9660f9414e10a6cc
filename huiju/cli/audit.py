"""``huiju audit``: read the audit trail (审计日志) and prove its hash chain intact (PIPL art. 51–55).

``verify`` exits with 6 and names the first entry that was altered, removed or reordered.
"""

from __future__ import annotations

import click

from huiju.cli.support import acting_administrator, cli_locale, handle_errors, runtime_ctx, say
from huiju.i18n import N_, _
from huiju.services import audit_words


def register(main: click.Group) -> None:
    main.add_command(audit)


@click.group(help=N_("The audit trail: who did what, and who read whose personal data."))
def audit() -> None:
    pass


@audit.command("log", help=N_("Entries, newest first, with filters."))
@click.option("--actor", default=None, help=N_("Who acted (an account)."))
@click.option("--action", default=None, help=N_("e.g. user.disable, case.read"))
@click.option("--case", "case_number", default=None)
@click.option("--target", default=None, help=N_("The account, case or adapter acted on."))
@click.option("--id-number", default=None, help=N_("Whose personal data: a resident's ID number."))
@click.option("--since", default=None, help=N_("From this day (YYYY-MM-DD, Beijing time)."))
@click.option("--until", default=None, help=N_("To this day, inclusive."))
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help=N_("Every matching entry as CSV (the export is recorded)."))
@click.option(
    "--as", "username", default=None, help=N_("The administrator who reads (default: admin, or the only one).")
)
@handle_errors
def audit_log(
    actor: str | None, action: str | None, case_number: str | None, target: str | None, id_number: str | None,
    since: str | None, until: str | None, limit: int, as_csv: bool, username: str | None,
) -> None:  # fmt: skip
    from huiju.calendar import CHINA
    from huiju.services import audit_trail as service
    from huiju.services.calendar_admin import parse_day

    filters = service.AuditFilter(
        actor=actor, action=action, case_number=case_number, target=target, id_number=id_number,
        since=parse_day(since) if since else None, until=parse_day(until) if until else None,
    )  # fmt: skip
    locale = cli_locale()
    with runtime_ctx(with_celery=False) as rt:
        with rt.db.sessions() as session:
            reader = acting_administrator(session, username)
        if as_csv:
            click.echo(service.export_csv(rt.db, reader, filters, locale).lstrip("\ufeff"), nl=False)
            return
        with rt.db.sessions() as session:
            entries = service.search(session, reader, filters, limit=limit)
            if not entries:
                say(_("no entries"))
            # In words, as the console's page shows them (the record itself is in the CSV export).
            words = audit_words.entry_words(session, entries, locale)
            for e in entries:
                w = words[e.id]
                what = service.action_label(e.action, locale)
                case = "".join(f" {part}" for part in (e.case_number, w.definition) if part)
                change = f"  {_pairs(w.before, locale)} -> {_pairs(w.after, locale)}" if w.before or w.after else ""
                channel = service.channel_label(e.channel, locale)
                click.echo(f"{e.id:>6}  {e.at.astimezone(CHINA):%Y-%m-%d %H:%M:%S}  {e.actor:<22}{channel}  "
                           f"{what}  {w.target.value}{case}{change}")  # fmt: skip


def _pairs(pairs: list[audit_words.Pair], locale: str) -> str:
    """A cell of the page on one line: "field: value; field: value" (with Chinese punctuation in Chinese)."""
    colon, separator = ("：", "；") if locale.startswith("zh") else (": ", "; ")
    return separator.join(f"{p.field}{colon}{p.value}" for p in pairs) or audit_words.DASH


@audit.command("verify", help=N_("Prove the audit trail's hash chain intact, or name the first altered entry."))
@click.option(
    "--as", "username", default=None, help=N_("The administrator who checks (default: admin, or the only one).")
)
@handle_errors
def audit_verify(username: str | None) -> None:
    from huiju.services import audit_trail as service

    with runtime_ctx(with_celery=False) as rt:
        with rt.db.sessions() as session:
            reader = acting_administrator(session, username, bootstrap=True)
        report = service.verify_as(rt.db, reader)
    say(report.summary(), err=not report.ok)
    if not report.ok:
        raise SystemExit(6)
