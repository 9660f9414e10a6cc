"""``huiju exchange`` (messages, the message log) and ``huiju certs`` (keys and certificates).

The commands use the shared helpers of :mod:`huiju.cli.support`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from huiju.cli.support import handle_errors, runtime_ctx, say
from huiju.i18n import N_, _

if TYPE_CHECKING:
    from certs.store import CertInfo


def register(main: click.Group) -> None:
    main.add_command(exchange)
    main.add_command(certs)


@click.group(help=N_("Messages exchanged with the government systems, and their log."))
def exchange() -> None:
    pass


@exchange.command("retry", help=N_("Send a dead message again (same message id: the receiver acts once)."))
@click.argument("message_id")
@click.option("--as", "username", default="integrator", show_default=True)
@handle_errors
def exchange_retry(message_id: str, username: str) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.messages import retry_message

    with runtime_ctx() as rt, rt.db.transaction() as session:
        retry_message(session, rt.engine, load_actor(session, username), message_id)
    say(_("sent again: {messages}", messages=message_id))


@exchange.command("log", help=N_("The message log, newest first, with filters."))
@click.option("--message", "message_id", default=None, help=N_("A message id (its replies included)."))
@click.option("--case", "case_number", default=None)
@click.option("--system", default=None)
@click.option("--direction", type=click.Choice(["in", "out"]), default=None)
@click.option("--outcome", default=None)
@click.option("--hours", type=float, default=None, help=N_("Only the last N hours."))
@click.option("--limit", type=int, default=50, show_default=True)
@handle_errors
def exchange_log(
    message_id: str | None, case_number: str | None, system: str | None, direction: str | None,
    outcome: str | None, hours: float | None, limit: int,
) -> None:  # fmt: skip
    from exchange.log import query
    from huiju.calendar import CHINA

    since = datetime.now(UTC) - timedelta(hours=hours) if hours else None
    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        entries = query(session, message_id=message_id, case_number=case_number, system=system,
                        direction=direction, outcome=outcome, since=since, limit=limit)  # fmt: skip
        if not entries:
            say(_("no messages"))
        for e in entries:
            click.echo(
                f"{e.id:>6}  {e.at.astimezone(CHINA):%Y-%m-%d %H:%M:%S}  {e.direction.value:<3} {e.kind.value:<8} "
                f"{(e.system or '-'):<14}{(e.operation or '-'):<30}{e.outcome.value:<18}"
                f"{e.signature_status.value:<12}{e.case_number or '-':<18}{e.message_id or '-'}"
            )


@exchange.command("verify-log", help=N_("Prove the message log's hash chain intact, or name the first altered entry."))
@handle_errors
def exchange_verify_log() -> None:
    from exchange.log import verify_chain

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        report = verify_chain(session)
    say(report.summary(), err=not report.ok)
    if not report.ok:
        raise SystemExit(6)


@click.group(help=N_("Keys and certificates: the development CA, signing and TLS certificates, revocation."))
def certs() -> None:
    pass


def _folder_and_passphrase() -> tuple[Path, bytes | None]:
    from certs.store import default_folder, passphrase_of
    from huiju.settings import load_settings

    settings = load_settings()
    return default_folder(settings), passphrase_of(settings)


@certs.command("init", help=N_("Create a development CA and the certificates of Huiju and the sandbox."))
@click.option("--key-type", type=click.Choice(["ec", "rsa"]), default="ec", show_default=True)
@click.option("--days", type=int, default=365, show_default=True)
@click.option("--force", is_flag=True, help=N_("Replace an existing CA (every certificate is issued anew)."))
@handle_errors
def certs_init(key_type: str, days: int, force: bool) -> None:
    from certs.store import init_dev_pki

    folder, passphrase = _folder_and_passphrase()
    issued = init_dev_pki(folder, key_type=key_type, days=days, force=force, passphrase=passphrase)  # type: ignore[arg-type]
    say(_("certificates in {folder}:", folder=str(folder)))
    _print(issued)


@certs.command("list", help=N_("Every certificate: subject, role, expiry, fingerprint; warns of near expiry."))
@click.option("--warn-days", type=int, default=30, show_default=True)
@handle_errors
def certs_list(warn_days: int) -> None:
    from certs.store import list_certificates

    folder, _passphrase = _folder_and_passphrase()
    infos = list_certificates(folder)
    _print(infos)
    for info in infos:
        if info.status == "active" and info.expires_within(warn_days):
            say(_("warning: {member} {role} certificate (serial {serial}) expires on {date}",
                      member=info.member, role=info.role, serial=info.serial_hex,
                      date=f"{info.not_after:%Y-%m-%d}"), err=True)  # fmt: skip


@certs.command("rotate", help=N_("Issue a new signing certificate; older messages still verify."))
@click.option("--member", default="huiju", show_default=True)
@click.option("--days", type=int, default=365, show_default=True)
@handle_errors
def certs_rotate(member: str, days: int) -> None:
    from certs.store import rotate_signing

    folder, passphrase = _folder_and_passphrase()
    info = rotate_signing(folder, member, days=days, passphrase=passphrase)
    _audited("certificate.rotate", info.serial_hex, {"member": member, "role": "signing"})
    say(_("new signing certificate for {member}: serial {serial}", member=member, serial=info.serial_hex))


@certs.command("revoke", help=N_("Revoke a certificate (by serial or fingerprint) and write the revocation list."))
@click.argument("serial_or_fingerprint")
@click.option("--reason", default="unspecified", show_default=True)
@handle_errors
def certs_revoke(serial_or_fingerprint: str, reason: str) -> None:
    from certs.store import revoke

    folder, passphrase = _folder_and_passphrase()
    info = revoke(folder, serial_or_fingerprint, reason, passphrase=passphrase)
    _audited("certificate.revoke", info.serial_hex, {"member": info.member, "role": info.role, "reason": reason})
    say(_("revoked {member} {role} certificate, serial {serial}",
              member=info.member, role=info.role, serial=info.serial_hex))  # fmt: skip


def _audited(action: str, target: str, after: dict[str, object]) -> None:
    """A change of the certificate store, in the audit trail, made by the operator at this terminal."""
    import getpass

    from huiju.models import Role
    from huiju.services import audit
    from huiju.services.actors import Actor

    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "operator"
    from sqlalchemy.exc import DBAPIError

    try:
        with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
            audit.record(session, Actor(f"cli:{login}"[:64], Role.INTEGRATOR), action, target_kind="certificate",
                         target=target, after=after)  # fmt: skip
    except DBAPIError:
        say(_("warning: not recorded in the audit trail: the database is not initialised (huiju init)"), err=True)


def _print(infos: list[CertInfo]) -> None:
    for info in infos:
        click.echo(
            f"{info.member:<9}{info.role:<11}{info.status:<11}{info.serial_hex:<42}"
            f"{info.not_after:%Y-%m-%d}  {info.fingerprint[:23]}  {info.subject}"
        )


@certs.command("crl", help=N_("Sign our CA's revocation list anew (run it daily), or import a partner CA's list."))
@click.option("--days", type=int, default=30, show_default=True, help=N_("Until its next update."))
@click.option(
    "--import",
    "import_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help=N_("A partner CA's revocation list (PEM or DER), signed by a CA we trust."),
)
@handle_errors
def certs_crl(days: int, import_file: Path | None) -> None:
    from certs.partners import import_crl
    from certs.store import crl_status, refresh_crl

    folder, passphrase = _folder_and_passphrase()
    if import_file is not None:
        written = import_crl(folder, import_file.read_bytes())
        _audited("certificate.crl", written, {"partner": True})
        say(_("revocation list imported: {file}", file=written))
    else:
        written = refresh_crl(folder, days=days, passphrase=passphrase).file
        _audited("certificate.crl", written, {"partner": False, "days": days})
    for status in crl_status(folder):
        nxt = f"{status.next_update:%Y-%m-%d %H:%M}" if status.next_update else "-"
        say(_("{file}: {issuer}, {count} revoked, next update {next}{stale}", file=status.file, issuer=status.issuer,
              count=status.revoked, next=nxt, stale=_(" (PAST: refused)") if status.stale() else ""))  # fmt: skip


@certs.command(
    "upload", help=N_("Trust a partner's CA (--ca), or keep a partner's certificate issued by a trusted CA.")
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ca", "is_ca", is_flag=True, help=N_("The file is the partner's CA certificate: trust it."))
@click.option("--member", default=None, help=N_("The partner's member name (lowercase letters, digits, hyphens)."))
@handle_errors
def certs_upload(file: Path, is_ca: bool, member: str | None) -> None:
    from certs.partners import add_partner_ca, add_partner_certificate

    folder, _passphrase = _folder_and_passphrase()
    if is_ca:
        if not member:
            from huiju.errors import InputError

            raise InputError(_("name the partner whose CA this is"))
        entry = add_partner_ca(folder, file.read_bytes(), member=member, added_by="cli")
    else:
        entry = add_partner_certificate(folder, file.read_bytes(), member=member, added_by="cli")
    _audited("certificate.upload", entry.fingerprint[:32], {"kind": entry.kind, "member": entry.member})
    say(_("{kind} of {member} kept: {subject}, valid until {date}", kind=entry.kind, member=entry.member,
          subject=entry.subject, date=f"{entry.not_after:%Y-%m-%d}"))  # fmt: skip
