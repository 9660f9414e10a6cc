"""Open tasks in bulk, for the inbox benchmark and the inbox tests: offices, residents, cases, process
instances and ready human tasks written with SQLAlchemy Core in large batches (not through the
engine, which would take hours for a million cases), shaped as the engine leaves them.

Tasks are spread over the communities evenly; about 70 % wait for a community officer (intake,
review), the rest for the street (street review); one in ten is claimed by an officer; one in fifty
has no due date (a step without a limit).
"""

from __future__ import annotations

import random
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from stdnum.cn import ric

from huiju.calendar import CHINA
from huiju.models import Case, CaseStatus, Item, Org, OrgLevel, Resident, Role, User
from workflows_bpmn.models import HumanTask, HumanTaskStatus, InstanceStatus, ProcessDefinition, ProcessInstance
from workflows_bpmn.serialization import SERIALIZER_VERSION

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "秀英桂兰玉兰淑珍凤英建国志强国华明德永明秋菊海燕春梅卫东丽娟红梅建华晓东德明文华金凤宝珍"
#: (step, name, role, case status) of the steps whose tasks wait in an inbox.
STEPS: tuple[tuple[str, str, str, CaseStatus], ...] = (
    ("intake", "受理", Role.COMMUNITY_OFFICER.value, CaseStatus.INTAKE),
    ("community_review", "社区审核", Role.COMMUNITY_OFFICER.value, CaseStatus.REVIEW),
    ("street_review", "街道审核", Role.STREET_REVIEWER.value, CaseStatus.STREET_REVIEW),
)
BATCH = 5_000

#: The stored state of a generated instance: empty compressed JSON (the inbox never loads it).
_STATE = zlib.compress(b"{}")


@dataclass
class Offices:
    """Streets and their communities (ids), and the accounts made for some of them."""

    streets: dict[int, list[int]] = field(default_factory=dict)
    officers: dict[int, str] = field(default_factory=dict)  # community id → username
    reviewers: dict[int, str] = field(default_factory=dict)  # street id → username

    @property
    def communities(self) -> list[int]:
        return [c for members in self.streets.values() for c in members]

    def street_of(self, community_id: int) -> int:
        return next(s for s, members in self.streets.items() if community_id in members)


def _next_id(conn: Connection, column: Any) -> int:
    return int(conn.scalar(select(func.coalesce(func.max(column), 0))) or 0) + 1


def id_number(serial: int) -> str:
    """A valid resident ID number (GB 11643) of Dongcheng district (none of the sandbox's seeded people
    lives there), distinct for each serial."""
    born = date(1930, 1, 1) + timedelta(days=serial // 900)
    body = f"110101{born:%Y%m%d}{serial % 900 + 100:03d}"
    return body + str(ric.calc_check_digit(body + "0"))  # stdnum reads all but the last character


def add_offices(
    conn: Connection, streets: int, communities_per_street: int, *, code: str = "8", password_hash: str = ""
) -> Offices:
    """A district with ``streets`` streets of ``communities_per_street`` communities each; with a
    ``password_hash``, an officer account per community and a reviewer per street too."""
    org_id = _next_id(conn, Org.id)
    district = org_id
    rows: list[dict[str, Any]] = [
        {"id": district, "code": f"{code}0", "name": f"测试区{code}", "level": OrgLevel.DISTRICT, "parent_id": None}
    ]
    offices = Offices()
    next_org = district + 1
    for s in range(streets):
        street = next_org
        next_org += 1
        rows.append({"id": street, "code": f"{code}1{s:04d}", "name": f"第{s + 1}街道", "level": OrgLevel.STREET,
                     "parent_id": district})  # fmt: skip
        offices.streets[street] = []
        for c in range(communities_per_street):
            community = next_org
            next_org += 1
            rows.append({"id": community, "code": f"{code}1{s:04d}{c:03d}", "name": f"第{s + 1}街道第{c + 1}社区",
                         "level": OrgLevel.COMMUNITY, "parent_id": street})  # fmt: skip
            offices.streets[street].append(community)
    conn.execute(insert(Org), rows)
    if password_hash:
        users = []
        for street, members in offices.streets.items():
            offices.reviewers[street] = f"bench-reviewer-{street}"
            users.append({"username": offices.reviewers[street], "display_name": f"街道审核{street}",
                          "role": Role.STREET_REVIEWER, "org_id": street, "password_hash": password_hash})  # fmt: skip
            for community in members:
                offices.officers[community] = f"bench-officer-{community}"
                users.append({"username": offices.officers[community], "display_name": f"社区专干{community}",
                              "role": Role.COMMUNITY_OFFICER, "org_id": community,
                              "password_hash": password_hash})  # fmt: skip
        conn.execute(insert(User), users)
    return offices


def add_residents(conn: Connection, offices: Offices, per_community: int, rng: random.Random) -> dict[int, list[int]]:
    """``per_community`` residents in every community: community id → resident ids."""
    first = _next_id(conn, Resident.id)
    serial = first
    rows: list[dict[str, Any]] = []
    found: dict[int, list[int]] = {}
    now = datetime.now(UTC)
    for community in offices.communities:
        found[community] = []
        for _ in range(per_community):
            name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2))
            number = id_number(serial)
            rows.append({"id": serial, "id_number": number, "name": name, "phone": f"139{serial:08d}",
                         "birth_date": ric.get_birth_date(number), "community_id": community,
                         "created_at": now})  # fmt: skip
            found[community].append(serial)
            serial += 1
    for chunk in _chunks(rows):
        conn.execute(insert(Resident), chunk)
    return found


