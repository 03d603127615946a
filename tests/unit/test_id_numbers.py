"""ID numbers (docs/domain.md §3), what hosts type, and the legal deadline (§2)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services import arrival_input as inp
from bot.services import id_numbers as ids
from bot.services.arrival_deadline import arrival_moment, deadline

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=HCM).astimezone(UTC)


# --- structure -------------------------------------------------------------------------

def test_the_63_legacy_province_codes() -> None:
    assert len(ids.PROVINCE_CODES) == 63
    assert {"001", "048", "079", "096"} <= ids.PROVINCE_CODES
    assert not {"003", "097", "000"} & ids.PROVINCE_CODES


def test_a_consistent_number_passes_and_decodes() -> None:
    check = ids.check_cccd("001090012345", date(1990, 2, 1), "m")
    assert check.ok and check.warnings == () and check.number == "001090012345"
    assert (check.birth_year, check.female) == (1990, False)
    assert ids.decode("048301004321") == (2001, True)
    assert ids.decode("079500000001") == (2100, True)  # 2100s female: digit 5


@pytest.mark.parametrize(("raw", "error"), [
    ("00109001234", "length"),  # 11 digits
    ("0010900123456", "length"),  # 13 digits
    ("00109001234A", "digits"),  # a letter
    ("001O90012345", "digits"),  # the letter O for a zero
    ("025195123", "cmnd"),  # the old 9-digit CMND
    ("003090012345", "province"),  # 003 is no province
    ("097090012345", "province"),
    ("001690012345", "century"),  # 2200s: nobody alive
    ("", "empty"),
])
def test_structural_faults_are_errors(raw: str, error: str) -> None:
    check = ids.check_cccd(raw)
    assert not check.ok and check.error == error


def test_separators_are_ignored_and_foreign_codes_accepted() -> None:
    assert ids.check_cccd(" 001 090-012.345 ").number == "001090012345"
    assert ids.check_cccd("101090012345").ok  # first digit ≠ 0: born abroad


def test_birth_year_and_gender_mismatches_are_warnings_not_errors() -> None:
    year = ids.check_cccd("001090012345", date(1991, 2, 1), "m")
    assert year.ok and year.warnings == ("year",)
    gender = ids.check_cccd("001090012345", date(1990, 2, 1), "f")
    assert gender.ok and gender.warnings == ("gender",)
    both = ids.check_cccd("048301004321", date(1901, 1, 1), "m")
    assert both.warnings == ("year", "gender")


@given(code=st.sampled_from(sorted(ids.PROVINCE_CODES)), year=st.integers(1900, 2099),
       female=st.booleans(), rest=st.integers(0, 999_999))
def test_any_well_formed_number_decodes_to_its_year_and_gender(code: str, year: int,
                                                               female: bool, rest: int) -> None:
    d4 = (year // 100 - 19) * 2 + int(female)
    number = f"{code}{d4}{year % 100:02d}{rest:06d}"
    check = ids.check_cccd(number, date(year, 6, 1), "f" if female else "m")
    assert check.ok and check.warnings == ()
    assert ids.decode(number) == (year, female)


def test_masks_and_passports() -> None:
    assert ids.mask("001090012345") == "0010******45"
    assert ids.mask("C1234567") == "C1****67"
    assert ids.check_passport("c 123 4567").number == "C1234567"
    assert ids.check_passport("ABCDEFG").error == "passport"  # no digit
    assert ids.check_passport("C12").error == "passport"
    assert ids.hash_key("cccd", "001 090 012 345") == "cccd:001090012345"


# --- what hosts type ---------------------------------------------------------------------

@pytest.mark.parametrize("text", ["01/02/1990", "1/2/1990", "01-02-1990", "1.2.1990",
                                  "1990-02-01", " sinh 01/02/1990 "])
def test_dates_in_the_usual_forms(text: str) -> None:
    assert inp.parse_date(text) == date(1990, 2, 1)


def test_impossible_dates_and_times() -> None:
    assert inp.parse_date("31/02/1990") is None
    assert inp.parse_date("hôm qua") is None
    assert inp.parse_when("22/11/2026 23:30") == (date(2026, 11, 22), time(23, 30))
    assert inp.parse_when("22/11/2026 7h") == (date(2026, 11, 22), time(7, 0))
    assert inp.parse_when("22/11/2026") == (date(2026, 11, 22), None)
    assert inp.parse_when("22/11/2026 25:00") is None


def test_names_genders_phones_nationalities() -> None:
    decomposed = unicodedata.normalize("NFD", "  Nguyễn   Văn An ")
    assert inp.parse_name(decomposed) == "Nguyễn Văn An"
    assert unicodedata.is_normalized("NFC", inp.parse_name(decomposed) or "")
    assert inp.parse_name("An 123") is None and inp.parse_name("A") is None
    assert inp.parse_gender("Nữ") == inp.parse_gender("nu") == "f"
    assert inp.parse_gender("NAM") == inp.parse_gender("male") == "m"
    assert inp.parse_phone("0912 345 678") == "+84912345678"
    assert inp.parse_phone("001090012345") is None
    assert inp.parse_nationality("Hàn Quốc") == inp.parse_nationality("kr") == "KR"
    assert inp.parse_nationality("Narnia") is None


def test_one_line_parts_in_any_order() -> None:
    parts, unknown = inp.split_line("nam, 001090012345, Nguyễn Văn An, 01/02/1990, "
                                    "0912345678")
    assert parts == {"gender": "m", "id": "001090012345", "name": "Nguyễn Văn An",
                     "dob": "1990-02-01", "phone": "+84912345678"}
    assert unknown == []
    parts, unknown = inp.split_line("An, 01/02/1990, ???")
    assert parts == {"name": "An", "dob": "1990-02-01"} and unknown == ["???"]
    parts, _ = inp.split_line("John Smith, 05/06/1985, C1234567, male, USA", foreign=True)
    assert parts == {"name": "John Smith", "dob": "1985-06-05", "id": "C1234567",
                     "gender": "m", "nat": "US"}


def test_date_sanity() -> None:
    today = date(2026, 11, 23)
    assert inp.birth_problem(date(2027, 1, 1), today) == "future"
    assert inp.birth_problem(date(1890, 1, 1), today) == "too_old"
    assert inp.from_problem(date(2024, 1, 1), today, 365) == "too_old"
    assert inp.from_problem(date(2027, 1, 1), today, 365) == "too_far"
    assert inp.from_problem(date(2026, 11, 20), today, 365) == ""
    assert inp.to_problem(date(2026, 11, 22), today) == "before_from"
    assert inp.to_problem(date(2029, 1, 1), today) == "too_long"
    assert inp.to_problem(today, today) == ""


# --- the deadline (Asia/Ho_Chi_Minh) -----------------------------------------------------

def test_daytime_arrival_is_due_at_23_the_same_day() -> None:
    d = deadline(local(2026, 11, 23, 10), foreign=False, tz=HCM)
    assert d.at == local(2026, 11, 23, 23) and not d.early_morning


def test_arrival_after_23_is_due_at_8_next_morning() -> None:
    d = deadline(local(2026, 11, 23, 23, 30), foreign=False, tz=HCM)
    assert d.at == local(2026, 11, 24, 8)
    d = deadline(local(2026, 12, 31, 23, 5), foreign=False, tz=HCM)  # across the year
    assert d.at == local(2027, 1, 1, 8)


def test_small_hours_arrival_is_due_at_23_and_reminded_at_once() -> None:
    d = deadline(local(2026, 11, 23, 2), foreign=False, tz=HCM)
    assert d.at == local(2026, 11, 23, 23) and d.early_morning
    assert not deadline(local(2026, 11, 23, 8), foreign=False, tz=HCM).early_morning


def test_foreigners_within_12_hours_or_as_configured() -> None:
    arrived = local(2026, 11, 23, 22)
    assert deadline(arrived, foreign=True, tz=HCM).at == local(2026, 11, 24, 10)
    assert deadline(arrived, foreign=True, tz=HCM, foreign_hours=24).at == \
        local(2026, 11, 24, 22)


def test_arrival_moment_defaults() -> None:
    now = local(2026, 11, 23, 10)
    assert arrival_moment(date(2026, 11, 23), None, now, HCM) == now
    assert arrival_moment(date(2026, 11, 22), time(23, 30), now, HCM) == \
        local(2026, 11, 22, 23, 30)
    assert arrival_moment(date(2026, 11, 22), None, now, HCM) == local(2026, 11, 22, 12)
