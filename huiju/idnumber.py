"""Resident ID numbers (居民身份证号码, GB 11643-1999), checked with ``stdnum.cn.ric``.

An 18-character number: a 6-digit region code (GB/T 2260), the birth date ``YYYYMMDD``, a 3-digit
sequence code (odd for men, even for women) and a check digit (ISO 7064 MOD 11-2, ``X`` for 10).

Error messages never repeat the number itself: they end up in logs and problem+json bodies. Use
:func:`mask` to show a number.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Literal

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from huiju.calendar import CHINA
from huiju.errors import InputError
from huiju.i18n import Message, _

Gender = Literal["female", "male"]

LENGTH = 18
_DIGITS = frozenset("0123456789")


def normalize(raw: str) -> str:
    """Full-width characters to ASCII, all whitespace removed, a final ``x`` upper-cased."""
    return "".join(unicodedata.normalize("NFKC", raw).split()).upper()


def _error(message: Message, reason: str) -> InputError:
    return InputError(message, field="id_number", reason=reason)


def validate(raw: str) -> str:
    """The normalized number, or :class:`InputError` saying precisely what is wrong."""
    if not isinstance(raw, str):
        raise _error(_("the ID number must be text"), "type")
    number = normalize(raw)
    if len(number) != LENGTH:
        if len(number) == 15 and set(number) <= _DIGITS:
            raise _error(
                _("15-digit first-generation ID numbers are not accepted; give the 18-digit number"),
                "length",
            )
        raise _error(
            _("an ID number has {expected} characters, this one has {actual}", expected=LENGTH, actual=len(number)),
            "length",
        )
    for position, char in enumerate(number[:-1], start=1):
        if char not in _DIGITS:
            raise _error(
                _(
                    "the first 17 characters of an ID number must be digits; character {position} is {char}",
                    position=position,
                    char=repr(char),
                ),
                "format",
            )
    if number[-1] not in _DIGITS and number[-1] != "X":
        raise _error(
            _("the last character of an ID number must be a digit or X, not {char}", char=repr(number[-1])), "format"
        )
    expected = ric.calc_check_digit(number)
    if number[-1] != expected:
        raise _error(
            _(
                "the check digit (18th character) is {given}, but the first 17 digits give {expected}; "
                "a digit is probably mistyped",
                given=number[-1],
                expected=expected,
            ),
            "checksum",
        )
    try:
        born = ric.get_birth_date(number)
    except ValidationError as exc:
        raw_date = number[6:14]
        raise _error(
            _(
                "the birth date {date} (characters 7-14) does not exist",
                date=f"{raw_date[:4]}-{raw_date[4:6]}-{raw_date[6:]}",
            ),
            "birth_date",
        ) from exc
    if born > datetime.now(CHINA).date():
        raise _error(_("the birth date {date} (characters 7-14) is in the future", date=born.isoformat()), "birth_date")
    try:
        ric.get_birth_place(number)
    except ValidationError as exc:
        raise _error(
            _(
                "the region code {region} (characters 1-6) is not an administrative division code "
                "(GB/T 2260) in use for someone born in {year}",
                region=number[:6],
                year=born.year,
            ),
            "region",
        ) from exc
    return number


def birth_date(id_number: str) -> date:
    """The birth date of a valid ID number (:class:`InputError` when it is not valid)."""
    return ric.get_birth_date(validate(id_number))


def gender(id_number: str) -> Gender:
    """From the parity of the 17th digit: odd for men, even for women."""
    return "male" if int(validate(id_number)[16]) % 2 else "female"


def mask(id_number: str) -> str:
    """For display and logs: region code and last four kept, birth date hidden.

    Never raises: anything that is not 18 characters long is masked completely.
    """
    number = normalize(id_number)
    if len(number) != LENGTH:
        return "*" * len(number)
    return f"{number[:6]}{'*' * 8}{number[14:]}"
