"""The permission matrix of the administration and integration pages, the account's password and
the guides: (method, path template, expected status per user). An officer cannot reach
administration; an integrator cannot edit users; an administrator cannot change adapters.

Placeholders: {u} an account (officer-chaoyang-02), {s} a system (sms), {i} a roster import,
{e} a message log entry, {m} a message id that is not dead, {p} a guide."""

from __future__ import annotations

from console_support import FAR_OFFICER, FAR_REVIEWER, OFFICER, OTHER_OFFICER, REVIEWER

USERS = [OFFICER, OTHER_OFFICER, FAR_OFFICER, REVIEWER, FAR_REVIEWER, "admin", "integrator"]
OK = 200


def only(user: str, status: int) -> dict[str, int]:
    return {**{u: 403 for u in USERS}, user: status}


ADMIN_CONSOLE: list[tuple[str, str, dict[str, int]]] = [
    ("GET", "/console/account/password", {u: OK for u in USERS}),
    ("POST", "/console/account/password", {u: 400 for u in USERS}),  # the current password is wrong
    ("GET", "/console/help/", {u: OK for u in USERS}),
    ("GET", "/console/help/{p}", {u: OK for u in USERS}),
    ("GET", "/console/help/images/{s}", {u: 404 for u in USERS}),
    ("GET", "/console/users/", only("admin", OK)),
    ("POST", "/console/users/", only("admin", 303)),
    ("GET", "/console/users/{u}", only("admin", OK)),
    ("POST", "/console/users/{u}", only("admin", 303)),
    ("POST", "/console/users/{u}/disable", only("admin", 303)),
    ("POST", "/console/users/{u}/enable", only("admin", 303)),
    ("POST", "/console/users/{u}/reset-password", only("admin", 303)),
    ("GET", "/console/roster/", only("admin", OK)),
    ("POST", "/console/roster/", only("admin", 303)),
    ("GET", "/console/roster/{i}", only("admin", OK)),
    ("POST", "/console/roster/{i}/step", only("admin", 303)),
    ("GET", "/console/audit/", only("admin", OK)),
    ("GET", "/console/audit/export.csv", only("admin", OK)),
    ("POST", "/console/audit/verify", only("admin", 303)),
    ("GET", "/console/adapters/", only("integrator", OK)),
    ("GET", "/console/adapters/{s}", only("integrator", OK)),
    ("POST", "/console/adapters/{s}", only("integrator", 303)),
    ("POST", "/console/adapters/{s}/test", only("integrator", OK)),
    ("GET", "/console/adapters/{s}/wsdl", only("integrator", OK)),
    ("POST", "/console/adapters/systems", only("integrator", 303)),
    ("POST", "/console/adapters/{s}/operations", only("integrator", 404)),  # a built-in system maps nothing
    ("GET", "/console/messages/", only("integrator", OK)),
    ("GET", "/console/messages/{e}", only("integrator", OK)),
    ("POST", "/console/messages/retry/{m}", only("integrator", 404)),  # no dead message has that id
    ("POST", "/console/messages/verify", only("integrator", 303)),
    ("GET", "/console/certificates/", only("integrator", OK)),
    ("POST", "/console/certificates/upload", only("integrator", 303)),
    ("POST", "/console/certificates/rotate", only("integrator", 303)),
    ("POST", "/console/certificates/revoke", only("integrator", 303)),
    ("POST", "/console/certificates/crl", only("integrator", 303)),
]

#: The community-services roles (provider, operator): the pages every account has, and nothing else.
for _method, _path, _expected in ADMIN_CONSOLE:
    _everyone = len(set(_expected.values())) == 1
    _expected.update({user: _expected[OFFICER] if _everyone else 403 for user in ("provider-yiyang", "operator")})

PLACEHOLDERS = {"<username>": "{u}", "<name>": "{s}", "<int:import_id>": "{i}", "<int:entry_id>": "{e}",
                "<message_id>": "{m}", "<path:page>": "{p}"}  # fmt: skip
