"""Fixtures of the inbound endpoint tests: a Huiju instance on a temporary folder with a dev PKI,
its Flask app, and one subsidy case waiting at ``await_egov_decision`` for the extranet's decision.

Service calls are answered in-process (canned replies, settled into the engine); the extranet's
decision is never delivered in-process here: it has to come through ``/exchange/soap``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certs.store import SigningIdentity, init_dev_pki, load_signing_identity
from huiju import migrate
from huiju.app.bootstrap import build_runtime
from huiju.app.seed import seed_all
from huiju.app.web import create_app
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from huiju.services.tasks import complete_task, inbox
from huiju.settings import load_settings
from tests.inbound.inbound_support import Inbound, settle_pending

ITEM = "elderly-care-subsidy"
APPLICANT_ID = "110105193801012340"
FORM = {"income_band": "subsistence", "disability": "none", "living_alone": True}
OFFICER = "officer-chaoyang-01"
REVIEWER = "reviewer-wangjing-01"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    instance = tmp_path / "instance"
    instance.mkdir()
    init_dev_pki(instance / "certs")
    rt = build_runtime(load_settings(instance_path=instance, env="test"), with_celery=False)
    migrate.upgrade(rt.db)
    with rt.db.transaction() as session:
        seed_all(session, "http://127.0.0.1:9")
    yield rt
    rt.db.dispose()


def _complete(rt: Runtime, case_id: int, username: str, decision: str) -> None:
    with rt.db.transaction() as session:
        actor = load_actor(session, username)
        mine = [task for task in inbox(session, actor) if task.case_id == case_id]
        assert len(mine) == 1, mine
        complete_task(session, rt.engine, actor, mine[0].id, decision, {})


def waiting_case(rt: Runtime) -> tuple[str, int, int, str]:
    """Submit a case and drive it to ``await_egov_decision``: (number, case id, instance id, receipt)."""
    with rt.db.transaction() as session:
        case = submit_case(session, rt.engine, load_actor(session, "admin"), ITEM, APPLICANT_ID, dict(FORM))
        number, case_id, instance_id = case.number, case.id, case.process_instance_id
    assert instance_id is not None
    settle_pending(rt)
    _complete(rt, case_id, OFFICER, "accept")
    settle_pending(rt)
    _complete(rt, case_id, REVIEWER, "approve")
    done = settle_pending(rt)
    submits = [reply for operation, _id, reply in done if operation == "egov.submit_case"]
    assert len(submits) == 1, done
    return number, case_id, instance_id, str(submits[0]["receipt_number"])


@pytest.fixture
def inbound(runtime: Runtime) -> Inbound:
    folder = runtime.settings.resolved_certs_folder
    sandbox: SigningIdentity = load_signing_identity(folder, "sandbox")
    number, case_id, instance_id, receipt = waiting_case(runtime)
    app = create_app(runtime, {"TESTING": True})
    setup = Inbound(runtime, app.test_client(), folder, sandbox, number, case_id, instance_id, receipt)
    assert setup.waits()
    return setup
