"""The payment platform's checkout page (收银台): where a person pays a payment of an order.

::

    GET  /checkout/{payment_id}   the order number, the description, the amount; pay or refuse
    POST /checkout/{payment_id}   action=pay | refuse: the payment paid (or failed) now, then back to the page

A real payment platform serves its cashier to anyone's browser over HTTPS with a public
certificate, and only its API behind client certificates. The sandbox's SOAP endpoints and control
API require mutual TLS in secure mode, which a resident's browser does not have, so the checkout
pages are a WSGI app of their own on a listener of their own: plain HTTP on the sandbox's loopback
address (``HUIJU_SANDBOX_CHECKOUT_PORT``), since the sandbox only ever runs in development and
tests. Paying here moves the payment exactly as ``/_sandbox/payments/pay`` does: the signed
NotifyPayment callback reports ``paid`` (refusing reports ``failed``).

The page is worded in the browser's language (Accept-Language: Chinese first, English second).
A payment that is unknown, or no longer waits for its payer, gets a page saying so, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape
from werkzeug.wrappers import Request, Response

from huiju.i18n import Message, _, negotiate
from huiju.labels import label

if TYPE_CHECKING:
    from adapters.sandbox.app import SandboxApp

_PATH = re.compile(r"/checkout/([A-Za-z0-9-]{1,64})")
_HTML = "text/html; charset=utf-8"

_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 18px/1.5 system-ui, sans-serif; margin: 0; background: #f4f6f8; color: #1a1a1a; }}
main {{ max-width: 30rem; margin: 0 auto; padding: 1rem; }}
.card {{ background: #fff; border: 1px solid #ccd3da; border-radius: 8px; padding: 1rem; margin: 1rem 0; }}
dt {{ color: #555; font-size: 0.9em; }} dd {{ margin: 0 0 0.6rem; }}
.amount {{ font-size: 1.6em; font-weight: 700; }}
button {{ font: inherit; min-height: 48px; padding: 0.6rem 1rem; border-radius: 8px; margin: 0.3rem 0;
         width: 100%; border: 2px solid #0b5cad; background: #fff; color: #0b5cad; cursor: pointer; }}
button.primary {{ background: #0b5cad; color: #fff; }}
.note {{ color: #555; font-size: 0.9em; }}
</style></head>
<body><main>
<h1>{heading}</h1>
{body}
<p class="note">{sandbox}</p>
</main></body></html>
"""


def _yuan(fen: int) -> str:
    """Fen as the platform shows yuan (¥12.50), in integers."""
    return f"¥{fen // 100}.{fen % 100:02d}"


