from __future__ import annotations

from datetime import date

import pytest

from huiju import idnumber
from huiju.errors import InputError
from huiju.web.problems import to_problem

VALID = "110105193801012340"  # 北京市朝阳区, born 1938-01-01, sequence 234, check digit 0


def test_valid_number_is_returned_normalized() -> None:
    assert idnumber.validate(VALID) == VALID
    assert idnumber.validate(" 110105 19380101 2340 ") == VALID


def test_normalize_upper_cases_x_and_folds_full_width() -> None:
    assert idnumber.normalize("11010519491231002x") == "11010519491231002X"
    assert idnumber.normalize("１１０１０５１９３８０１０１２３４０\u3000") == VALID


def test_x_check_digit_is_accepted_in_either_case() -> None:
    # 1101051949123100 + 2 -> the MOD 11-2 check digit of these 17 digits is 10, written X.
    assert idnumber.validate("11010519491231002x") == "11010519491231002X"


def test_wrong_check_digit_names_the_expected_digit() -> None:
    with pytest.raises(InputError, match=r"check digit .* is 1, but the first 17 digits give 0") as info:
        idnumber.validate("110105193801012341")
    assert info.value.details["reason"] == "checksum"
    assert "110105193801012341" not in info.value.message


def test_wrong_length() -> None:
    with pytest.raises(InputError, match="has 18 characters, this one has 17") as info:
        idnumber.validate("11010519380101234")
    assert info.value.details["reason"] == "length"


def test_first_generation_15_digit_number_is_refused_explicitly() -> None:
    with pytest.raises(InputError, match="15-digit first-generation"):
        idnumber.validate("110105380101234")


def test_letters() -> None:
    with pytest.raises(InputError, match="character 5 is 'A'") as info:
        idnumber.validate("1101A5193801012340")
    assert info.value.details["reason"] == "format"
    with pytest.raises(InputError, match="last character .* digit or X, not 'Y'"):
        idnumber.validate("11010519380101234Y")


def test_impossible_birth_date() -> None:
    # 1938-02-31, with a correct check digit so that the date check is what fails.
    with pytest.raises(InputError, match="birth date 1938-02-31 .* does not exist") as info:
        idnumber.validate("110105193802312345")
    assert info.value.details["reason"] == "birth_date"


def test_birth_date_in_the_future() -> None:
    with pytest.raises(InputError, match="is in the future"):
        idnumber.validate("110105209901012341")


def test_unknown_region_code() -> None:
    with pytest.raises(InputError, match="region code 999999 .* not an administrative division") as info:
        idnumber.validate("999999193801012346")
    assert info.value.details["reason"] == "region"


def test_birth_date_and_gender() -> None:
    assert idnumber.birth_date(VALID) == date(1938, 1, 1)
    assert idnumber.gender(VALID) == "female"  # 17th digit 4 is even
    assert idnumber.gender("11010519491231002X") == "female"  # 17th digit 2
    assert idnumber.gender("110105193801012359") == "male"  # 17th digit 5 is odd


def test_birth_date_and_gender_refuse_invalid_numbers() -> None:
    with pytest.raises(InputError):
        idnumber.birth_date("110105193801012341")
    with pytest.raises(InputError):
        idnumber.gender("11010519380101234")


def test_mask() -> None:
    assert idnumber.mask(VALID) == "110105********2340"
    assert idnumber.mask(" 11010519491231002x") == "110105********002X"
    assert idnumber.mask("12345") == "*****"


def test_error_is_a_problem_body() -> None:
    with pytest.raises(InputError) as info:
        idnumber.validate("123")
    body = to_problem(info.value)
    assert body["status"] == 400
    assert body["errors"] == {"field": "id_number", "reason": "length"}
