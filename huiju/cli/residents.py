"""``huiju residents import``: the resident roster (居民信息) a community office keeps, from CSV or XLSX.

The file is checked whole first; the accepted rows are then applied in chunks behind a progress bar,
and every refused row is printed with why. ``--dry-run`` counts what would change and writes nothing.
Exit code 0 when every row was accepted, 2 when some were refused.
"""

from __future__ import annotations

from pathlib import Path

import click

from huiju.cli.support import acting_administrator, cli_locale, handle_errors, runtime_ctx, say
from huiju.i18n import N_, _


def register(main: click.Group) -> None:
    main.add_command(residents)


@click.group(help=N_("Residents: import the roster a community office keeps."))
def residents() -> None:
    pass


@residents.command(
    "import", help=N_("Import a roster (CSV or XLSX): ID number, name, phone, address, household, community.")
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help=N_("Check and count what would change; write nothing."))
@click.option(
    "--as", "username", default=None, help=N_("The administrator who acts (default: admin, or the only one).")
)
@handle_errors
def residents_import(file: Path, dry_run: bool, username: str | None) -> None:
    from huiju.services.roster import reason_text, run_import, start_import

    locale = cli_locale()
    with runtime_ctx(with_celery=False) as rt:
        with rt.db.transaction() as session:
            actor = acting_administrator(session, username)
            job = start_import(session, actor, file.name, file.read_bytes(), dry_run=dry_run)
            job_id, accepted, total = job.id, len(job.rows), job.total
        say(_("{file}: {total} rows, {accepted} accepted after checking", file=file.name, total=total,
              accepted=accepted))  # fmt: skip
        label = (_("dry run") if dry_run else _("importing")).localize(locale)
        with click.progressbar(length=max(accepted, 1), label=label, show_pos=True) as bar:
            done = [0]

            def advance(processed: int, _total: int) -> None:
                bar.update(processed - done[0])
                done[0] = processed

            job = run_import(rt.db, actor, job_id, progress=advance)
        counts = {"added": job.added, "updated": job.updated, "unchanged": job.unchanged,
                  "refused": len(job.refusals)}  # fmt: skip
        if dry_run:
            say(_("would add {added}, update {updated}; unchanged {unchanged}; refused {refused}", **counts))
        else:
            say(_("added {added}, updated {updated}; unchanged {unchanged}; refused {refused}", **counts))
        for refusal in job.refusals:
            reasons = "; ".join(reason_text(r, locale) for r in refusal["reasons"])
            say(_("row {row} ({name} {id_number}): {reasons}", row=refusal["row"], name=refusal["name"],
                  id_number=refusal["id_number"], reasons=reasons), err=True)  # fmt: skip
    if job.refusals:
        raise SystemExit(2)
