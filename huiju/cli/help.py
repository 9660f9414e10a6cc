"""The command line's help in its language (``HUIJU_LANG``: Chinese unless set to ``en``).

Help texts are written in English and marked with :func:`~huiju.i18n.N_`, so that ``make
translations`` puts them in the catalogue; when ``huiju`` starts, every command's and option's help
is looked up there (the English kept to look it up again), and Click's own words of a help page —
"Usage:", the section titles, the help option, "[default: …]" — are worded by the formatter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import click

from huiju.i18n import N_, translate

#: Click's own words on a help page.
CLICK_WORDS = {
    "Usage:": N_("Usage:"),
    "Options": N_("Options"),
    "Commands": N_("Commands"),
    "Arguments": N_("Arguments"),
    "Show this message and exit.": N_("Show this message and exit."),
}
_BRACKET = re.compile(r"\[(default|required)(?::\s*([^\]]*))?\]")
_ORIGINAL = "_huiju_help_msgid"


def _locale() -> str:
    from huiju.cli.support import cli_locale

    return cli_locale()


class Formatter(click.HelpFormatter):
    """Click's help formatter, with Click's own words in the command line's language."""

    def __init__(self, locale: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.locale = locale

    def word(self, text: str) -> str:
        # An option without help has "": gettext would answer it with the catalogue's header.
        return translate(CLICK_WORDS.get(text, text), self.locale) if text else text

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, prefix if prefix is not None else f"{self.word('Usage:')} ")

    def section(self, name: str) -> Any:
        return super().section(self.word(name))

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        def bracket(match: re.Match[str]) -> str:
            kind = translate(N_("default") if match.group(1) == "default" else N_("required"), self.locale)
            return f"[{kind}: {match.group(2)}]" if match.group(2) is not None else f"[{kind}]"

        shown = [(term, _BRACKET.sub(bracket, self.word(text))) for term, text in rows]
        super().write_dl(shown, col_max, col_spacing)


class Context(click.Context):
    def make_formatter(self) -> click.HelpFormatter:
        return Formatter(_locale(), width=self.terminal_width, max_width=self.max_content_width)


def _commands(command: click.Command) -> Iterator[click.Command]:
    yield command
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from _commands(sub)


def _worded(holder: Any, attribute: str, locale: str) -> None:
    text = getattr(holder, attribute, None)
    if not text:
        return
    key = f"{_ORIGINAL}_{attribute}"
    original = getattr(holder, key, None) or text
    setattr(holder, key, original)
    setattr(holder, attribute, translate(original, locale))


def localize_help(command: click.Command, locale: str) -> None:
    """Word the help of ``command`` and everything under it in ``locale`` (again, any number of times)."""
    for cmd in _commands(command):
        _worded(cmd, "help", locale)
        _worded(cmd, "short_help", locale)
        for param in cmd.params:
            if isinstance(param, click.Option):
                _worded(param, "help", locale)
        cmd.context_class = Context


class Group(click.Group):
    """The ``huiju`` group: its help, and every sub-command's, in the command line's language."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        from huiju.cli.click_words import run_worded

        locale = _locale()
        localize_help(self, locale)
        # Click's refusals (a missing option, a bad value) in the same language as the help.
        return run_worded(super().main, locale, *args, **kwargs)
