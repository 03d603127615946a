"""Words of danger in a report, which bring up the 113/114/115 line at once.

Matched word by word (never inside a word), and a word written with accents must carry
the right ones: many Vietnamese words fold to the same bare letters, and the bare forms
of several danger words are everyday words — "nổ" (explode) and "nó" (he), "no" (full);
"dao" (knife) and "đào" (dig), "dạo" (stroll); "đâm" (stab) and "đám" (crowd, as in
"đám cưới"); "cháy" (burn) and "chạy" (run), "ăn chay". Those **ambiguous** words
(ACCENTED) match only as written with their accents, only in a text that uses accents at
all (someone typing "di dao" may mean "đi dạo"), and not inside an EVERYDAY phrase
("nghiên cứu"). People who type without accents are still caught by the **unambiguous**
words and phrases (PLAIN), whose words typed without accents match by their bare
letters: "cuop", "chay nha", "dam nhau" …

Case, NFC/NFD input and where the tone mark sits ("hoà" = "hòa") never matter.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.text import fold

# Unambiguous: typed without accents they still mean danger.
PLAIN = (
    "cướp", "giết", "bắt cóc", "đánh nhau", "đâm nhau", "đâm chém", "chém nhau", "đốt nhà",
    "cháy nhà", "bốc cháy", "hỏa hoạn", "phát nổ", "đánh bom", "bắn súng",
    "cầm súng", "cầm dao", "rút dao", "dao găm", "kêu cứu", "cứu tôi", "cứu với",
    "cứu người", "cấp cứu", "hiếp dâm", "cưỡng hiếp", "đột nhập",
)
# Ambiguous: the bare form is also an everyday word (matched only with the accents) …
ACCENTED = ("cháy", "cứu", "dao", "súng", "đâm", "nổ", "hiếp", "mã tấu")
# … and not inside these everyday phrases ("nghiên cứu" is research, "dao động" varies).
EVERYDAY = (
    "nghiên cứu", "cứu trợ", "cứu tế", "dao động", "đâm ra", "đâm đơn", "súng nước",
    "cháy hàng", "cháy vé", "cháy túi", "cháy nắng", "nổ máy", "bùng nổ", "nổ lực",
)

_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")  # huyền, sắc, ngã, hỏi, nặng
_WORD = re.compile(r"\w+")


def accent_key(word: str) -> str:
    """Lower case with every mark kept, tone last: "Hoà", "hòa" and NFD input agree."""
    nfd = unicodedata.normalize("NFD", unicodedata.normalize("NFC", word).lower())
    nfd = nfd.replace("ð", "đ")  # the Icelandic lookalike of đ, as in bot.text.fold
    tones = "".join(c for c in nfd if c in _TONES)
    return unicodedata.normalize("NFC", "".join(c for c in nfd if c not in _TONES)) + tones


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFC", text))


def _keys(phrase: str) -> tuple[str, ...]:
    return tuple(accent_key(w) for w in phrase.split())


@dataclass(frozen=True)
class _Word:
    key: str  # accent_key
    bare: str  # fold
    marked: bool  # written with accents (or đ)


def _split(text: str) -> list[_Word]:
    out = []
    for w in _words(text):
        key, bare = accent_key(w), fold(w)
        out.append(_Word(key, bare, key != bare))
    return out


def _at(words: list[_Word], i: int, phrase: tuple[str, ...], bare: tuple[str, ...],
        plain: bool) -> bool:
    """Whether ``phrase`` starts at ``words[i]``. A word written with accents must have
    the phrase's accents ("đám chạy" is not "đám cháy"); one written without matches by
    its bare letters, for PLAIN phrases only."""
    for w, key, b in zip(words[i:i + len(phrase)], phrase, bare, strict=True):
        if w.key != key and not (plain and not w.marked and w.bare == b):
            return False
    return True


def _find(words: list[_Word], phrases: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...],
          plain: bool) -> list[tuple[int, int]]:
    return [(i, len(p)) for p, b in phrases for i in range(len(words) - len(p) + 1)
            if _at(words, i, p, b, plain)]


def _table(phrases: tuple[str, ...]) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    return tuple((_keys(p), tuple(fold(p).split())) for p in phrases)


_PLAIN, _ACCENTED, _EVERYDAY = _table(PLAIN), _table(ACCENTED), _table(EVERYDAY)


def looks_urgent(text: str) -> bool:
    """True when the text names a danger (see the module docstring for how)."""
    words = _split(text)
    if _find(words, _PLAIN, plain=True):
        return True
    if not any(w.marked for w in words):
        return False  # typed without accents: an ambiguous word could be anything
    everyday = {j for i, n in _find(words, _EVERYDAY, plain=False) for j in range(i, i + n)}
    return any(not everyday & set(range(i, i + n))
               for i, n in _find(words, _ACCENTED, plain=False))
