"""Plain-text rendering of cases for the terminal, in the language of the command line: words,
never codes; Beijing time; the chain of opinions and the written documents."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from huiju.i18n import _
from huiju.labels import label
from huiju.models import Case
from huiju.services import casefile_words as words
from huiju.services.decisions import opinion_chain
from huiju.services.documents import documents_of
from workflows_bpmn.step_names import step_names


def print_case(session: Session, case: Case, locale: str | None = None) -> None:
    def say(text: object) -> None:
        click.echo(text.localize(locale) if hasattr(text, "localize") else str(text))

    status = label("status", case.status.value, locale)
    say(_("case      {number}   {item}", number=case.number, item=case.item.name_in(locale)))
    say(_("applicant {name}  {community}", name=case.applicant.name, community=case.community.name))
    outcome = words.outcome_of(session, case, locale)
    if outcome is not None:
        say(_("status    {status}  outcome: {outcome}", status=status, outcome=outcome.label))
        for detail in outcome.details:
            click.echo(f"          {detail}")
    else:
        say(_("status    {status}", status=status))
    say(_("submitted {at}", at=words.china_time(case.submitted_at)))
    say(_("timeline"))
    for line in words.officer_timeline(session, case, locale):
        system = f" → {line.system}" if line.system else ""
        step = f" [{line.step}]" if line.step else ""
        detail = f": {line.detail}" if line.detail else ""
        click.echo(f"  {line.at}  {line.who}{system}  {line.what}{step}{detail}")
    chain = opinion_chain(session, case, locale=locale)
    steps = step_names(session)
    if chain:
        say(_("opinions"))
        for o in chain:
            decision = label("decision", o.decision, locale)
            who = o.who or label("system", o.role, locale)
            if o.office and o.office not in o.who:
                who = _("{who} ({office})", who=who, office=o.office).localize(locale)
            said = _("{what}: {detail}", what=decision, detail=o.text).localize(locale) if o.text else decision
            click.echo(f"  {words.china_time(o.at)}  {steps.of(o.step_name, locale)}  {who}  {said}")
    found = documents_of(session, case)
    if found:
        say(_("documents"))
        for d in found:
            signed = d.signed_by or _("not signed").localize(locale)
            click.echo(f"  {words.china_time(d.issued_at)}  {label('document', d.kind, locale)}  {d.number}  {signed}")
