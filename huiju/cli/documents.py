"""``huiju documents``: check a written document (文书) someone holds."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from huiju.cli.support import handle_errors, runtime_ctx, say
from huiju.i18n import N_, _


def register(main: click.Group) -> None:
    main.add_command(documents)


@click.group(help=N_("Written documents (文书) of cases: notices and decisions, signed PDF."))
def documents() -> None:
    pass


@documents.command("verify", help=N_("Whether a document is genuine and unaltered (exit 0), or not (exit 1)."))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@handle_errors
def documents_verify(file: Path) -> None:
    from huiju.services.document_check import verify

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        result = verify(file.read_bytes(), rt.settings.resolved_certs_folder, session)
    if result.genuine:
        say(_("genuine: signed by {signer} on {at}, unaltered", signer=result.signer, at=result.signed_at))
        if result.number:
            say(_("on record here as document {number}", number=result.number))
        return
    say(_("NOT genuine: {problem}", problem=result.problem or "-"), err=True)
    if result.signer:
        say(_("it claims to be signed by {signer} on {at}", signer=result.signer, at=result.signed_at), err=True)
    sys.exit(1)
