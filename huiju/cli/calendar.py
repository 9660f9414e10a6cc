"""``huiju calendar``: the working-day calendar's official schedule, year by year.

Changes are made as an administrator account (``--as``, default ``admin`` or the only one) through
:mod:`huiju.services.calendar_admin`, which recomputes the deadlines a change moves.
"""

from __future__ import annotations

from pathlib import Path

import click

from huiju.cli.support import acting_administrator, handle_errors, runtime_ctx, say
from huiju.i18n import _


def register(main: click.Group) -> None:
    main.add_command(calendar)


@click.group(help="Working-day calendar: list a year, add or remove days, import a year's schedule.")
def calendar() -> None:
    pass


@calendar.command("list", help="The days entered for a year, and whether its schedule is known.")
@click.argument("year", type=int)
@handle_errors
def calendar_list(year: int) -> None:
    from huiju.services.calendar_admin import year_schedule

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        state = year_schedule(session, year)
        _say_known(year, state.known, state.in_library)
        for row in state.overrides:
            click.echo(f"{row.day.isoformat()}  {row.kind:<8} {row.name}")


def _say_known(year: int, known: bool, in_library: bool) -> None:
    if in_library:
        say(_("{year}: official schedule known (calendar library)", year=year))
    elif known:
        say(_("{year}: official schedule entered by an administrator", year=year))
    else:
        say(_("{year}: no official schedule; deadlines in it are provisional (weekends only)", year=year))


@calendar.command("known", help="Whether a year's official schedule is known (exit code 1 if not).")
@click.argument("year", type=int)
@handle_errors
def calendar_known(year: int) -> None:
    from huiju.services.calendar_admin import year_schedule

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        state = year_schedule(session, year)
    _say_known(year, state.known, state.in_library)
    if not state.known:
        raise SystemExit(1)


@calendar.command("add", help="Enter one day: KIND is 'holiday' or 'workday' (an adjusted working day).")
@click.argument("day")
@click.argument("kind", type=click.Choice(["holiday", "workday"]))
@click.option("--name", default="", help="e.g. 春节")
@click.option("--as", "username", default=None, help="An administrator (default: the only one, or admin).")
@handle_errors
def calendar_add(day: str, kind: str, name: str, username: str | None) -> None:
    from huiju.services.calendar_admin import parse_day, set_day

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        report = set_day(session, rt.engine, acting_administrator(session, username), parse_day(day), kind, name)
    say(_("saved; deadlines recomputed: {count}", count=report.recomputed))


@calendar.command("remove", help="Remove the entry of one day.")
@click.argument("day")
@click.option("--as", "username", default=None, help="An administrator (default: the only one, or admin).")
@handle_errors
def calendar_remove(day: str, username: str | None) -> None:
    from huiju.services.calendar_admin import parse_day, remove_day

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        report = remove_day(session, rt.engine, acting_administrator(session, username), parse_day(day))
    say(_("removed; deadlines recomputed: {count}", count=report.recomputed))


@calendar.command("import", help="Replace a year's entries by a schedule file (text or JSON).")
@click.argument("year", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "username", default=None, help="An administrator (default: the only one, or admin).")
@handle_errors
def calendar_import(year: int, file: Path, username: str | None) -> None:
    from huiju.services.calendar_admin import import_schedule

    text = file.read_text(encoding="utf-8")
    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        report = import_schedule(session, rt.engine, acting_administrator(session, username), year, text)
    say(_("{year}: {days} days entered; deadlines recomputed: {count}", year=year, days=report.days,
          count=report.recomputed))  # fmt: skip


@calendar.command("publish", help="Declare a year's schedule entered in full: its deadlines stop being provisional.")
@click.argument("year", type=int)
@click.option("--as", "username", default=None, help="An administrator (default: the only one, or admin).")
@handle_errors
def calendar_publish(year: int, username: str | None) -> None:
    from huiju.services.calendar_admin import publish_year

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        report = publish_year(session, rt.engine, acting_administrator(session, username), year)
    say(_("{year} published; deadlines recomputed: {count}", year=year, count=report.recomputed))
