"""Deterministic fake residents for the citizen information sandbox (公民信息系统).

Seeded, so every run produces the same people: tests and demos can name them. ID numbers follow
GB 11643-1999 (6-digit region code, birth date, 3-digit sequence whose parity gives the gender:
odd male, even female, then the ISO 7064 MOD 11-2 check character computed by ``stdnum``). Birth
dates spread over 1930-2005 so that many residents qualify for age-based elderly-care items.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from stdnum.cn import ric

SEED = 20240611
MINIMUM_PEOPLE = 240

REGIONS: dict[str, str] = {
    "110105": "北京市朝阳区",
    "110108": "北京市海淀区",
    "310104": "上海市徐汇区",
}
STREETS: dict[str, tuple[str, ...]] = {
    "110105": ("望京街道", "六里屯街道", "八里庄街道", "麦子店街道"),
    "110108": ("中关村街道", "学院路街道", "万寿路街道"),
    "310104": ("天平路街道", "湖南路街道", "枫林路街道"),
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
MALE_GIVEN = tuple("建国 伟 强 军 磊 志强 国华 德明 卫东 海涛 永刚 俊 浩然 子轩 宇航".split())
FEMALE_GIVEN = tuple("秀英 桂英 玉兰 淑珍 丽 静 敏 燕 红梅 秀兰 婷 欣怡 雨涵 佳琪".split())

HEAD, SPOUSE, CHILD, PARENT = "户主", "配偶", "子女", "父母"


@dataclass(frozen=True, slots=True)
class Person:
    id_number: str
    name: str
    gender: str  # "male" | "female", consistent with the 17th digit of the ID number
    birth_date: date
    phone: str
    registered_address: str
    household_id: str
    relation: str  # to the head of household: 户主 / 配偶 / 子女 / 父母

    def age_on(self, day: date) -> int:
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - before_birthday


def id_number(region: str, born: date, sequence: int) -> str:
    body = f"{region}{born:%Y%m%d}{sequence:03d}"
    # stdnum's calc_check_digit ignores the last character it is given: pass a placeholder.
    return body + ric.calc_check_digit(body + "0")


def gender_of(id_no: str) -> str:
    return "male" if int(id_no[16]) % 2 else "female"


# The resident named in documentation and tests: an elderly woman in Chaoyang and her son.
ZHANG_XIUYING = "110105193801012340"
ZHANG_XIUYING_SON = id_number("110105", date(1965, 5, 5), 123)


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - fake data, reproducible on purpose
        self.used: set[str] = {ZHANG_XIUYING, ZHANG_XIUYING_SON}
        self.people: list[Person] = []
        self.households = 0

    def birth(self, year: int) -> date:
        year = min(max(year, 1930), 2005)
        return date(year, 1, 1) + timedelta(days=self.rng.randrange(365))

    def new_id(self, region: str, born: date, gender: str) -> str:
        while True:
            sequence = self.rng.randrange(0, 999)
            if (sequence % 2 == 1) != (gender == "male"):
                sequence += 1
            candidate = id_number(region, born, sequence)
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate

    def phone(self) -> str:
        return self.rng.choice(("13", "15", "18")) + f"{self.rng.randrange(10**9):09d}"

    def given(self, gender: str) -> str:
        return self.rng.choice(MALE_GIVEN if gender == "male" else FEMALE_GIVEN)

    def address(self, region: str) -> str:
        street = self.rng.choice(STREETS[region])
        building, unit = self.rng.randrange(1, 30), self.rng.randrange(1, 6)
        room = self.rng.randrange(101, 1802)
        return f"{REGIONS[region]}{street}{self.rng.randrange(1, 9)}号院{building}号楼{unit}单元{room}室"

    def add(self, id_no: str, name: str, born: date, address: str, household: str, relation: str) -> None:
        self.people.append(Person(id_no, name, gender_of(id_no), born, self.phone(), address, household, relation))

    def household(self) -> None:
        self.households += 1
        region = self.rng.choice(tuple(REGIONS))
        household = f"HH-{region}-{self.households:04d}"
        address = self.address(region)
        head_gender = self.rng.choice(("male", "female"))
        head_born = self.birth(self.rng.randrange(1930, 1981))
        family = self.rng.choice(SURNAMES)
        members = [(head_gender, head_born, family, HEAD)]
        size = self.rng.randrange(2, 5)
        if self.rng.random() < 0.75:
            spouse_gender = "female" if head_gender == "male" else "male"
            spouse_born = self.birth(head_born.year + self.rng.randrange(-5, 6))
            members.append((spouse_gender, spouse_born, self.rng.choice(SURNAMES), SPOUSE))
        if head_born.year >= 1955 and len(members) < size and self.rng.random() < 0.4:
            parent_gender = self.rng.choice(("male", "female"))
            parent_born = self.birth(head_born.year - self.rng.randrange(20, 31))
            members.append((parent_gender, parent_born, family, PARENT))
        while len(members) < size and head_born.year + 22 <= 2005:
            child_born = self.birth(min(head_born.year + self.rng.randrange(22, 36), 2005))
            members.append((self.rng.choice(("male", "female")), child_born, family, CHILD))
        for gender, born, surname, relation in members:
            name = surname + self.given(gender)
            self.add(self.new_id(region, born, gender), name, born, address, household, relation)

    def run(self, minimum: int) -> list[Person]:
        address = "北京市朝阳区望京街道4号院7号楼2单元302室"
        self.add(ZHANG_XIUYING, "张秀英", date(1938, 1, 1), address, "HH-110105-0000", HEAD)
        self.add(ZHANG_XIUYING_SON, "张建国", date(1965, 5, 5), address, "HH-110105-0000", CHILD)
        while len(self.people) < minimum:
            self.household()
        return self.people


@lru_cache(maxsize=1)
def _people() -> tuple[Person, ...]:
    return tuple(_Generator(SEED).run(MINIMUM_PEOPLE))


@lru_cache(maxsize=1)
def _index() -> dict[str, Person]:
    return {p.id_number: p for p in _people()}


def seeded_people() -> list[Person]:
    """The same residents every run (at least 240), households kept together."""
    return list(_people())


def find(id_number: str) -> Person | None:
    return _index().get(id_number)


def household_of(person: Person) -> list[Person]:
    return [p for p in _people() if p.household_id == person.household_id]
