"""A user's own account: changing the password (修改密码).

A new password ends every session of the account at once (OWASP ASVS 3.3.3): whoever had copied a
session cookie, or signed in elsewhere, is signed out; the web page that asked signs its user in
again with a new session.
"""

from __future__ import annotations

from huiju.db import Database
from huiju.errors import InputError, PermissionDenied
from huiju.i18n import _
from huiju.models import User
from huiju.services import audit
from huiju.services.actors import actor_for, authenticate
from huiju.services.registration import check_password
from huiju.services.sessions import end_sessions_of_user


def change_password(db: Database, username: str, current: str, new: str) -> int:
    """Set a new password for ``username`` once ``current`` is right (after an administrator's reset,
    or whenever its holder wishes); every session of the account ends and the change is audited.
    Returns how many sessions were ended. PermissionDenied for a wrong current password, InputError
    for a new one that breaks the rules or equals the old one."""
    check_password(new)
    if new == current:
        raise InputError(_("the new password must differ from the current one"), field="new_password")
    with db.transaction() as session:
        try:
            authenticate(session, username, current)
        except PermissionDenied as exc:
            raise PermissionDenied(_("the current password is wrong"), field="current_password") from exc
        user = session.query(User).filter(User.username == username).one()
        user.set_password(new)
        user.must_change_password = False
        ended = end_sessions_of_user(session, user.id)
        audit.record(session, actor_for(user), "user.change_password", target_kind="user", target=user.username,
                     after={"must_change_password": False})  # fmt: skip
        return ended
