"""Fixtures for the API tests: a real runtime on a temporary SQLite file, seeded through the models,
the bundled BPMN deployed, a Flask test client, and every response checked against openapi.yaml.

No worker runs here: service calls stay in the outbox until the ``deliver`` fixture answers them the
way a worker would (the reply stored, the message marked delivered, then settled into the engine).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_support import Api, seed
from flask import Flask
from openapi_core import Config, OpenAPI
from openapi_schema_validator import OAS31Validator
from sqlalchemy import func, select

from exchange.models import MessageStatus, OutboxMessage
from huiju.app.bootstrap import build_runtime
from huiju.app.web import create_app
from huiju.models import Case, CaseEvent
from huiju.runtime import Runtime
from huiju.settings import load_settings
from tests.support.canned import deliver_replies
from workflows_bpmn.models import HumanTask, ProcessInstance


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(instance_path=tmp_path, env="test"), with_celery=False)
    rt.db.create_all()
    seed(rt)
    yield rt
    rt.db.dispose()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime, {"TESTING": True})


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    text = resources.files("huiju.api").joinpath("openapi.yaml").read_text(encoding="utf-8")
    # openapi-core reads application/json only; problem+json is JSON too (RFC 9457).
    config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
    return OpenAPI.from_dict(yaml.safe_load(text), config=config)


@pytest.fixture(scope="session")
def problem_validator(openapi: OpenAPI) -> OAS31Validator:
    document = yaml.safe_load(resources.files("huiju.api").joinpath("openapi.yaml").read_text(encoding="utf-8"))
    return OAS31Validator(document["components"]["schemas"]["Problem"])


@pytest.fixture
def api(app: Flask, openapi: OpenAPI, problem_validator: OAS31Validator) -> Api:
    return Api(app.test_client(), openapi, problem_validator)


# -- a worker, in process ----------------------------------------------------------------------------


def fail_calls(runtime: Runtime, error: str = "the system did not answer after 5 attempts") -> list[str]:
    """Let every pending outbox message fail for good, and settle the failures into the engine."""
    with runtime.db.transaction() as session:
        pending = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.settled_at.is_(None), OutboxMessage.status == MessageStatus.PENDING
            )
        ).all()
        for message in pending:
            message.status = MessageStatus.DEAD
            message.last_error = error
            message.last_error_transient = True
        ids = [m.message_id for m in pending]
    for message_id in ids:
        with runtime.db.transaction() as session:
            runtime.engine.settle(session, message_id)
    return ids


def database_state(runtime: Runtime) -> dict[str, Any]:
    """Row counts of every table a refused write could touch, and the states that could move."""
    with runtime.db.transaction() as session:
        state: dict[str, Any] = {
            model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Case, CaseEvent, HumanTask, ProcessInstance, OutboxMessage)
        }
        state["cases"] = sorted(session.execute(select(Case.number, Case.status, Case.outcome)))
        state["tasks"] = sorted(session.execute(select(HumanTask.id, HumanTask.status)))
        state["instances"] = sorted(session.execute(select(ProcessInstance.id, ProcessInstance.lock_version)))
        return state


@pytest.fixture
def deliver(runtime: Runtime) -> Callable[[], list[str]]:
    """Answer and settle every pending service call; the operations answered, in order."""
    return lambda: deliver_replies(runtime)


@pytest.fixture
def fail(runtime: Runtime) -> Callable[[], list[str]]:
    """Let every pending service call fail for good; the ids of the dead messages."""
    return lambda: fail_calls(runtime)


@pytest.fixture
def snapshot(runtime: Runtime) -> Callable[[], dict[str, Any]]:
    """What a refused write must leave unchanged."""
    return lambda: database_state(runtime)
