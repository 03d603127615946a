"""Personal ID numbers (số định danh cá nhân / CCCD) and passport numbers: structure
checks, what the digits say, and the masked form shown in chat (docs/domain.md §3).

A 12-digit number: digits 1–3 the province where the birth was registered (one of the 63
pre-2025 codes; a first digit other than 0 means born abroad), digit 4 century and
gender, digits 5–6 the birth year; no check digit. A structural fault is an error; a
birth year or gender that disagrees with what the host typed is a warning the host may
confirm ("please re-check"), never a rejection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

PROVINCE_CODES = frozenset((
    "001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019", "020",
    "022", "024", "025", "026", "027", "030", "031", "033", "034", "035", "036", "037", "038",
    "040", "042", "044", "045", "046", "048", "049", "051", "052", "054", "056", "058", "060",
    "062", "064", "066", "067", "068", "070", "072", "074", "075", "077", "079", "080", "082",
    "083", "084", "086", "087", "089", "091", "092", "093", "094", "095", "096"))
_SEPARATORS = re.compile(r"[\s.\-_/]+")
_PASSPORT = re.compile(r"[A-Z0-9]{6,12}")


def clean(raw: str) -> str:
    """Drop the spaces, dots and dashes people type inside numbers; upper-case letters."""
    return _SEPARATORS.sub("", raw).upper()


@dataclass(frozen=True)
class IdCheck:
    """``error`` is a problem code (the number is refused); ``warnings`` need a re-check."""

    number: str
    error: str = ""  # empty | cmnd | length | digits | province | century
    warnings: tuple[str, ...] = ()  # year, gender
    birth_year: int | None = None
    female: bool | None = None

    @property
    def ok(self) -> bool:
        return not self.error


def decode(number: str) -> tuple[int, bool]:
    """(birth year, female) from a structurally valid 12-digit number."""
    d4 = int(number[3])
    return (19 + d4 // 2) * 100 + int(number[4:6]), d4 % 2 == 1


def check_cccd(raw: str, birth: date | None = None, gender: str | None = None) -> IdCheck:
    """Check a 12-digit ID number, and its consistency with the declared birth and gender."""
    number = clean(raw)
    if not number:
        return IdCheck(number, "empty")
    if not number.isdigit():
        return IdCheck(number, "digits")
    if len(number) == 9:
        return IdCheck(number, "cmnd")
    if len(number) != 12:
        return IdCheck(number, "length")
    if number[0] == "0" and number[:3] not in PROVINCE_CODES:
        return IdCheck(number, "province")
    if int(number[3]) > 5:  # 2200s and later: nobody alive was born then
        return IdCheck(number, "century")
    year, female = decode(number)
    warnings = []
    if birth is not None and birth.year != year:
        warnings.append("year")
    if gender in ("m", "f") and (gender == "f") != female:
        warnings.append("gender")
    return IdCheck(number, "", tuple(warnings), year, female)


def check_passport(raw: str) -> IdCheck:
    """A passport number: 6–12 letters and digits, at least one digit."""
    number = clean(raw)
    if not number:
        return IdCheck(number, "empty")
    if not _PASSPORT.fullmatch(number) or not any(c.isdigit() for c in number):
        return IdCheck(number, "passport")
    return IdCheck(number)


def mask(number: str) -> str:
    """``001090012345`` → ``0010******45``; short numbers keep two characters each end."""
    head = 4 if len(number) >= 12 else 2 if len(number) >= 6 else 1
    tail = 2 if len(number) > 4 else 1
    return number[:head] + "*" * max(len(number) - head - tail, 1) + number[-tail:]


def hash_key(kind: str, number: str) -> str:
    """The normalised text behind the keyed hash ("seen before" look-ups)."""
    return f"{kind}:{clean(number)}"