class CheckoutApp:
    """The checkout pages of the sandbox's payment platform, over the payments of ``sandbox``."""

    def __init__(self, sandbox: SandboxApp) -> None:
        self.sandbox = sandbox

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        locale = negotiate(request.headers.get("Accept-Language"))
        found = _PATH.fullmatch(request.path.rstrip("/"))
        if found is None:
            return self._page(locale, _("No such page"), _("This is the payment platform's checkout: "
                              "open the link to pay that the merchant gave you."), status=404)  # fmt: skip
        payment_id = found.group(1)
        if request.method == "POST":
            return self._act(request, locale, payment_id)
        if request.method != "GET":
            return self._page(locale, _("No such page"), _("Pay or refuse with the buttons of the page."), status=405)
        return self._show(locale, payment_id, request.args.get("done"))

    def _payment(self, payment_id: str) -> dict[str, Any] | None:
        state = self.sandbox.state
        with state.lock:
            found = state.stores.payments.get(payment_id)
            return dict(found) if found is not None else None

    def _unknown(self, locale: str, payment_id: str) -> Response:
        return self._page(locale, _("No such payment"), _("The payment platform has no payment {payment}: the link may "
                          "be wrong or the payment was never made.", payment=payment_id), status=404)  # fmt: skip

    def _show(self, locale: str, payment_id: str, done: str | None) -> Response:
        payment = self._payment(payment_id)
        if payment is None:
            return self._unknown(locale, payment_id)
        facts = self._facts(locale, payment)
        status = str(payment["status"])
        if status != "pending":
            said = {
                "paid": _("Paid. The merchant has been told: you may go back to your order."),
                "failed": _("You refused this payment. The merchant has been told: nothing was charged."),
            }
            text = said[status] if status == done and status in said else self._no_longer(payment)
            return self._page(locale, _("Checkout"), text, facts)
        t = _tr(locale)
        action = escape(f"/checkout/{payment_id}")
        forms = Markup(
            '<form method="post" action="{action}"><input type="hidden" name="action" value="pay">'
            '<button type="submit" class="primary" id="pay">{pay}</button></form>'
            '<form method="post" action="{action}"><input type="hidden" name="action" value="refuse">'
            '<button type="submit" id="refuse">{refuse}</button></form>'
        ).format(action=action, pay=t(_("Pay {amount} now", amount=_yuan(int(payment["amount_fen"])))),
                 refuse=t(_("Refuse the payment")))  # fmt: skip
        return self._page(locale, _("Checkout"), _("Check the order and the amount, then pay."), facts + forms)

    def _act(self, request: Request, locale: str, payment_id: str) -> Response:
        action = request.form.get("action")
        if action not in ("pay", "refuse"):
            return self._page(locale, _("Checkout"), _("Pay or refuse with the buttons of the page."), status=400)
        payment = self._payment(payment_id)
        if payment is None:
            return self._unknown(locale, payment_id)
        if self.sandbox.callbacks is None:
            text = _("This sandbox tells no merchant of a payment (it runs in plain mode, without callbacks): "
                     "nothing can be paid here.")  # fmt: skip
            return self._page(locale, _("Checkout"), text, self._facts(locale, payment), status=409)
        outcome = "paid" if action == "pay" else "failed"
        if not self.sandbox.move_payment(payment_id, outcome):
            now = self._payment(payment_id) or payment
            return self._page(locale, _("Checkout"), self._no_longer(now), self._facts(locale, now), status=409)
        return Response(status=303, headers={"Location": f"/checkout/{payment_id}?done={outcome}"})

    @staticmethod
    def _no_longer(payment: dict[str, Any]) -> Message:
        return _("This payment no longer waits for its payer: {status}.", status=_Status(str(payment["status"])))

    @staticmethod
    def _facts(locale: str, payment: dict[str, Any]) -> Markup:
        t = _tr(locale)
        return Markup(
            '<dl class="card"><dt>{order}</dt><dd id="order-number">{number}</dd>'
            '<dt>{what}</dt><dd id="description">{description}</dd>'
            '<dt>{amount}</dt><dd class="amount" id="amount">{yuan}</dd>'
            '<dt>{status}</dt><dd id="status">{state}</dd></dl>'
        ).format(order=t(_("Order number")), number=payment["order_number"], what=t(_("Description")),
                 description=payment.get("description") or "", amount=t(_("Amount")),
                 yuan=_yuan(int(payment["amount_fen"])), status=t(_("Status")),
                 state=_Status(str(payment["status"])).localize(locale))  # fmt: skip

    @staticmethod
    def _page(locale: str, heading: Message, text: Message, body: Markup | None = None, status: int = 200) -> Response:
        t = _tr(locale)
        html = _PAGE.format(
            lang="zh-CN" if locale == "zh_CN" else "en", title=escape(t(heading)), heading=escape(t(heading)),
            body=Markup('<p class="card" id="message" role="status">{}</p>').format(t(text)) + (body or ""),
            sandbox=escape(t(_("Huiju sandbox: a simulated payment platform. No money moves."))),
        )  # fmt: skip
        return Response(html, status=status, content_type=_HTML)


class _Status:
    """A payment's status in words (the payment statuses Huiju shows, which are the platform's)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def localize(self, locale: str | None = None) -> str:
        return label("payment_status", self.code, locale)


def _tr(locale: str) -> Callable[[Message], str]:
    return lambda message: message.localize(locale)
