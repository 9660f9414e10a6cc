"""Signing in does the same work for an unknown user name as for a known one: one password hash of
the same method and cost is computed either way, so the answer's time tells nothing (the times
themselves are compared side by side in ``bench/signin.py``, never asserted here)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest
from sqlalchemy import select, update

from huiju.errors import PermissionDenied
from huiju.models import User
from huiju.passwords import DUMMY_HASH, hash_password
from huiju.runtime import Runtime
from huiju.services.actors import authenticate

#: The C functions that compute a password hash: Argon2id's, and those of the hashes stored before it.
HASHES = {"argon2_verify", "argon2_hash", "scrypt", "pbkdf2_hmac"}


def hashes_computed(call: Callable[[], Any]) -> list[str]:
    """The password-hash functions (C calls of hashlib) run while ``call`` runs."""
    seen: list[str] = []

    def profile(_frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call" and getattr(arg, "__name__", "") in HASHES:
            seen.append(arg.__name__)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        call()
    except PermissionDenied:
        pass
    finally:
        sys.setprofile(previous)
    return seen


def test_unknown_inactive_and_known_accounts_cost_one_hash_each(runtime: Runtime) -> None:
    with runtime.db.sessions() as session:
        known = hashes_computed(lambda: authenticate(session, "officer-chaoyang-01", "wrong-password"))
        unknown = hashes_computed(lambda: authenticate(session, "officer-nobody", "wrong-password"))
        right = hashes_computed(lambda: authenticate(session, "officer-chaoyang-01", "huiju-demo"))
    with runtime.db.transaction() as session:
        session.execute(update(User).where(User.username == "officer-chaoyang-01").values(active=False))
    with runtime.db.sessions() as session:
        inactive = hashes_computed(lambda: authenticate(session, "officer-chaoyang-01", "huiju-demo"))
    assert known == unknown == right == inactive and len(known) == 1, (known, unknown, right, inactive)


def test_the_dummy_hash_has_the_method_and_cost_of_real_ones(runtime: Runtime) -> None:
    with runtime.db.sessions() as session:
        real = session.scalar(select(User.password_hash).where(User.username == "officer-chaoyang-01"))
    assert real is not None
    # The method and its parameters: e.g. $argon2id$v=19$m=19456,t=2,p=1
    assert DUMMY_HASH.split("$")[:4] == real.split("$")[:4] == hash_password("any").split("$")[:4]


@pytest.mark.parametrize("username", ["", " ", "x" * 200, "officer-chaoyang-01'--"])
def test_odd_user_names_are_just_wrong(runtime: Runtime, username: str) -> None:
    with runtime.db.sessions() as session, pytest.raises(PermissionDenied):
        authenticate(session, username, "huiju-demo")
