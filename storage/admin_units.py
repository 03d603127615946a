"""Vietnam's administrative units since 1 July 2025: 34 provinces, 3,321 communes.

Reads the versioned data file ``storage/data/admin_units.json`` (regenerate it with
``storage/data/build_admin_units.py``). Codes are the statistics-office codes: store
those, never names, which change.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from bot.text import fold, nfc, vi_sort_key

__all__ = ["AdminUnits", "Commune", "Province", "load_units"]


@dataclass(frozen=True, slots=True)
class Commune:
    """A commune-level unit (xã, phường or đặc khu)."""

    code: str  # 5 digits
    name: str  # "Hải Châu"
    type: str  # "Xã" | "Phường" | "Đặc khu"
    full_name: str  # "Phường Hải Châu"
    key: str  # fold(name)
    province_code: str


@dataclass(frozen=True, slots=True)
class Province:
    """A province or centrally-run city, with its communes in code order."""

    code: str  # 2 digits
    name: str
    type: str  # "Tỉnh" | "Thành phố"
    full_name: str
    key: str  # fold(name)
    communes: tuple[Commune, ...]


class AdminUnits:
    """All provinces and communes, with look-up by code and accent-insensitive search."""

    def __init__(self, provinces: tuple[Province, ...], source: str, data_version: str) -> None:
        self.provinces = provinces
        self.source = source
        self.data_version = data_version
        self._by_code = {p.code: p for p in provinces}
        self._communes = {c.code: c for p in provinces for c in p.communes}
        # Per commune: folded full name (so "phuong hai chau" matches too; the name is its
        # suffix), accented full name, and the tie-break order. Computed once because a
        # one-letter query can match thousands of communes.
        self._full_keys = {c.code: fold(c.full_name) for c in self._communes.values()}
        self._accent_keys = {c.code: _accent_key(c.full_name) for c in self._communes.values()}
        order = sorted(
            self._communes.values(),
            key=lambda c: (vi_sort_key(c.name), vi_sort_key(self._by_code[c.province_code].name)),
        )
        self._position = {c.code: i for i, c in enumerate(order)}

    def province(self, code: str) -> Province:
        """Return the province with this 2-digit code; KeyError if there is none."""
        return self._by_code[code]

    def commune(self, code: str) -> Commune:
        """Return the commune with this 5-digit code; KeyError if there is none."""
        return self._communes[code]

    def search(self, text: str, province: str | None = None, limit: int = 10) -> list[Commune]:
        """Find communes whose name matches `text`, ignoring accents, case and spacing.

        Ranked: exact name, then name prefix, then every query word starting a word of
        the name, then every query word anywhere in it; the full name ("Phường Hải
        Châu") counts as a name too. Within a rank, communes whose accents agree with
        accents the user did type come first ("hoà" puts Hòa before Hoa), then
        Vietnamese alphabetical order of name, then of province. `province` (a code)
        restricts the search; an unknown code raises KeyError. A query that folds to
        nothing (blank) returns [].
        """
        query = fold(text)
        if not query or limit <= 0:
            return []
        words = query.split(" ")
        accent_words = _accent_key(text).split(" ")
        pool = self._communes.values() if province is None else self.province(province).communes
        ranked: list[tuple[int, int, Commune]] = []
        for commune in pool:
            full = self._full_keys[commune.code]
            if not all(w in full for w in words):  # implied by every rank: cheap filter
                continue
            if query in (commune.key, full):
                rank = 0
            elif commune.key.startswith(query) or full.startswith(query):
                rank = 1
            elif _words_start(words, full):
                rank = 2
            else:
                rank = 3
            accents = 0 if _words_start(accent_words, self._accent_keys[commune.code]) else 1
            ranked.append((rank, accents, commune))
        ranked.sort(key=lambda r: (r[0], r[1], self._position[r[2].code]))
        return [commune for _, _, commune in ranked[:limit]]


_TONES = frozenset("\u0300\u0309\u0303\u0301\u0323")


def _accent_key(text: str) -> str:
    """Lower-case NFD with each word's tone moved to its end, so placement doesn't matter."""
    words = unicodedata.normalize("NFD", nfc(text).lower()).split(" ")
    return " ".join(
        "".join(ch for ch in w if ch not in _TONES) + "".join(ch for ch in w if ch in _TONES)
        for w in words
    )


def _words_start(query_words: list[str], key: str) -> bool:
    key_words = key.split(" ")
    return all(any(k.startswith(w) for k in key_words) for w in query_words)


@lru_cache(maxsize=1)
def load_units() -> AdminUnits:
    """Parse the packaged data file once and return the shared, read-only result."""
    raw = files("storage.data").joinpath("admin_units.json").read_text(encoding="utf-8")
    doc = json.loads(raw)
    provinces = tuple(
        Province(
            code=p["code"],
            name=p["name"],
            type=p["type"],
            full_name=p["full_name"],
            key=p["key"],
            communes=tuple(
                Commune(
                    code=c["code"],
                    name=c["name"],
                    type=c["type"],
                    full_name=c["full_name"],
                    key=c["key"],
                    province_code=p["code"],
                )
                for c in p["communes"]
            ),
        )
        for p in doc["provinces"]
    )
    return AdminUnits(provinces, source=doc["source"], data_version=doc["data_version"])
