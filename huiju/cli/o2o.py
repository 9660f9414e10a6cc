"""``huiju o2o``: community services from a terminal — the monthly settlement, credit top-ups and
statements, providers and their standing, orders, the platform's rules, consents recorded at the
service centre."""

from __future__ import annotations

from pathlib import Path

import click

from huiju.cli.support import handle_errors, runtime_ctx, say
from huiju.i18n import N_, _


def register(main: click.Group) -> None:
    main.add_command(o2o)
    main.add_command(open311)


@click.group(help=N_("Community services (社区服务 O2O): settlement, service credit, providers, orders."))
def o2o() -> None:
    pass


@o2o.command("settle", help=N_("Settle a month (e.g. 2026-11) per provider and publish it, once."))
@click.argument("month")
@click.option("--as", "username", default="operator", show_default=True)
@handle_errors
def settle(month: str, username: str) -> None:
    from huiju.labels import label
    from huiju.services.actors import load_actor
    from huiju.services.o2o.money import yuan
    from huiju.services.o2o.settlement import require_settled, settle_month

    with runtime_ctx() as rt:
        security = rt.security
        signer = (lambda: security().signer) if security is not None else None
        with rt.db.transaction() as session:
            report = settle_month(session, rt.engine, load_actor(session, username), month, signer)
            require_settled(report)
            rows = [
                (str(s.record.get("settlement_number")), s.provider.name, s.orders, yuan(s.total_fen),
                 yuan(s.credit_fen), yuan(s.cash_fen), yuan(s.fee_fen), yuan(s.payable_fen),
                 label("settlement_status", s.status.value, rt.settings.lang))
                for s in report.created or report.existing
            ]  # fmt: skip
    if report.already:
        say(_("{month} was settled before: nothing is published again", month=report.month))
    else:
        say(_("{month} settled: {count} provider(s); the records go to the data exchange platform",
              month=report.month, count=len(report.created)))  # fmt: skip
    for row in rows:
        click.echo("  ".join(str(v) for v in row))


@o2o.command("export", help=N_("A month's settlements as CSV or XLSX."))
@click.argument("month")
@click.option("--format", "kind", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True)
@click.option("--as", "username", default="operator", show_default=True)
@handle_errors
def export(month: str, kind: str, out: Path, username: str) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.o2o import exports
    from huiju.services.o2o.settlement import settlements

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        rows = settlements(session, load_actor(session, username), month)
        data = exports.to_csv(session, rows, rt.settings.lang) if kind == "csv" else exports.to_xlsx(
            session, rows, rt.settings.lang)  # fmt: skip
    out.write_bytes(data)
    say(_("{count} settlement(s) written to {file}", count=len(rows), file=str(out)))


@o2o.command("top-up", help=N_("Give every entitlement its credit for a month (default: this month), once."))
@click.argument("month", required=False)
@handle_errors
def top_up(month: str | None) -> None:
    from huiju.services.o2o import credit
    from huiju.services.o2o.money import yuan

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        entries = credit.top_up_month(session, month or credit.current_month(), by="cli")
        total = sum(e.amount_fen for e in entries)
    say(_("{count} top-up(s), {amount} in all", count=len(entries), amount=yuan(total)))


@o2o.command("statement", help=N_("A resident's service credit: balance, entitlements, every entry."))
@click.argument("id_number")
@click.option("--as", "username", default="operator", show_default=True)
@handle_errors
def statement(id_number: str, username: str) -> None:
    from sqlalchemy import select

    from huiju import idnumber
    from huiju.calendar import CHINA
    from huiju.errors import NotFoundError
    from huiju.labels import label
    from huiju.models import Resident
    from huiju.services.actors import load_actor
    from huiju.services.o2o import credit
    from huiju.services.o2o.money import yuan

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        number = idnumber.validate(id_number)
        resident = session.scalars(select(Resident).where(Resident.id_number == number)).one_or_none()
        if resident is None:
            raise NotFoundError(_("no resident registered with ID number {id_number}", id_number=idnumber.mask(number)))
        found = credit.statement(session, load_actor(session, username), resident.id)
        say(_("{name}: balance {amount}", name=resident.name, amount=yuan(found.balance_fen)))
        for e in found.entitlements:
            monthly = _("{amount} a month", amount=yuan(e.monthly_fen)).localize(rt.settings.lang)
            click.echo(f"  {e.tier or '-'}  {monthly}  {e.valid_from} ~ {e.valid_until}")
        for entry in found.entries:
            at = entry.at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
            kind = label("credit", entry.kind.value, rt.settings.lang)
            click.echo(f"  {at}  {kind:<16}{yuan(entry.amount_fen):>12}{yuan(entry.balance_after):>12}")


@o2o.command("providers", help=N_("Providers with their average rating; flagged ones first."))
@handle_errors
def providers() -> None:
    from huiju.labels import label
    from huiju.services.o2o.feedback import standings

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        for s in standings(session):
            average = f"{s.average:.1f}" if s.average is not None else "-"
            flag = "⚑" if s.flagged else " "
            status = label("provider_status", s.provider.status.value, rt.settings.lang)
            click.echo(f"{flag} {s.provider.code:<10}{s.provider.name:<20}{average:>5} ({s.ratings})  {status}")


