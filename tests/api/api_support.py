"""Shared data and helpers of the API tests (imported by conftest.py and the test modules).

A small module of its own rather than ``from conftest import ...``: several test folders have a
conftest.py, and which one Python would find under that name depends on collection order.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date
from typing import Any

from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_schema_validator import OAS31Validator
from werkzeug.test import EnvironBuilder, TestResponse

from huiju.models import (
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
from huiju.passwords import hash_password
from huiju.runtime import Runtime
from workflows_bpmn.definitions import bundled_process_files, deploy, read_sources
from workflows_bpmn.expressions import host_functions

#: What the ``deliver``, ``fail`` and ``snapshot`` fixtures of conftest.py give.
Calls = Callable[[], list[str]]
Snapshot = Callable[[], dict[str, Any]]

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


def seed(runtime: Runtime) -> None:
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
        password_hash = hash_password(PASSWORD)  # one hash for every account: made once
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
        for path in bundled_process_files():  # each shipped process on its own, as `huiju init` does
            deploy(session, read_sources([path]), host_functions(), deployed_by="test", cache=runtime.engine.cache)


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
        # English unless a test asks for another language (or for none: pass Accept-Language=None).
        headers = {"Accept-Language": "en", **kwargs.pop("headers", {})}
        headers = {k: v for k, v in headers.items() if v is not None}
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
