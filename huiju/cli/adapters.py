"""``huiju adapters``: each government system's adapter settings, a connection test, and systems added
by uploading their WSDL (through :mod:`huiju.services.integration` and :mod:`huiju.services.systems`).

Changes act as an integrator (``--as``; by default ``integrator`` or the only one); listing and
showing need no account. ``test`` exits with 1 when the connection failed.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from huiju.cli.support import acting_integrator, cli_locale, handle_errors, runtime_ctx, say
from huiju.i18n import N_, _

AS_HELP = N_("The integrator who acts (default: integrator, or the only one).")


def register(main: click.Group) -> None:
    main.add_command(adapters)


@click.group(help=N_("Adapters to the government systems: list, show, set, test; add a system from its WSDL."))
def adapters() -> None:
    pass


def _operator() -> object:
    from huiju.models import Role
    from huiju.services.actors import Actor

    return Actor("cli", Role.INTEGRATOR)


@adapters.command("list", help=N_("Every system: enabled or not, endpoint, timeouts, attempts, client certificate."))
@handle_errors
def adapters_list() -> None:
    from huiju.services.integration import adapters as all_adapters

    locale = cli_locale()
    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        for a in all_adapters(session, _operator()):  # type: ignore[arg-type]
            c = a.config
            state = (_("enabled") if c.enabled else _("disabled")).localize(locale)
            endpoint = c.endpoint or _("(no endpoint)").localize(locale)
            timeouts = f"{c.connect_timeout:>5.1f}/{c.operation_timeout:<6.1f}"
            click.echo(f"{a.system.name:<16}{state:<10}{endpoint:<48}{timeouts}{c.max_attempts:>3}×  "
                       f"{c.client_certificate:<10}{a.system.title.localize(locale)}")  # fmt: skip


@adapters.command("show", help=N_("One system's settings and operations."))
@click.argument("name")
@handle_errors
def adapters_show(name: str) -> None:
    from huiju.calendar import CHINA
    from huiju.services.integration import adapter, settings_of

    locale = cli_locale()
    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        a = adapter(session, _operator(), name)  # type: ignore[arg-type]
        click.echo(f"{a.system.name}  {a.system.title.localize(locale)}")
        for key, value in settings_of(a.config).items():
            click.echo(f"  {key:<20}{value}")
        click.echo(f"  {'wsdl':<20}{a.config.wsdl_file}")
        click.echo(f"  {'partner':<20}{a.config.partner}")
        when = a.config.updated_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"  {'updated':<20}{when} {a.config.updated_by or ''}")
        for op in a.system.operations:
            params = ", ".join(f"{p.name}{'' if p.required else '?'}" for p in op.params)
            probe = "  (test connection)" if a.system.probe and a.system.probe.operation == op.name else ""
            click.echo(f"  {op.name}({params}) -> {op.soap_operation}{probe}")


@adapters.command(
    "set",
    help=N_(
        "Change settings: endpoint=URL connect_timeout=S operation_timeout=S "
        "max_attempts=N backoff_seconds=S enabled=true|false client_certificate=MEMBER partner=MEMBER."
    ),
)
@click.argument("name")
@click.argument("assignments", nargs=-1, required=True)
@click.option("--as", "username", default=None, help=AS_HELP)
@handle_errors
def adapters_set(name: str, assignments: tuple[str, ...], username: str | None) -> None:
    from huiju.errors import InputError
    from huiju.services.integration import configure

    changes: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(_("write each change as name=value, not {item}", item=repr(item)))
        changes[key.strip()] = value.strip()
    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        configure(session, acting_integrator(session, username), name, changes, secure=rt.settings.exchange_signing)
    say(_("{system}: settings saved", system=name))


@adapters.command("test", help=N_("Call the system's cheapest operation with its settings and say what happened."))
@click.argument("name")
@click.option("--show-xml", is_flag=True, help=N_("Print the signed request and the reply."))
@click.option("--as", "username", default=None, help=AS_HELP)
@handle_errors
def adapters_test(name: str, show_xml: bool, username: str | None) -> None:
    from huiju.services.integration import test_connection

    with runtime_ctx(with_celery=False) as rt:
        with rt.db.sessions() as session:
            actor = acting_integrator(session, username)
        result = test_connection(rt.db, actor, name, rt.security)
    say(_("{system} {operation} at {endpoint}", system=name, operation=result.operation, endpoint=result.endpoint))
    say(result.explanation, err=not result.ok)
    if result.detail:
        click.echo(f"  {result.detail}", err=not result.ok)
    if show_xml:
        click.echo(result.request_xml)
        click.echo(result.reply_xml)
    if not result.ok:
        raise SystemExit(1)


@adapters.command("upload", help=N_("Add a system (or give an added one a new WSDL) from its WSDL file."))
@click.argument("name")
@click.argument("wsdl", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", required=True, help=N_("The system's name in Chinese, e.g. 住房保障系统."))
@click.option("--title-en", default="", help=N_("Its name in English."))
@click.option("--as", "username", default=None, help=AS_HELP)
@handle_errors
def adapters_upload(name: str, wsdl: Path, title: str, title_en: str, username: str | None) -> None:
    from huiju.services.systems import refresh_registry, upload_system

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        row = upload_system(session, acting_integrator(session, username), name, title, title_en, wsdl.read_bytes())
        binding = row.binding
    refresh_registry()
    say(_("{system} added from its WSDL (binding {binding}); map its operations with huiju adapters map",
          system=name, binding=binding))  # fmt: skip


@adapters.command("map", help=N_("Name a SOAP operation of an added system as a service operation (SYSTEM.NAME)."))
@click.argument("system")
@click.argument("operation")
@click.argument("soap_operation")
@click.option(
    "--parameters",
    default=None,
    help=N_('JSON list: [{"name", "element", "type", "required"}] (default: every request element, in snake_case).'),
)
@click.option("--probe", default=None, help=N_("JSON object: the parameters of a harmless call for test connection."))
@click.option("--as", "username", default=None, help=AS_HELP)
@handle_errors
def adapters_map(
    system: str, operation: str, soap_operation: str, parameters: str | None, probe: str | None, username: str | None
) -> None:
    from adapters.custom import parameters_of
    from huiju.cli.support import json_arg
    from huiju.errors import InputError
    from huiju.services.systems import map_operation, refresh_registry

    params = None
    if parameters is not None:
        try:
            loaded = json.loads(parameters)
            params = parameters_of(loaded)
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(_("--parameters must be a JSON list of name, element, type, required")) from exc
    probe_params = json_arg(probe, "--probe") if probe is not None else None
    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        op = map_operation(session, acting_integrator(session, username), system, operation, soap_operation, params,
                           probe=probe_params)  # fmt: skip
        shown = ", ".join(f"{p['name']} → {p['element']} ({p['type']})" for p in op.parameters)
    refresh_registry()
    say(_("{operation} → {soap}: {parameters}", operation=operation, soap=soap_operation, parameters=shown))
