"""Passwords are stored as Argon2id at OWASP's minimum cost; hashes stored before (werkzeug's scrypt
and PBKDF2) still sign in, and are stored again as Argon2id once their password is proved right."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from huiju.errors import PermissionDenied
from huiju.models import User
from huiju.passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password
from huiju.runtime import Runtime
from huiju.services.accounts import change_password
from huiju.services.actors import authenticate

OFFICER = "officer-chaoyang-01"
PASSWORD = "huiju-demo"


def _stored(runtime: Runtime, username: str = OFFICER) -> str:
    with runtime.db.sessions() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == username))
    assert stored is not None
    return stored


def _store(runtime: Runtime, password_hash: str, username: str = OFFICER) -> None:
    with runtime.db.transaction() as session:
        session.execute(update(User).where(User.username == username).values(password_hash=password_hash))


def test_a_new_password_is_argon2id_at_owasps_minimum() -> None:
    stored = hash_password("Correct-Horse-9")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "Correct-Horse-9" not in stored
    assert stored != hash_password("Correct-Horse-9")  # a salt of its own each time
    assert verify_password(stored, "Correct-Horse-9")
    assert not verify_password(stored, "correct-horse-9")
    assert not needs_rehash(stored)


@pytest.mark.parametrize(
    "stored",
    [
        "$argon2id$v=19$m=19456,t=2,p=1$bm90IGJhc2U2NA$not-a-digest",  # damaged
        "$argon2id$nothing",
        "scrypt:32768:8:1$salt$00",  # a werkzeug hash with a digest of nothing
        "",
    ],
)
def test_a_damaged_hash_refuses_every_password(stored: str) -> None:
    assert not verify_password(stored, "anything")
    assert needs_rehash(stored)


def test_argon2id_of_other_parameters_is_renewed() -> None:
    assert needs_rehash("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$2uKgqF1+b6YyZ1mGrXQjbA")
    assert not needs_rehash(DUMMY_HASH)


@pytest.mark.parametrize("method", ["scrypt", "pbkdf2:sha256:600000"])
def test_an_older_hash_signs_in_and_is_stored_again_as_argon2id(runtime: Runtime, method: str) -> None:
    _store(runtime, generate_password_hash(PASSWORD, method=method))
    with runtime.db.sessions() as session, pytest.raises(PermissionDenied):  # a wrong one renews nothing
        authenticate(session, OFFICER, "wrong-password")
    assert _stored(runtime).startswith(method.split(":")[0] + ":")

    with runtime.db.sessions() as session:  # a read: the renewal is written beside it
        assert authenticate(session, OFFICER, PASSWORD).username == OFFICER
    renewed = _stored(runtime)
    assert renewed.startswith("$argon2id$") and not needs_rehash(renewed)
    assert verify_password(renewed, PASSWORD)

    with runtime.db.sessions() as session:  # and the next sign-in keeps it
        authenticate(session, OFFICER, PASSWORD)
    assert _stored(runtime) == renewed


def test_changing_a_password_stored_in_an_older_form(runtime: Runtime) -> None:
    """The check of the current password runs in the change's own write transaction: the renewal
    goes there too (no second writer waiting for the first), and the new password wins."""
    _store(runtime, generate_password_hash(PASSWORD, method="scrypt"))
    change_password(runtime.db, OFFICER, PASSWORD, "A-new-password-2026")
    stored = _stored(runtime)
    assert stored.startswith("$argon2id$") and verify_password(stored, "A-new-password-2026")
    assert not verify_password(stored, PASSWORD)
