"""Password hashes: Argon2id, at the cost OWASP's password storage guidance names as its minimum.

A new password is hashed with Argon2id, 19 MiB of memory, two passes, one lane (OWASP's Password
Storage Cheat Sheet, and what ASVS 2.4 asks for). On this project's hosts that is about 40 ms of
one core a sign-in: a quarter of werkzeug's default scrypt (N=2^15, 150 ms), which sits below
OWASP's own minimum for scrypt (N=2^17, 600 ms).

Hashes stored before (werkzeug's ``scrypt:`` and ``pbkdf2:``) still verify; :func:`needs_rehash`
tells the sign-in to store the password again in today's form once it has been proved right, so
accounts move over as their holders sign in. An Argon2id hash of other parameters is renewed the
same way, should these ever change.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

__all__ = ["DUMMY_HASH", "hash_password", "needs_rehash", "verify_password"]

#: OWASP's minimum for Argon2id: m=19 MiB, t=2, p=1.
MEMORY_KIB = 19 * 1024
PASSES = 2
LANES = 1

_HASHER = PasswordHasher(time_cost=PASSES, memory_cost=MEMORY_KIB, parallelism=LANES, type=Type.ID)
_ARGON2 = "$argon2"

#: Checked when there is no account to check: a hash of a random, forgotten password with today's
#: parameters (a test holds them equal), so that an unknown user name costs what a wrong password does.
DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$oiycCPUiuccAbQE8YI0Zmg$/cK9mzjD+bG7biPafIhazQ/moboOBh/X+KY4nS+3ldU"


def hash_password(password: str) -> str:
    """The stored form of a new password (with its own random salt)."""
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (any form this project has stored)."""
    if stored.startswith(_ARGON2):
        try:
            return bool(_HASHER.verify(stored, password))
        except (VerificationError, InvalidHashError):  # a wrong password, or a damaged hash
            return False
    return check_password_hash(stored, password)


def needs_rehash(stored: str) -> bool:
    """Whether a hash proved right should be stored again in today's form."""
    if not stored.startswith(_ARGON2):
        return True
    try:
        return bool(_HASHER.check_needs_rehash(stored))
    except InvalidHashError:
        return True
