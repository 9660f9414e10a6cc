"""``huiju exchange callbacks``: decisions and delivery reports, held, applied, or learnt by asking.

What an integrator looks at when a case waits for a government system: whether its callback came,
whether it is held until the reply it overtook lands, and what reconciliation asked.
"""

from __future__ import annotations

import click

from huiju.cli.support import handle_errors, runtime_ctx, say
from huiju.i18n import N_, Message, _

KINDS: dict[str, Message] = {
    "decision": _("the extranet's decision"),
    "delivery": _("SMS delivery report"),
}
SOURCES: dict[str, Message] = {
    "callback": _("called back"),
    "query": _("asked for (reconciliation)"),
}
STATES: dict[str, Message] = {
    "held": _("held until its reply lands"),
    "applied": _("applied"),
    "duplicate": _("a duplicate, recorded once"),
    "superseded": _("superseded: the case went on without it"),
    "mismatched": _("mismatched: kept as evidence only"),
}


def register(main: click.Group) -> None:
    group = main.commands["exchange"]
    assert isinstance(group, click.Group)  # noqa: S101 - registered by huiju.cli.exchange first
    group.add_command(exchange_callbacks)


@click.command("callbacks", help=N_("Decisions and delivery reports received or asked for, and what became of each."))
@click.option("--held", is_flag=True, help=N_("Only those still held."))
@click.option("--case", "case_number", default=None)
@click.option("--limit", type=int, default=50, show_default=True)
@handle_errors
def exchange_callbacks(held: bool, case_number: str | None, limit: int) -> None:
    from sqlalchemy import select

    from exchange.correlation import CallbackRecord, CallbackState
    from huiju.app.reconcile import figures
    from huiju.calendar import CHINA
    from huiju.cli.support import cli_locale

    locale = cli_locale()
    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        stmt = select(CallbackRecord).order_by(CallbackRecord.id.desc()).limit(max(1, min(limit, 1000)))
        if held:
            stmt = stmt.where(CallbackRecord.state == CallbackState.HELD)
        if case_number:
            stmt = stmt.where(CallbackRecord.case_number == case_number)
        rows = session.scalars(stmt).all()
        seen = figures(session)
    if not rows:
        say(_("no callbacks"))
    for r in rows:
        words = [KINDS[r.kind.value].localize(locale), SOURCES[r.source.value].localize(locale),
                 STATES[r.state.value].localize(locale)]  # fmt: skip
        click.echo(
            f"{r.received_at.astimezone(CHINA):%Y-%m-%d %H:%M:%S}  {words[0]}  {words[1]}  {words[2]}  "
            f"{r.case_number or '-'}  {r.subject}  {r.reference or '-'}  {r.message_id}"
            + (f"  {why.localize(locale)}" if (why := r.why()) is not None else "")
        )
    say(
        _(
            "held now {held}; held, then applied {correlated}; duplicates {duplicates}; "
            "QueryCase asked {query_case}; QueryDelivery asked {query_delivery}",
            held=seen.get("callback.held", 0),
            correlated=seen.get("held.applied", 0),
            duplicates=seen.get("callback.duplicate", 0) + seen.get("query.duplicate", 0),
            query_case=seen.get("query_case", 0),
            query_delivery=seen.get("query_delivery", 0),
        )
    )
