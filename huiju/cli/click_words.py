"""Click's own messages of a refused command line (a missing option, an unknown command, a bad
value), said in the command line's language.

Click words these in English as it refuses the command line; each is matched here against the
shape Click 8 gives it and said again from the catalogue (``HUIJU_LANG``: Chinese unless ``en``).
What no rule knows is shown as Click worded it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import click

from huiju.i18n import N_, translate

_V = r"'[^']*'"  # a value as Click quotes it
#: (Click's message, the catalogue's template): named groups fill the template's placeholders.
RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Missing option (?P<name>.+?)\.(?: (?P<more>.+))?", re.S), N_("Missing option {name}.")),
    (re.compile(r"Missing argument (?P<name>.+?)\.(?: (?P<more>.+))?", re.S), N_("Missing argument {name}.")),
    (re.compile(r"Missing parameter (?P<name>.+?)\.(?: (?P<more>.+))?", re.S), N_("Missing parameter {name}.")),
    (re.compile(r"Missing command\."), N_("Missing command.")),
    (re.compile(rf"No such option (?P<name>{_V})\.(?: (?P<more>.+))?", re.S), N_("No such option {name}.")),
    (re.compile(rf"No such command (?P<name>{_V})\.(?: (?P<more>.+))?", re.S), N_("No such command {name}.")),
    (re.compile(r"Got unexpected extra arguments? \((?P<args>.*)\)"), N_("Unexpected extra arguments ({args}).")),
    (re.compile(rf"Option (?P<name>{_V}) requires an argument\."), N_("Option {name} needs a value.")),
    (
        re.compile(rf"Option (?P<name>{_V}) requires (?P<nargs>\d+) arguments\."),
        N_("Option {name} needs {nargs} values."),
    ),
    (re.compile(rf"Option (?P<name>{_V}) does not take a value\."), N_("Option {name} takes no value.")),
    (re.compile(r"Invalid value for (?P<param_hint>.+?): (?P<more>.+)", re.S), N_("Invalid value for {param_hint}:")),
    (re.compile(r"Invalid value: (?P<more>.+)", re.S), N_("Invalid value:")),
    (re.compile(rf"(?P<value>{_V}) is not a valid integer\."), N_("{value} is not a whole number.")),
    (re.compile(rf"(?P<value>{_V}) is not a valid float\."), N_("{value} is not a number.")),
    (re.compile(rf"(?P<value>{_V}) is not a valid boolean\..*", re.S), N_("{value} is neither yes nor no.")),
    (re.compile(rf"(?P<value>{_V}) is not one of (?P<choices>.+)\.", re.S), N_("{value} is not one of {choices}.")),
    (re.compile(rf"(?P<value>{_V}) is not (?P<choice>{_V})\."), N_("{value} is not {choice}.")),
    (
        re.compile(rf"(?P<value>{_V}) does not match the formats? (?P<formats>.+)\.", re.S),
        N_("{value} does not match the format {formats}."),
    ),
    (re.compile(r"(?P<value>.+) is not in the range (?P<range>.+)\."), N_("{value} is not in the range {range}.")),
    (re.compile(rf"File (?P<name>{_V}) does not exist\."), N_("File {name} does not exist.")),
    (re.compile(rf"Directory (?P<name>{_V}) does not exist\."), N_("Folder {name} does not exist.")),
    (re.compile(rf"Path (?P<name>{_V}) does not exist\."), N_("Path {name} does not exist.")),
    (re.compile(rf"(?:File|Path) (?P<name>{_V}) is a directory\."), N_("{name} is a folder, not a file.")),
    (re.compile(rf"(?:Directory|Path) (?P<name>{_V}) is a file\."), N_("{name} is a file, not a folder.")),
    (re.compile(rf"(?:File|Directory|Path) (?P<name>{_V}) is not readable\."), N_("{name} cannot be read.")),
    (re.compile(r"Choose from:\s*(?P<choices>.+)", re.S), N_("Choose from: {choices}")),
    (re.compile(r"Did you mean (?P<possibility>\S+)\?"), N_("Did you mean {possibility}?")),
    (re.compile(r"\(Did you mean one of: (?P<possibilities>.+)\?\)"), N_("(Did you mean one of: {possibilities}?)")),
]
ERROR = N_("Error: {message}")
TRY_HELP = N_("Try '{command} {option}' for help.")
ABORTED = N_("Aborted!")


def worded(message: str, locale: str) -> str:
    """Click's ``message`` in ``locale`` (as it is when no rule knows it)."""
    text = message.strip()
    for pattern, template in RULES:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        values = {k: v for k, v in match.groupdict().items() if k != "more" and v is not None}
        said = translate(template, locale).format(**values)
        more = match.groupdict().get("more")
        if not more:
            return said
        return f"{said}{'' if said.endswith(('：', '。')) else ' '}{worded(more, locale)}"
    return message


def show(exc: click.ClickException, locale: str) -> None:
    """What Click shows for a refused command line, in ``locale``."""
    own_show = type(exc).show
    if own_show not in (click.ClickException.show, click.UsageError.show):
        exc.show()  # e.g. the help shown for a group called without a command
        return
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    if ctx is not None:
        hint = ""
        if ctx.command.get_help_option(ctx) is not None:
            option = max(ctx.command.get_help_option_names(ctx), key=len)
            hint = translate(TRY_HELP, locale).format(command=ctx.command_path, option=option) + "\n"
        click.echo(f"{ctx.get_usage()}\n{hint}", err=True, color=ctx.color)
    message = worded(exc.format_message(), locale)
    click.echo(translate(ERROR, locale).format(message=message), err=True)


def run_worded(main: Callable[..., Any], locale: str, *args: Any, **kwargs: Any) -> Any:
    """Run Click's ``main`` as in its standalone mode, its refusals shown by :func:`show`."""
    if not kwargs.pop("standalone_mode", True):
        return main(*args, standalone_mode=False, **kwargs)
    try:
        result = main(*args, standalone_mode=False, **kwargs)
    except click.ClickException as exc:
        show(exc, locale)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo(translate(ABORTED, locale), err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
