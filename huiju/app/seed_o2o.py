"""Development data of community services (社区服务 O2O): providers (the property company included),
their services, prices, areas and two weeks of time slots, the platform's rules, and a demo family —
张秀英, an elderly mother of 望京西园社区 with an approved subsidy (tier A, ¥600 a month of service
credit), and her son 张建国, who lives in Shanghai and orders for her once his account is linked.
Idempotent: what exists is kept.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.calendar import CHINA
from huiju.db import utcnow
from huiju.models import (
    Entitlement,
    O2OPolicy,
    Org,
    Provider,
    ProviderArea,
    ProviderKind,
    ProviderStaff,
    ProviderStatus,
    Resident,
    Service,
    ServiceCategory,
    ServiceUnit,
    TimeSlot,
    User,
)
from huiju.services.o2o import credit

WANGJING_XIYUAN, HUAJIADI, LIULITUN_BEI = "110105001001", "110105001002", "110105002001"
DEMO_MOTHER = "110105193801012340"  # 张秀英 (also the demo applicant of the subsidy)
DEMO_SON = "family-zhang"
SLOT_DAYS = 14

# code, name, kind, credit code (GB 32100), contact, phone, fee (basis points), communities
PROVIDERS = [
    ("YIYANG", "望京颐养居家养老服务中心", ProviderKind.NONPROFIT, "52110105MA01C3D4EE", "周慧", "13910600001", 300,
     (WANGJING_XIYUAN, HUAJIADI)),
    ("LESHAN", "乐膳社区老年助餐", ProviderKind.COMPANY, "91110105MA01A1B2CU", "孙强", "13910600002", 500,
     (WANGJING_XIYUAN, HUAJIADI, LIULITUN_BEI)),
    ("WJWUYE", "望京物业服务有限公司", ProviderKind.PROPERTY, "91110105MA01E5F6GY", "钱伟", "13910600003", 500,
     (WANGJING_XIYUAN,)),
    ("ANXIN", "安心家政服务有限公司", ProviderKind.COMPANY, "91110105MA01H7J8K1", "吴芳", "13910600004", 800,
     (WANGJING_XIYUAN, HUAJIADI, LIULITUN_BEI)),
]  # fmt: skip

# provider, code, name, English name, category, fen, unit, minutes, credit pays, (start hour:minute, capacity)...
SERVICES = [
    ("YIYANG", "YY-VISIT", "上门探访与生活照料", "Home visit and daily care", ServiceCategory.HOME_CARE, 6000,
     ServiceUnit.VISIT, 60, True, (("09:00", 2), ("14:00", 2))),
    ("YIYANG", "YY-BATH", "上门助浴", "Bathing assistance at home", ServiceCategory.BATHING, 8000, ServiceUnit.VISIT,
     90, True, (("10:00", 1),)),
    ("YIYANG", "YY-HEALTH", "上门健康检查", "Health check at home", ServiceCategory.HEALTH_CHECK, 3000,
     ServiceUnit.VISIT, 30, True, (("09:30", 4),)),
    ("YIYANG", "YY-MEAL", "助餐送餐（午餐）", "Lunch delivered", ServiceCategory.MEAL_DELIVERY, 1500, ServiceUnit.MEAL,
     30, True, (("11:30", 30),)),
    ("LESHAN", "LS-MEAL", "老年营养餐送餐（午餐）", "Nutritious lunch delivered", ServiceCategory.MEAL_DELIVERY, 1500,
     ServiceUnit.MEAL, 30, True, (("11:30", 40), ("17:30", 40))),
    ("WJWUYE", "WY-REPAIR", "室内水电维修", "Plumbing and electrical repairs", ServiceCategory.REPAIR, 5000,
     ServiceUnit.VISIT, 60, False, (("09:00", 3), ("14:00", 3))),
    ("WJWUYE", "WY-HELP", "物业上门帮办（代收代缴、搬运）", "Property staff help at home", ServiceCategory.PROPERTY,
     2000, ServiceUnit.VISIT, 30, False, (("10:00", 4), ("15:00", 4))),
    ("ANXIN", "AX-CLEAN", "居家保洁（适老）", "Home cleaning for older residents", ServiceCategory.HOUSEKEEPING, 4000,
     ServiceUnit.HOUR, 120, True, (("09:00", 2), ("14:00", 2))),
]  # fmt: skip

#: Accounts of the providers' staff (created by huiju.app.seed with the other demo accounts).
STAFF = {"provider-yiyang": "YIYANG", "provider-leshan": "LESHAN", "provider-wuye": "WJWUYE", "provider-anxin": "ANXIN"}


def _slots(service: Service, times: tuple[tuple[str, int], ...], today: date) -> list[TimeSlot]:
    slots = []
    now = utcnow()
    for offset in range(SLOT_DAYS):
        day = today + timedelta(days=offset)
        for start, capacity in times:
            hour, minute = (int(x) for x in start.split(":"))
            begins = datetime.combine(day, time(hour, minute), tzinfo=CHINA)
            if begins <= now:
                continue
            slots.append(TimeSlot(service=service, starts_at=begins, capacity=capacity, booked=0,
                                  ends_at=begins + timedelta(minutes=service.duration_minutes)))  # fmt: skip
    return slots


def seed_o2o(session: Session, orgs: dict[str, Org]) -> list[str]:
    """Providers, services, slots, staff bindings, the rules and the demo family's credit."""
    done: list[str] = []
    known = {p.code: p for p in session.scalars(select(Provider))}
    for code, name, kind, credit_code, contact, phone, fee, areas in PROVIDERS:
        if code in known:
            continue
        provider = Provider(code=code, name=name, kind=kind, credit_code=credit_code, contact_name=contact,
                            phone=phone, status=ProviderStatus.ACTIVE, fee_rate_bp=fee)  # fmt: skip
        provider.areas = [ProviderArea(community_id=orgs[c].id) for c in areas]
        session.add(provider)
        known[code] = provider
        done.append(name)
    session.flush()
    today = utcnow().astimezone(CHINA).date()
    have = set(session.scalars(select(Service.code)))
    for owner, code, name, name_en, category, fen, unit, minutes, by_credit, times in SERVICES:
        if code in have:
            continue
        service = Service(
            provider=known[owner], code=code, name=name, name_en=name_en, category=category, price_fen=fen,
            unit=unit, duration_minutes=minutes, credit_eligible=by_credit, active=True,
        )  # fmt: skip
        session.add(service)
        session.add_all(_slots(service, times, today))
    bound = set(session.scalars(select(ProviderStaff.user_id)))
    for username, code in STAFF.items():
        user = session.scalars(select(User).where(User.username == username)).one_or_none()
        if user is not None and user.id not in bound:
            session.add(ProviderStaff(user_id=user.id, provider_id=known[code].id))
    if session.scalars(select(O2OPolicy)).first() is None:
        session.add(O2OPolicy())
    session.flush()
    mother = session.scalars(select(Resident).where(Resident.id_number == DEMO_MOTHER)).one_or_none()
    if (
        mother is not None
        and session.scalars(select(Entitlement).where(Entitlement.resident_id == mother.id)).first() is None
    ):
        first = today.replace(day=1)
        entitlement = Entitlement(
            resident_id=mother.id, case_id=None, tier="A", monthly_fen=60000, valid_from=first,
            valid_until=credit.add_months(first, 12) - timedelta(days=1),
            note="演示数据：区民政局存量核准的居家养老服务补贴",
        )  # fmt: skip
        session.add(entitlement)
        session.flush()
        credit.top_up_month(session, credit.month_of(today), by="huiju-init")
        done.append(mother.name)
    return done
