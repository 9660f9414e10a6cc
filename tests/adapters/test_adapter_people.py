"""The seeded residents: enough of them, valid GB 11643 numbers, coherent households."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date

from stdnum.cn import ric

from adapters.sandbox import people


def test_at_least_200_people_with_valid_unique_ids() -> None:
    residents = people.seeded_people()
    assert len(residents) >= 240
    assert all(ric.is_valid(p.id_number) for p in residents)
    assert len({p.id_number for p in residents}) == len(residents)


def test_same_people_every_run() -> None:
    first = people._Generator(people.SEED).run(people.MINIMUM_PEOPLE)
    second = people._Generator(people.SEED).run(people.MINIMUM_PEOPLE)
    assert first == second == people.seeded_people()


def test_gender_birth_date_and_phone_agree_with_the_id_number() -> None:
    for p in people.seeded_people():
        assert p.gender == ("male" if int(p.id_number[16]) % 2 else "female")
        assert p.id_number[6:14] == p.birth_date.strftime("%Y%m%d")
        assert 1930 <= p.birth_date.year <= 2005
        assert re.fullmatch(r"1[358]\d{9}", p.phone)


def test_many_elderly_residents() -> None:
    today = date(2025, 1, 1)
    ages = [p.age_on(today) for p in people.seeded_people()]
    assert sum(a >= 60 for a in ages) > 60
    assert sum(a >= 80 for a in ages) > 20


def test_households_share_an_address_and_have_one_head() -> None:
    households: defaultdict[str, list[people.Person]] = defaultdict(list)
    for p in people.seeded_people():
        households[p.household_id].append(p)
    for members in households.values():
        assert 2 <= len(members) <= 4
        assert len({m.registered_address for m in members}) == 1
        assert [m.relation for m in members].count(people.HEAD) == 1
        assert {m.relation for m in members} <= {"户主", "配偶", "子女", "父母"}


def test_the_documented_resident_and_her_son() -> None:
    mother = people.find("110105193801012340")
    assert mother is not None
    assert (mother.name, mother.gender, mother.birth_date) == ("张秀英", "female", date(1938, 1, 1))
    son = people.find(people.ZHANG_XIUYING_SON)
    assert son is not None and ric.is_valid(son.id_number)
    assert son.id_number == "110105196505051234"
    assert son.gender == "male" and son.relation == "子女"
    assert son.household_id == mother.household_id
    assert people.find("110105193801012359") is None
