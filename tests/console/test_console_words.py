"""The console's templates say each text in the request's language, as Flask-Babel would, while
looking each one up once per request (a page says the same texts in every row)."""

from __future__ import annotations

import re

from console_support import OFFICER, sign_in
from flask import Flask, render_template_string
from flask_babel import force_locale, gettext

# The translation is trusted (marked safe, as Jinja's own gettext does); what fills it is escaped.
TEMPLATE = (
    "{{ _('Inbox') }}|{{ _('%(days)s working days left', days=3) }}|{{ _('Inbox') }}"
    "|{{ _('%(days)s working days left', days='<b>') }}"
)


def test_a_template_says_what_flask_babel_says_in_each_language(app: Flask) -> None:
    console = app.extensions["huiju.console"]
    said = {}
    for lang in ("zh", "en"):
        with console.test_request_context("/"), force_locale(lang):
            inbox, left = gettext("Inbox"), gettext("%(days)s working days left", days=3)
            escaped = gettext("%(days)s working days left", days="&lt;b&gt;")
            assert render_template_string(TEMPLATE) == f"{inbox}|{left}|{inbox}|{escaped}"
            said[lang] = inbox, left
    assert said["zh"] != said["en"] and "3" in said["zh"][1] and said["en"] == ("Inbox", "3 working days left")


def test_the_language_chosen_holds_from_the_next_page_on(app: Flask) -> None:
    client = app.test_client()
    assert sign_in(client, OFFICER) == 302
    headings = []
    for lang in ("zh", "en", "zh"):
        client.get(f"/console/lang/{lang}")
        page = client.get("/console/inbox/").get_data(as_text=True)
        found = re.search(r"<h1>([^<]+)<small", page)
        assert found is not None
        headings.append(found.group(1).strip())
    assert headings[1] == "Inbox" and headings[0] == headings[2] != "Inbox"
