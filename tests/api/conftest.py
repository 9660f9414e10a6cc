"""Fixtures for the API tests: a real runtime on a temporary SQLite file, seeded through the models,
the bundled BPMN deployed, a Flask test client, and every response checked against openapi.yaml.

No worker runs here: service calls stay in the outbox until :func:`deliver` answers them the way a
worker would (the reply stored, the message marked delivered, then settled into the engine).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import date
from importlib import resources
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_schema_validator import OAS31Validator
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash
from werkzeug.test import EnvironBuilder, TestResponse

from exchange.models import MessageStatus, OutboxMessage
from huiju import idnumber
from huiju.bootstrap import Runtime, build_runtime
from huiju.db import utcnow
from huiju.models import (
    Case,
    CaseEvent,
    Item,
    ItemKind,
    Org,
    OrgLevel,
    Resident,
    ResponsibleLevel,
    Role,
    TimeUnit,
    User,
)
from huiju.settings import load_settings
from huiju.web import create_app
from workflows_bpmn.definitions import bundled_process_files, deploy, read_sources
from workflows_bpmn.expressions import host_functions
from workflows_bpmn.models import HumanTask, ProcessInstance

APPLICANT_ID = "110105193801012340"
OTHER_RESIDENT_ID = "110105194203150027"
ITEM_CODE = "ELDERLY_CARE_SUBSIDY"
PASSWORD = "correct horse battery staple"

SUBSIDY_FORM_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["income_band", "disability", "living_alone"],
    "additionalProperties": False,
    "properties": {
        "income_band": {"enum": ["subsistence", "low_income", "ordinary"]},
        "disability": {"enum": ["none", "moderate", "severe"]},
        "living_alone": {"type": "boolean"},
    },
}
GOOD_FORM: dict[str, Any] = {"income_band": "subsistence", "disability": "none", "living_alone": True}

#: user name → (role, organisation code or None, resident ID number or None)
ACCOUNTS: dict[str, tuple[Role, str | None, str | None]] = {
    "zhang": (Role.RESIDENT, None, APPLICANT_ID),
    "li_resident": (Role.RESIDENT, None, OTHER_RESIDENT_ID),
    "officer_wang": (Role.COMMUNITY_OFFICER, "110105001001", None),
    "officer_zhao": (Role.COMMUNITY_OFFICER, "110105001002", None),
    "reviewer_li": (Role.STREET_REVIEWER, "110105001", None),
    "admin": (Role.ADMINISTRATOR, None, None),
    "integrator": (Role.INTEGRATOR, None, None),
}


def _seed(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        district = Org(code="110105", name="朝阳区", level=OrgLevel.DISTRICT)
        street = Org(code="110105001", name="建外街道", level=OrgLevel.STREET, parent=district)
        home = Org(code="110105001001", name="永安里社区", level=OrgLevel.COMMUNITY, parent=street)
        other = Org(code="110105001002", name="光华里社区", level=OrgLevel.COMMUNITY, parent=street)
        session.add_all([district, street, home, other])
        for org in (street, home, other):
            org.check_parent()
        residents = {
            APPLICANT_ID: Resident(id_number=APPLICANT_ID, name="张桂兰", phone="13800138000",
                                   birth_date=date(1938, 1, 1), community=home),
            OTHER_RESIDENT_ID: Resident(id_number=OTHER_RESIDENT_ID, name="李秀英", phone="13900139000",
                                        birth_date=date(1942, 3, 15), community=other),
        }  # fmt: skip
        session.add_all(residents.values())
        orgs = {o.code: o for o in (district, street, home, other)}
        # A cheap hash keeps a test run fast; the production default (scrypt) is slow on purpose.
        password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        for username, (role, org_code, resident_id) in ACCOUNTS.items():
            session.add(
                User(
                    username=username, display_name=username, role=role, password_hash=password_hash,
                    org=orgs[org_code] if org_code else None,
                    resident=residents[resident_id] if resident_id else None,
                )
            )  # fmt: skip
        session.add(
            Item(
                code=ITEM_CODE,
                name="居家养老服务补贴",
                name_en="Home-based elderly care subsidy",
                kind=ItemKind.PUBLIC_SERVICE,
                responsible_level=ResponsibleLevel.STREET,
                statutory_limit=20,
                committed_limit=10,
                limit_unit=TimeUnit.WORKING_DAYS,
                required_materials=[{"code": "hukou", "name": "户口簿"}],
                form_schema=SUBSIDY_FORM_SCHEMA,
                process_id="elderly_care_subsidy",
            )
        )
        deploy(
            session,
            read_sources(bundled_process_files()),
            host_functions(),
            deployed_by="test",
            cache=runtime.engine.cache,
        )


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(instance_path=tmp_path, env="test"), with_celery=False)
    rt.db.create_all()
    _seed(rt)
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


def basic(username: str, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Api:
    """The test client, with every answer checked against openapi.yaml.

    Requests that are meant to be well-formed are checked too (``check_request=True``); the bad
    ones of the refusal tests are not, since refusing them is the point.
    """

    def __init__(self, client: FlaskClient, openapi: OpenAPI, problem_validator: OAS31Validator) -> None:
        self.client = client
        self.openapi = openapi
        self.problem_validator = problem_validator

    def call(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        expect: int,
        check_request: bool = True,
        in_spec: bool = True,
        **kwargs: Any,
    ) -> TestResponse:
        headers = dict(kwargs.pop("headers", {}))
        if user is not None:
            headers.update(basic(user))
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        assert response.status_code == expect, (response.status_code, response.get_data(as_text=True))
        # A request rebuilt for validation: the test client's own request body was consumed by the app.
        request = EnvironBuilder(path=path, method=method, headers=headers, **kwargs).get_request()
        if in_spec:
            if check_request:
                self.openapi.validate_request(WerkzeugOpenAPIRequest(request))
            self.openapi.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))
        else:
            # Paths and methods the document does not have answer with a problem all the same.
            assert response.mimetype == "application/problem+json"
            self.problem_validator.validate(response.get_json())
        if response.status_code >= 400:
            assert response.mimetype == "application/problem+json"
            assert response.get_json()["status"] == response.status_code
        return response

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("POST", path, **kwargs)


@pytest.fixture
def api(app: Flask, openapi: OpenAPI, problem_validator: OAS31Validator) -> Api:
    return Api(app.test_client(), openapi, problem_validator)


# -- a worker, in process ----------------------------------------------------------------------------

_serial = count(1)


def canned_reply(message: OutboxMessage) -> dict[str, Any]:
    """What the government systems answer (shapes as in bench/bare_subsidy.py)."""
    params = message.params
    n = next(_serial)
    if message.operation == "citizen_info.verify_identity":
        return {"match": True, "reason": None}
    if message.operation == "citizen_info.query_person":
        return {
            "id_number": params["id_number"],
            "name": "张桂兰",
            "gender": idnumber.gender(params["id_number"]),
            "birth_date": idnumber.birth_date(params["id_number"]).isoformat(),
            "registered_address": "北京市朝阳区建外街道永安里1号",
            "household": [{"relation": "户主", "name": "张桂兰"}],
        }
    if message.operation == "sms.send_sms":
        return {"sms_id": f"SMS{n:08d}", "accepted": True}
    if message.operation == "egov.submit_case":
        return {"receipt_number": f"ZW{n:010d}", "received_at": "2026-03-02T10:00:00+08:00"}
    if message.operation == "data_exchange.publish_record":
        return {"record_id": f"REC-{params['dataset']}-{n}"}
    raise AssertionError(f"no canned reply for {message.operation}")


def deliver(runtime: Runtime, reply: Callable[[OutboxMessage], dict[str, Any]] = canned_reply) -> list[str]:
    """Answer every pending outbox message and settle it, until the cases wait for people again."""
    done: list[str] = []
    while True:
        with runtime.db.transaction() as session:
            pending = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.settled_at.is_(None), OutboxMessage.status == MessageStatus.PENDING)
                .order_by(OutboxMessage.id)
            ).all()
            for message in pending:
                message.status = MessageStatus.DELIVERED
                message.reply = reply(message)
                message.attempts += 1
                message.delivered_at = utcnow()
            batch = [(m.message_id, m.operation) for m in pending]
        if not batch:
            return done
        for message_id, operation in batch:
            with runtime.db.transaction() as session:
                runtime.engine.settle(session, message_id)
            done.append(operation)


def fail(runtime: Runtime, error: str = "the system did not answer after 5 attempts") -> list[str]:
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


def snapshot(runtime: Runtime) -> dict[str, Any]:
    """Row counts of every table a refused write could touch, and the states that could move."""
    with runtime.db.transaction() as session:
        state: dict[str, Any] = {
            model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Case, CaseEvent, HumanTask, ProcessInstance, OutboxMessage)
        }
        state["cases"] = sorted(session.execute(select(Case.number, Case.status, Case.outcome)))
        state["tasks"] = sorted(session.execute(select(HumanTask.id, HumanTask.status)))
        state["instances"] = sorted(
            session.execute(select(ProcessInstance.id, ProcessInstance.lock_version))
        )
        return state
