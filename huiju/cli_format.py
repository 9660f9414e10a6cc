"""Plain-text rendering of cases for the terminal."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from huiju.models import Case
from workflows_bpmn.expressions import CHINA


def print_case(session: Session, case: Case) -> None:
    click.echo(f"case      {case.number}   {case.item.name} ({case.item.code})")
    click.echo(f"applicant {case.applicant.name}  {case.applicant.id_number}  {case.community.name}")
    click.echo(f"status    {case.status.value}{'  outcome: ' + case.outcome if case.outcome else ''}")
    click.echo(f"submitted {case.submitted_at.astimezone(CHINA):%Y-%m-%d %H:%M:%S} by {case.submitted_by}")
    click.echo("timeline")
    for e in case.events:
        at = e.at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        system = f" [{e.system}]" if e.system else ""
        step = f" {e.step_name or e.step}" if (e.step or e.step_name) else ""
        detail = f": {e.detail}" if e.detail else ""
        click.echo(f"  {at}  {e.actor:<22}{e.kind}{step}{system}{detail}")
