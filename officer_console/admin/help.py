"""The console's help menu: the guides of ``docs/`` (Markdown), rendered with raw HTML off, for every
signed-in account; their screenshots (taken by the browser tests) are served beside them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import abort, send_from_directory, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l
from markdown_it import MarkdownIt
from markupsafe import Markup

from officer_console.security import requires

#: The guides, in the source tree beside the packages (``docs/``).
DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES: list[tuple[str, Any]] = [
    ("officer-manual", _l("Officer's manual")),
    ("administrator", _l("Administrator's guide")),
    ("integrator", _l("Integrator's guide")),
]
_PAGE = re.compile(r"^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)*$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._-]*\.(png|jpg|svg)$")


def _target(href: str, page: str) -> str:
    """A link of a guide as the console serves it: other guides and images by their route."""
    if re.match(r"^[a-z]+:", href) or href.startswith("#") or href.startswith("/"):
        return href
    path, _sep, anchor = href.partition("#")
    base = Path(page).parent
    resolved = (base / path).as_posix()
    while "/../" in f"/{resolved}" or resolved.startswith("../"):
        parts = resolved.split("/")
        index = parts.index("..")
        resolved = "/".join(parts[: max(index - 1, 0)] + parts[index + 1 :])
    if resolved.startswith("images/"):
        return url_for("HelpView.image", name=resolved.removeprefix("images/"))
    if resolved.endswith(".md"):
        return url_for("HelpView.page", page=resolved.removesuffix(".md")) + (f"#{anchor}" if anchor else "")
    return href


def render(text: str, page: str) -> Markup:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    for token in tokens:
        for child in [token, *(token.children or [])]:
            if child.type == "link_open" and isinstance(child.attrs.get("href"), str):
                child.attrs["href"] = _target(str(child.attrs["href"]), page)
            if child.type == "image" and isinstance(child.attrs.get("src"), str):
                child.attrs["src"] = _target(str(child.attrs["src"]), page)
    return Markup(md.renderer.render(tokens, md.options, {}))  # noqa: S704 - raw HTML is off


class HelpView(BaseView):  # type: ignore[misc]
    route_base = "/help"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        available = [(name, title) for name, title in GUIDES if (DOCS / f"{name}.md").is_file()]
        return self.render_template("console/admin/help.html", guides=available, body=None, title=_l("Guides"))

    @expose("/<path:page>")
    @requires("can_read")
    def page(self, page: str) -> Any:
        if not _PAGE.match(page) or not (DOCS / f"{page}.md").is_file():
            abort(404)
        text = (DOCS / f"{page}.md").read_text(encoding="utf-8")
        title = next((t for n, t in GUIDES if n == page), page)
        return self.render_template("console/admin/help.html", guides=GUIDES, body=render(text, page), title=title)

    @expose("/images/<name>")
    @requires("can_read")
    def image(self, name: str) -> Any:
        if not _IMAGE.match(name):
            abort(404)
        return send_from_directory(DOCS / "images", name, max_age=3600)
