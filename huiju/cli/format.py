"""Plain-text rendering of cases for the terminal, in the language of the command line."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from huiju.calendar import CHINA
from huiju.i18n import _
from huiju.labels import label
from huiju.models import Case


def print_case(session: Session, case: Case, locale: str | None = None) -> None:
    status = label("status", case.status.value, locale)
    click.echo(_("case      {number}   {item} ({code})", number=case.number, item=case.item.name,
          code=case.item.code).localize(locale))  # fmt: skip
    click.echo(_("applicant {name}  {id_number}  {community}", name=case.applicant.name,
          id_number=case.applicant.id_number, community=case.community.name).localize(locale))  # fmt: skip
    if case.outcome:
        outcome = label("outcome", case.outcome, locale)
        click.echo(_("status    {status}  outcome: {outcome}", status=status, outcome=outcome).localize(locale))
    else:
        click.echo(_("status    {status}", status=status).localize(locale))
    submitted = f"{case.submitted_at.astimezone(CHINA):%Y-%m-%d %H:%M:%S}"
    click.echo(_("submitted {at} by {user}", at=submitted, user=case.submitted_by).localize(locale))
    click.echo(_("timeline").localize(locale))
    for e in case.events:
        at = e.at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        system = f" [{e.system}]" if e.system else ""
        step = f" {e.step_name or e.step}" if (e.step or e.step_name) else ""
        detail = f": {_detail(e.kind, e.detail, locale)}" if e.detail else ""
        click.echo(f"  {at}  {e.actor:<22}{label('timeline', e.kind, locale)}{step}{system}{detail}")


def _detail(kind: str, detail: str, locale: str | None) -> str:
    """Details that are codes get their label too: a decision, or how the process ended."""
    if kind == "task_completed":
        return label("decision", detail, locale)
    if kind == "process_completed":
        return label("outcome", detail, locale)
    return detail