def _chunks(rows: Sequence[dict[str, Any]], size: int = BATCH) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


@dataclass
class TaskFactory:
    """Writes open tasks, each with its case and process instance, in batches."""

    conn: Connection
    offices: Offices
    residents: dict[int, list[int]]
    rng: random.Random
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    items: list[int] = field(default_factory=list)
    definition_id: int = 0

    def __post_init__(self) -> None:
        self.items = list(self.conn.scalars(select(Item.id).order_by(Item.id)))
        self.definition_id = int(self.conn.scalar(select(func.min(ProcessDefinition.id))) or 0)
        if not self.items or not self.definition_id:
            raise RuntimeError("seed the items and deploy the processes first")
        self._case = _next_id(self.conn, Case.id)
        self._instance = _next_id(self.conn, ProcessInstance.id)

    def add(self, n: int, conn: Connection | None = None) -> None:
        """``n`` more open tasks, through ``conn`` (by default the connection the factory was made on)."""
        conn = conn or self.conn
        communities = self.offices.communities
        for start in range(0, n, BATCH):
            instances: list[dict[str, Any]] = []
            cases: list[dict[str, Any]] = []
            tasks: list[dict[str, Any]] = []
            for i in range(start, min(n, start + BATCH)):
                community = communities[i % len(communities)]
                self._one(community, instances, cases, tasks)
            conn.execute(insert(ProcessInstance), instances)
            conn.execute(insert(Case), cases)
            conn.execute(insert(HumanTask), tasks)

    def _one(self, community: int, instances: list[Any], cases: list[Any], tasks: list[Any]) -> None:
        rng = self.rng
        case_id, instance_id = self._case, self._instance
        self._case += 1
        self._instance += 1
        street = self.offices.street_of(community)
        step, name, role, status = STEPS[0 if rng.random() < 0.45 else 1 if rng.random() < 0.45 else 2]
        received = self.now - timedelta(minutes=rng.randrange(60 * 24 * 30))
        committed = (received + timedelta(days=rng.randrange(3, 25))).astimezone(CHINA).date()
        due = None if rng.random() < 0.02 else datetime.combine(committed, time(17, 30), tzinfo=CHINA)
        claimed = None
        if rng.random() < 0.1:
            claimed = self.offices.officers.get(community) if role == Role.COMMUNITY_OFFICER.value else None
            claimed = claimed or f"colleague-{community}"
        instances.append({"id": instance_id, "definition_id": self.definition_id, "process_id": "elderly_care_subsidy",
                          "status": InstanceStatus.RUNNING, "outcome": None,
                          "context": {"case_id": case_id, "community_id": community, "street_id": street},
                          "serialized": _STATE, "serializer_version": SERIALIZER_VERSION, "next_timer_due": due,
                          "created_at": received, "updated_at": received, "lock_version": 1})  # fmt: skip
        cases.append({"id": case_id, "number": f"HB{case_id:012d}", "item_id": rng.choice(self.items),
                      "applicant_id": rng.choice(self.residents[community]), "community_id": community,
                      "status": status, "outcome": None, "form_data": {}, "process_instance_id": instance_id,
                      "submitted_by": "bench", "submitted_at": received, "updated_at": received,
                      "committed_due": committed, "statutory_due": committed + timedelta(days=10),
                      "due_provisional": False, "paused_days": 0})  # fmt: skip
        tasks.append({"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "instance_id": instance_id,
                      "case_id": case_id, "step": step, "name": name, "lane": role, "role": role,
                      "community_id": community, "street_id": street, "resident_id": None, "assignee": claimed,
                      "status": HumanTaskStatus.READY, "decisions": ["accept", "refuse"], "properties": {},
                      "created_at": received, "due_at": due})  # fmt: skip
