"""Development data: the organisation tree, residents, the item catalog and one account per role.

Residents are taken from the citizen-information sandbox, so that identity checks succeed against
it. Idempotent: running it again adds only what is missing.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.config import ensure_defaults
from adapters.sandbox.people import seeded_people
from huiju.i18n import Message, _
from huiju.models import Item, ItemKind, Org, OrgLevel, Resident, ResponsibleLevel, Role, Theme, TimeUnit, User
from workflows_bpmn.definitions import bundled_process_files, deploy, read_sources
from workflows_bpmn.expressions import host_functions

DEMO_PASSWORD = "huiju-demo"  # noqa: S105 - development accounts, printed by `make demo`
DEMO_APPLICANT = "110105193801012340"

ORGS = [
    # code, name, level, parent code, duty phone
    ("110105", "北京市朝阳区", OrgLevel.DISTRICT, None, None),
    ("110105001", "望京街道", OrgLevel.STREET, "110105", "13910500100"),
    ("110105002", "六里屯街道", OrgLevel.STREET, "110105", "13910500200"),
    ("110105001001", "望京西园社区", OrgLevel.COMMUNITY, "110105001", "13910500101"),
    ("110105001002", "花家地社区", OrgLevel.COMMUNITY, "110105001", "13910500102"),
    ("110105002001", "六里屯北社区", OrgLevel.COMMUNITY, "110105002", "13910500201"),
]
COMMUNITIES = [code for code, _n, level, _p, _phone in ORGS if level is OrgLevel.COMMUNITY]


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role
    org_code: str | None
    resident_id_number: str | None = None


ACCOUNTS = [
    DemoAccount("resident-zhang", "张秀英", Role.RESIDENT, None, DEMO_APPLICANT),
    DemoAccount("officer-chaoyang-01", "望京西园社区专干 李敏", Role.COMMUNITY_OFFICER, "110105001001"),
    # A second officer of the demo community: 转办 and 加签 (co-review) need a colleague to go to.
    DemoAccount("officer-chaoyang-03", "望京西园社区专干 刘洋", Role.COMMUNITY_OFFICER, "110105001001"),
    DemoAccount("officer-chaoyang-02", "花家地社区专干 王强", Role.COMMUNITY_OFFICER, "110105001002"),
    DemoAccount("officer-liulitun-01", "六里屯北社区专干 赵静", Role.COMMUNITY_OFFICER, "110105002001"),
    DemoAccount("reviewer-wangjing-01", "望京街道审核 陈建国", Role.STREET_REVIEWER, "110105001"),
    DemoAccount("reviewer-liulitun-01", "六里屯街道审核 周红梅", Role.STREET_REVIEWER, "110105002"),
    DemoAccount("admin", "系统管理员", Role.ADMINISTRATOR, "110105"),
    DemoAccount("integrator", "接口管理员", Role.INTEGRATOR, "110105"),
    # Community services (O2O): the platform operator, providers' staff, and 张秀英's son in Shanghai
    # (a family account: no resident record here; he links to his mother with her consent).
    DemoAccount("operator", "平台运营 刘洋", Role.OPERATOR, "110105"),
    DemoAccount("provider-yiyang", "颐养居家养老服务中心 调度 周慧", Role.PROVIDER, None),
    DemoAccount("provider-leshan", "乐膳社区老年助餐 调度 孙强", Role.PROVIDER, None),
    DemoAccount("provider-wuye", "望京物业 客服 钱伟", Role.PROVIDER, None),
    DemoAccount("provider-anxin", "安心家政 调度 吴芳", Role.PROVIDER, None),
    DemoAccount("family-zhang", "张建国（在上海）", Role.RESIDENT, None),
]


def community_for(id_number: str) -> str:
    """A stable community for a sandbox resident; the demo applicant lives in 望京西园社区."""
    if id_number == DEMO_APPLICANT:
        return COMMUNITIES[0]
    return COMMUNITIES[zlib.crc32(id_number.encode()) % len(COMMUNITIES)]


#: The offices' public service phone and address (服务电话, 办公地址): the portal's footer and the
#: written documents give them to residents.
SERVICE_CONTACTS = {
    "110105": ("010-65094000", "北京市朝阳区日坛北路33号"),
    "110105001": ("010-64722000", "北京市朝阳区望京西园222号"),
    "110105002": ("010-64906000", "北京市朝阳区六里屯北里5号"),
    "110105001001": ("010-64723101", "北京市朝阳区望京西园三区社区服务站"),
    "110105001002": ("010-64723102", "北京市朝阳区花家地西里社区服务站"),
    "110105002001": ("010-64906101", "北京市朝阳区六里屯北里社区服务站"),
}


def seed_orgs(session: Session) -> dict[str, Org]:
    orgs = {o.code: o for o in session.scalars(select(Org))}
    for code, name, level, parent, phone in ORGS:
        if code not in orgs:
            org = Org(code=code, name=name, level=level, parent=orgs[parent] if parent else None, duty_phone=phone)
            org.check_parent()
            session.add(org)
            orgs[code] = org
        contact = SERVICE_CONTACTS.get(code)
        if contact and not orgs[code].service_phone:
            orgs[code].service_phone, orgs[code].address = contact
    session.flush()
    return orgs


def seed_residents(session: Session, orgs: dict[str, Org]) -> int:
    known = set(session.scalars(select(Resident.id_number)))
    added = 0
    for person in seeded_people():
        if person.id_number in known:
            continue
        session.add(
            Resident(
                id_number=person.id_number,
                name=person.name,
                phone=person.phone,
                birth_date=person.birth_date,
                community=orgs[community_for(person.id_number)],
            )
        )
        added += 1
    session.flush()
    return added


def seed_items(session: Session) -> int:
    data = json.loads(resources.files("huiju").joinpath("data/items.json").read_text(encoding="utf-8"))
    known = set(session.scalars(select(Item.code)))
    added = 0
    for entry in data:
        if entry["code"] in known:
            continue
        session.add(
            Item(
                code=entry["code"],
                name=entry["name"],
                name_en=entry["name_en"],
                kind=ItemKind(entry["kind"]),
                responsible_level=ResponsibleLevel(entry["responsible_level"]),
                statutory_limit=entry["statutory_limit"],
                committed_limit=entry["committed_limit"],
                limit_unit=TimeUnit(entry["limit_unit"]),
                required_materials=entry["required_materials"],
                form_schema=entry["form_schema"],
                process_id=entry["process_id"],
                supplement_wait=entry.get("supplement_wait", "P30D"),
                theme=Theme(entry.get("theme", Theme.OTHER)),
                summary=entry.get("summary", {}),
                eligibility=entry.get("eligibility", []),
                steps=entry.get("steps", []),
            )
        )
        added += 1
    session.flush()
    return added


def seed_accounts(session: Session, orgs: dict[str, Org]) -> list[DemoAccount]:
    known = set(session.scalars(select(User.username)))
    added = []
    for account in ACCOUNTS:
        if account.username in known:
            continue
        resident = None
        if account.resident_id_number:
            resident = session.scalars(select(Resident).where(Resident.id_number == account.resident_id_number)).one()
        user = User(
            username=account.username,
            display_name=account.display_name,
            role=account.role,
            org=orgs[account.org_code] if account.org_code else (resident.community if resident else None),
            resident=resident,
        )
        user.set_password(DEMO_PASSWORD)
        session.add(user)
        added.append(account)
    session.flush()
    return added


def deploy_bundled(session: Session, deployed_by: str = "huiju-init", cache: object | None = None) -> list[Message]:
    """Deploy every shipped process (a new version only when its content changed)."""
    done: list[Message] = []
    for path in bundled_process_files():
        result = deploy(session, read_sources([path]), host_functions(), deployed_by=deployed_by, cache=cache)  # type: ignore[arg-type]
        d = result.definition
        fields = {"process_id": d.process_id, "version": d.version}
        if result.created:
            done.append(_("{process_id} v{version}", **fields))
        else:
            done.append(_("{process_id} v{version} (unchanged)", **fields))
    return done


def seed_all(session: Session, sandbox_url: str) -> dict[str, object]:
    from huiju.app.seed_o2o import seed_o2o

    orgs = seed_orgs(session)
    return {
        "residents": seed_residents(session, orgs),
        "items": seed_items(session),
        "accounts": [a.username for a in seed_accounts(session, orgs)],
        "processes": deploy_bundled(session),
        "adapters": [a.system for a in ensure_defaults(session, sandbox_url)],
        "o2o": seed_o2o(session, orgs),
    }