@o2o.command("orders", help=N_("Orders the account may see, newest first."))
@click.option("--as", "username", default="operator", show_default=True)
@click.option("--status", default=None)
@handle_errors
def list_orders(username: str, status: str | None) -> None:
    from huiju.calendar import CHINA
    from huiju.labels import label
    from huiju.services.actors import load_actor
    from huiju.services.o2o import orders
    from huiju.services.o2o.money import yuan

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        for o in orders.list_orders(session, load_actor(session, username), status=status):
            when = o.starts_at.astimezone(CHINA).strftime("%m-%d %H:%M")
            shown = label("order_status", o.status.value, rt.settings.lang)
            click.echo(
                f"{o.number}  {when}  {o.service.name:<16}{o.beneficiary.name:<6}{yuan(o.total_fen):>10}  {shown}"
            )


@o2o.command(
    "policy",
    help=N_("Show the platform's rules, or change some (time limits such as 15m, 2h or 3d)."),
)
@click.option("--accept-within", default=None, help=N_("A provider's time to accept an offer."))
@click.option("--payment-wait", default=None, help=N_("The payer's time to pay."))
@click.option("--confirm-within", default=None, help=N_("Then an order done is confirmed automatically."))
@click.option("--complaint-days", type=int, default=None, help=N_("Working days to answer a complaint."))
@click.option("--rating-threshold", type=float, default=None, help=N_("Flag providers rated below this (1-5)."))
@click.option("--as", "username", default="operator", show_default=True)
@handle_errors
def policy(
    accept_within: str | None, payment_wait: str | None, confirm_within: str | None, complaint_days: int | None,
    rating_threshold: float | None, username: str,
) -> None:  # fmt: skip
    from huiju.services.actors import load_actor
    from huiju.services.o2o.policy import get_policy, policy_words, update_policy

    changes: dict[str, object] = {
        name: value for name, value in (("accept_within", accept_within), ("payment_wait", payment_wait),
                                        ("confirm_within", confirm_within), ("complaint_days", complaint_days))
        if value is not None
    }  # fmt: skip
    if rating_threshold is not None:
        changes["rating_threshold_tenths"] = round(rating_threshold * 10)
    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        current = update_policy(session, load_actor(session, username), changes) if changes else get_policy(session)
        shown = policy_words(current, rt.settings.lang)
    for setting, value in shown:
        click.echo(_("{setting}: {value}", setting=setting, value=value).localize(rt.settings.lang))


@o2o.command("staff", help=N_("Bind an account of role provider to the provider it works for (one only)."))
@click.argument("provider_code")
@click.argument("username")
@click.option("--as", "operator", default="operator", show_default=True)
@handle_errors
def staff(provider_code: str, username: str, operator: str) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.o2o.providers import bind_staff

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        bind_staff(session, load_actor(session, operator), provider_code, username)
    say(_("{username} works for {provider}", username=username, provider=provider_code))


@o2o.command("link", help=N_("Record, at the service centre, a parent's consent to a relative's account."))
@click.option("--family", "username", required=True, help=N_("The relative's account (user name)."))
@click.option("--parent", "parent_id_number", required=True, help=N_("The parent's ID number."))
@click.option("--name", "parent_name", required=True, help=N_("The parent's name, as on the ID card."))
@click.option("--relation", type=click.Choice(["child", "spouse", "relative"]), default="child", show_default=True)
@click.option("--as", "officer", required=True, help=N_("The community officer recording the consent."))
@handle_errors
def link(username: str, parent_id_number: str, parent_name: str, relation: str, officer: str) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.o2o.family import record_at_centre

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        record_at_centre(session, load_actor(session, officer), username=username, parent_id_number=parent_id_number,
                         parent_name=parent_name, relation=relation)  # fmt: skip
    say(_("{username} may now order for {name}", username=username, name=parent_name))


@click.group(help=N_("Open311 GeoReport v2: the channels (hotline, kiosk, city app) allowed to file requests."))
def open311() -> None:
    pass


@open311.command("key", help=N_("Register a channel and print its API key (shown this once)."))
@click.argument("name")
@click.option("--as", "username", default="integrator", show_default=True)
@handle_errors
def open311_key(name: str, username: str) -> None:
    from huiju.services import open311 as service
    from huiju.services.actors import load_actor

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        _client, key = service.add_client(session, load_actor(session, username), name)
    say(_("API key of {name} (keep it; it is not shown again):", name=name))
    click.echo(key)


@open311.command("list", help=N_("The registered channels."))
@handle_errors
def open311_list() -> None:
    from huiju.services import open311 as service

    with runtime_ctx(with_celery=False) as rt, rt.db.sessions() as session:
        for client in service.clients(session):
            state = (_("active") if client.active else _("revoked")).localize(rt.settings.lang)
            click.echo(f"{client.name:<24}{client.key_hint}…  {state}")


@open311.command("revoke", help=N_("Revoke a channel's API key."))
@click.argument("name")
@click.option("--as", "username", default="integrator", show_default=True)
@handle_errors
def open311_revoke(name: str, username: str) -> None:
    from huiju.services import open311 as service
    from huiju.services.actors import load_actor

    with runtime_ctx(with_celery=False) as rt, rt.db.transaction() as session:
        service.revoke_client(session, load_actor(session, username), name)
    say(_("channel {name} revoked", name=name))
