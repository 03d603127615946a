"""What hosts type for a declaration: dates, times, gender, names, nationality, and the
one-line form "Nguyễn Văn An, 01/02/1990, 001090012345, nam" (parts in any order).

Every parser returns None (or a problem code) instead of raising: the step re-asks.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta

from bot.services.people import normalise_phone
from bot.text import fold, nfc

_DATE = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_TIME = re.compile(r"(\d{1,2})\s*(?:[:hg]|giờ)\s*(\d{2})?")
_NAME = re.compile(r"[^\W\d_]+(?:[ '’.\-][^\W\d_]+)*\.?")
_PHONE = re.compile(r"(?:\+84|0)\d{9}")
GENDERS = {"nam": "m", "nu": "f", "male": "m", "female": "f", "m": "m", "f": "f"}
MAX_STAY_DAYS = 730  # temporary residence is registered for at most two years
VISA_TYPES = ("DL", "LD", "DN", "TT", "DH", "HN", "EV", "TRC", "MTT", "KHAC")
# ISO 3166 alpha-2 codes of the usual visitors; folded names in Vietnamese and English.
NATIONALITIES: dict[str, tuple[str, ...]] = {
    "KR": ("han quoc", "korea", "south korea"), "CN": ("trung quoc", "china"),
    "US": ("my", "hoa ky", "usa", "united states", "america"), "JP": ("nhat", "nhat ban",
                                                                      "japan"),
    "TW": ("dai loan", "taiwan"), "RU": ("nga", "russia"), "FR": ("phap", "france"),
    "DE": ("duc", "germany"), "GB": ("anh", "uk", "united kingdom", "britain"),
    "AU": ("uc", "australia"), "TH": ("thai lan", "thailand"), "LA": ("lao", "laos"),
    "KH": ("campuchia", "cambodia"), "IN": ("an do", "india"), "SG": ("singapore",),
    "MY": ("malaysia",), "CA": ("canada",), "PH": ("philippines",), "ID": ("indonesia",),
    "IT": ("y", "italy"), "NL": ("ha lan", "netherlands"), "VN": ("viet nam", "vietnam"),
}


def parse_date(text: str) -> date | None:
    """dd/mm/yyyy, d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy or yyyy-mm-dd."""
    m = _DATE.search(text)
    try:
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        m = _ISO.search(text)
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None
    except ValueError:
        return None


def parse_when(text: str) -> tuple[date, time | None] | None:
    """A date with an optional time after it: "23/11/2026 23:30", "23/11/2026 7h"."""
    day = parse_date(text)
    if day is None:
        return None
    rest = (_DATE.sub(" ", text) if _DATE.search(text) else _ISO.sub(" ", text)).strip()
    m = _TIME.search(rest)
    if not m:
        return day, None
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    return (day, time(hour, minute)) if hour < 24 and minute < 60 else None


def parse_gender(text: str) -> str | None:
    return GENDERS.get(fold(text).strip(" ."))


def parse_name(text: str) -> str | None:
    """The name in NFC, or None when it has digits or symbols or is too short or long."""
    name = nfc(text)
    return name if 2 <= len(name) <= 100 and _NAME.fullmatch(name) else None


def parse_phone(text: str) -> str | None:
    """A Vietnamese number (0… or +84…, 10 digits) or any +country number, in E.164."""
    bare = re.sub(r"[\s.\-()]", "", text)
    ok = _PHONE.fullmatch(bare) or (bare.startswith("+") and bare[1:].isdigit())
    return normalise_phone(bare) if ok else None


def parse_nationality(text: str) -> str | None:
    key = fold(text).strip(" .")
    if re.fullmatch(r"[a-z]{2}", key):
        return key.upper()
    return next((code for code, names in NATIONALITIES.items() if key in names), None)


def birth_problem(day: date, today: date) -> str:
    if day > today:
        return "future"
    return "too_old" if today.year - day.year > 120 else ""


def from_problem(day: date, today: date, back_days: int) -> str:
    if day < today - timedelta(days=back_days):
        return "too_old"
    return "too_far" if day > today + timedelta(days=30) else ""


def to_problem(day: date, start: date) -> str:
    if day < start:
        return "before_from"
    return "too_long" if day > start + timedelta(days=MAX_STAY_DAYS) else ""


def split_line(text: str, foreign: bool = False) -> tuple[dict[str, str], list[str]]:
    """Sort the parts of a one-line guest: name, dob (ISO), id, gender, phone, nat.

    Returns the parts recognised and the ones that were not (shown back to the host).
    """
    out: dict[str, str] = {}
    unknown: list[str] = []
    for part in (p.strip() for p in re.split(r"[,;\n]", text)):
        if not part:
            continue
        day = parse_date(part)
        digits = sum(c.isdigit() for c in part)
        if day is not None and "dob" not in out:
            out["dob"] = day.isoformat()
        elif parse_gender(part) and "gender" not in out:
            out["gender"] = parse_gender(part) or ""
        elif parse_phone(part) and "phone" not in out and ("id" in out or not foreign):
            out["phone"] = parse_phone(part) or ""
        elif digits >= (1 if foreign else 6) and "id" not in out:
            out["id"] = part
        elif foreign and "name" in out and parse_nationality(part) and "nat" not in out:
            out["nat"] = parse_nationality(part) or ""
        elif parse_name(part) and "name" not in out:
            out["name"] = parse_name(part) or ""
        else:
            unknown.append(part)
    return out, unknown
