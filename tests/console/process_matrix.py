"""The permission matrix of the process, case-operation and item-catalogue pages: (method, path
template, expected status per user). An officer reaches none of them; an integrator reads process
definitions but cannot edit them, nor touch running cases or the catalogue.

Placeholders: {pid} a process id and {ver} its version (the subsidy, 1), {file} its BPMN file,
{n} a case number, {code} an item code. A refused call changes nothing; an allowed POST without
the fields it needs is answered with the form's own refusal (303 back, or 400/404)."""

from __future__ import annotations

from console_support import FAR_OFFICER, FAR_REVIEWER, OFFICER, OTHER_OFFICER, REVIEWER

USERS = [OFFICER, OTHER_OFFICER, FAR_OFFICER, REVIEWER, FAR_REVIEWER, "admin", "integrator"]
OK = 200


def only(status: int, integrator: int = 403) -> dict[str, int]:
    return {**{u: 403 for u in USERS}, "admin": status, "integrator": integrator}


PROCESS_CONSOLE: list[tuple[str, str, dict[str, int]]] = [
    ("GET", "/console/processes/", only(OK, OK)),
    ("POST", "/console/processes/upload", only(303)),  # no file: refused with its reason
    ("GET", "/console/processes/{pid}/v{ver}", only(OK, OK)),
    ("GET", "/console/processes/{pid}/v{ver}/files/{file}", only(OK, OK)),
    ("GET", "/console/processes/{pid}/v{ver}/modeler", only(OK)),
    ("GET", "/console/processes/{pid}/compare", only(OK, OK)),
    ("GET", "/console/processes/new", only(OK)),
    ("POST", "/console/processes/new", only(303)),  # no process id
    ("GET", "/console/processes/new/diagram.bpmn", only(400)),  # no process id
    ("GET", "/console/processes/palette.json", only(OK)),
    ("POST", "/console/processes/modeler/check", only(400)),  # no diagram
    ("GET", "/console/processes/modeler/duration", only(OK)),  # no text: no duration
    ("GET", "/console/running/", only(OK)),
    ("GET", "/console/running/{n}", only(OK)),
    ("POST", "/console/running/{n}/suspend", only(303)),
    ("POST", "/console/running/{n}/resume", only(303)),  # not suspended: refused with its reason
    ("POST", "/console/running/{n}/move", only(303)),  # no step named
    ("POST", "/console/running/{n}/migrate", only(404)),  # no version named
    ("GET", "/console/running/migration", only(404)),  # no versions named
    ("POST", "/console/running/migration", only(404)),  # no versions named
    ("GET", "/console/items/", only(OK)),
    ("GET", "/console/items/new", only(OK)),
    ("POST", "/console/items/new", only(303)),  # an empty form
    ("GET", "/console/items/{code}", only(OK)),
    ("POST", "/console/items/{code}", only(303)),  # an empty form
    ("POST", "/console/items/{code}/publish", only(303)),  # published already
    ("POST", "/console/items/{code}/withdraw", only(303)),
]

PLACEHOLDERS = {"<process_id>": "{pid}", "<int:version>": "{ver}", "<file_name>": "{file}", "<code>": "{code}"}
