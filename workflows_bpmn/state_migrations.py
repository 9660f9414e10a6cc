"""Named migrations of stored workflow state: one function per change of Huiju's layout.

Modelled on SpiffWorkflow's ``bpmn/serializer/migration/``: every layout Huiju ever wrote has a
version, stored in the instance row beside the state, and a function that turns it into the next
one. Loading runs the chain from the row's version to :data:`SERIALIZER_VERSION`; a version with no
migration is refused with its name, never guessed at. The library's own version is recorded inside
the JSON, where SpiffWorkflow's migrations look for it (see :mod:`workflows_bpmn.serialization`).

The layouts:

``1.5``
    The library's dictionary at its serializer version 1.5, without the process spec (re-attached
    from the deployed definition on load). The library's version was not recorded inside.
``huiju-2``
    The same, with the library's version recorded inside (``serializer_version``), so that a
    future SpiffWorkflow upgrades the task tree by its own migrations; a service task that is
    waiting for its reply carries its outbox message id (``message_id`` in its internal data;
    rows written before lack it and are found by their task id); an ended instance is stored as a
    summary without a task tree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from huiju.errors import WorkflowError

#: The layout this build writes.
SERIALIZER_VERSION = "huiju-2"
#: The SpiffWorkflow serializer version of the dictionaries this build writes.
LIBRARY_VERSION = "1.5"
#: The library's key for its version inside the JSON.
LIBRARY_VERSION_KEY = "serializer_version"


def from_1_5(dct: dict[str, Any]) -> None:
    """1.5 -> huiju-2: record the library version the state was written with (1.5 then)."""
    dct.setdefault(LIBRARY_VERSION_KEY, "1.5")


#: version -> (the version it becomes, the function that makes it so).
MIGRATIONS: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
    "1.5": ("huiju-2", from_1_5),
}


def migrate(dct: dict[str, Any], version: str) -> dict[str, Any]:
    """Bring a stored dictionary of ``version`` up to :data:`SERIALIZER_VERSION`, in place."""
    seen = set()
    while version != SERIALIZER_VERSION:
        step = MIGRATIONS.get(version)
        if step is None or version in seen:
            known = ", ".join(sorted({*MIGRATIONS, SERIALIZER_VERSION}))
            raise WorkflowError(f"stored workflow has serializer version {version}; this build reads {known}")
        seen.add(version)
        version, change = step
        change(dct)
    return dct
