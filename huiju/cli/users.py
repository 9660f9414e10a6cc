"""``huiju users``: accounts and roles from a terminal, through :mod:`huiju.services.users`.

Commands act as an administrator (``--as``; by default ``admin`` or the only one). On a fresh
installation with no administrator yet, ``huiju users create NAME --role administrator`` acts as the
operator at the terminal, so that a production start needs no demo data.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from huiju.cli.support import acting_administrator, cli_locale, handle_errors, runtime_ctx, say
from huiju.i18n import N_, _

if TYPE_CHECKING:
    from huiju.models import User

AS_HELP = "The administrator who acts (default: admin, or the only one)."


def register(main: click.Group) -> None:
    main.add_command(users)
    main.add_command(offices)


@click.group(help=N_("Accounts and roles: list, create, change role or office, disable, reset a password."))
def users() -> None:
    pass


def _line(user: User) -> str:
    from huiju.calendar import CHINA
    from huiju.labels import label

    locale = cli_locale()
    office = user.org.name if user.org is not None else "-"
    state = (_("active") if user.active else _("disabled")).localize(locale)
    if user.must_change_password:
        state += _(" (must change password)").localize(locale)
    created = user.created_at.astimezone(CHINA).strftime("%Y-%m-%d")
    role = label("role", user.role.value, locale)
    return f"{user.username:<24}{role:<12}{office:<16}{state}  {created}  {user.display_name}"


@users.command("list", help=N_("Accounts, active first; filter by role or a part of the name."))
@click.option("--role", default=None)
@click.option("--query", default=None, help=N_("A part of the user name or display name."))
@click.option("--as", "username", default=None, help=AS_HELP)
@handle_errors
def users_list(role: str | None, query: str | None, username: str | None) -> None:
    from huiju.services.users import list_users

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        found = list_users(session, acting_administrator(session, username), query=query, role=role)
        if not found:
            say(_("no accounts"))
        for user in found:
            click.echo(_line(user))


@users.command("show", help=N_("One account."))
@click.argument("name")
@click.option("--as", "username", default=None, help=AS_HELP)
@handle_errors
def users_show(name: str, username: str | None) -> None:
    from huiju.services.users import get_user

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        click.echo(_line(get_user(session, acting_administrator(session, username), name)))


@users.command("create", help=N_("Create an account; without --password-stdin a temporary password is printed."))
@click.argument("name")
@click.option(
    "--role", required=True, help=N_("resident, community_officer, street_reviewer, integrator, administrator")
)
@click.option("--display-name", default="", help=N_("The name people see (default: the user name)."))
@click.option("--office", default=None, help=N_("Code or name of the community (officer) or street (reviewer)."))
@click.option("--resident", "resident_id_number", default=None, help=N_("For a resident: their ID number."))
@click.option("--password-stdin", is_flag=True, help=N_("Read the password from standard input (one line)."))
@click.option("--as", "username", default=None, help=AS_HELP)
@handle_errors
def users_create(
    name: str, role: str, display_name: str, office: str | None, resident_id_number: str | None,
    password_stdin: bool, username: str | None,
) -> None:  # fmt: skip
    from huiju.services.users import NewAccount, create_user

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    new = NewAccount(name, role, display_name, office, resident_id_number, password)
    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        created = create_user(session, acting_administrator(session, username, bootstrap=True), new)
        username_created = created.user.username
    say(_("account {username} created", username=username_created))
    if created.temporary_password:
        say(_("temporary password (shown once; to be changed at the first sign-in): {password}",
              password=created.temporary_password))  # fmt: skip


@users.command("set", help=N_("Change an account's role, office or display name."))
@click.argument("name")
@click.option("--role", default=None)
@click.option("--office", default=None)
@click.option("--display-name", default=None)
@click.option("--as", "username", default=None, help=AS_HELP)
@handle_errors
def users_set(name: str, role: str | None, office: str | None, display_name: str | None, username: str | None) -> None:
    from huiju.services.users import update_user

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        actor = acting_administrator(session, username)
        update_user(session, actor, name, role=role, office=office, display_name=display_name)
    say(_("account {username} changed", username=name))


@users.command(
    "disable", help=N_("Disable an account: it is signed out everywhere and its tasks go back to the queue.")
)
@click.argument("name")
@click.option("--reason", default="")
@click.option("--as", "username", default=None, help=AS_HELP)
@handle_errors
def users_disable(name: str, reason: str, username: str | None) -> None:
    from huiju.services.users import disable_user

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        disable_user(session, acting_administrator(session, username), name, reason)
    say(_("account {username} disabled", username=name))


@users.command("enable", help=N_("Enable a disabled account again."))
@click.argument("name")
@click.option("--as", "username", default=None, help=AS_HELP)
@handle_errors
def users_enable(name: str, username: str | None) -> None:
    from huiju.services.users import enable_user

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        enable_user(session, acting_administrator(session, username), name)
    say(_("account {username} enabled", username=name))


@users.command("reset-password", help=N_("A temporary password, printed once; the next sign-in must change it."))
@click.argument("name")
@click.option("--as", "username", default=None, help=AS_HELP)
@handle_errors
def users_reset_password(name: str, username: str | None) -> None:
    from huiju.services.users import reset_password

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        password = reset_password(session, acting_administrator(session, username), name)
    say(_("temporary password for {username} (shown once; to be changed at the next sign-in): {password}",
          username=name, password=password))  # fmt: skip


@click.group(help=N_("The offices: districts, street offices and communities."))
def offices() -> None:
    pass


@offices.command("list", help=N_("Every office, by code."))
@handle_errors
def offices_list() -> None:
    from huiju.services.offices import list_offices

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        found = list_offices(session)
        if not found:
            say(_("no offices"))
        for org in found:
            click.echo(f"{org.code:<14}{org.level.value:<11}{org.name:<16}{org.duty_phone or ''}")


@offices.command("add", help=N_("Add an office: LEVEL is district, street or community."))
@click.argument("code")
@click.argument("name")
@click.option("--level", required=True, type=click.Choice(["district", "street", "community"]))
@click.option("--parent", default=None, help=N_("The code of the office above it."))
@click.option("--duty-phone", default=None, help=N_("The office's duty mobile (值班手机)."))
@click.option("--as", "username", default=None, help=AS_HELP)
@handle_errors
def offices_add(
    code: str, name: str, level: str, parent: str | None, duty_phone: str | None, username: str | None
) -> None:
    from huiju.services.offices import add_office

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        add_office(session, acting_administrator(session, username, bootstrap=True), code, name, level, parent,
                   duty_phone)  # fmt: skip
    say(_("office {code} {name} added", code=code, name=name))
