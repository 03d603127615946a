"""Vietnamese text helpers: normalisation, accent-insensitive matching keys, sorting.

Standard library only. See docs/domain.md section 7 for the rules these implement.
"""

from __future__ import annotations

import unicodedata
from typing import TypeAlias

__all__ = ["SortKey", "fold", "name_sort_key", "nfc", "vi_sort_key"]

# đ/Đ do not decompose under NFD, so stripping marks leaves them alone; the Icelandic
# eth (U+00D0/U+00F0) looks identical and turns up in pasted text. Curly and modifier
# apostrophes appear in ethnic-minority place names (Cư M’gar) depending on the keyboard.
_FOLD_TABLE = str.maketrans(
    {"đ": "d", "ð": "d", "\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"}
)

# Letters of the Vietnamese alphabet in order; f, j, w, z (loanwords, foreign names)
# slot in where the Latin alphabet puts them. Keyed by NFD spelling so that decomposed
# input is looked up without recomposing. (One precomposed character per letter.)
_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_LETTER_RANK = {unicodedata.normalize("NFD", ch): i for i, ch in enumerate(_ALPHABET)}
_LETTER_RANK["ð"] = _LETTER_RANK["đ"]
_SHAPE_MARKS = frozenset("\u0306\u0302\u031b")  # breve, circumflex, horn: part of the letter
# none < huyền (grave) < hỏi (hook) < ngã (tilde) < sắc (acute) < nặng (dot below)
_TONE_RANK = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}

# Character classes within a syllable: punctuation, then numbers, then letters, then
# anything else (other scripts).
_PUNCT, _DIGITS, _LETTER, _OTHER = range(4)

_Syllable: TypeAlias = tuple[tuple[tuple[int, int], ...], tuple[int, ...]]
SortKey: TypeAlias = tuple[tuple[_Syllable, ...], str]


def nfc(s: str) -> str:
    """Return `s` in NFC with surrounding whitespace stripped and inner runs collapsed."""
    return " ".join(unicodedata.normalize("NFC", s).split())


def fold(s: str) -> str:
    """Return the accent- and case-insensitive matching key for `s`.

    ``fold("Hải Châu") == fold("HAI CHAU") == "hai chau"``; tone-placement variants
    (``hoà``/``hòa``), decomposed input and ``Ð``/``Đ`` lookalikes fold equal.
    """
    # Lower-case the composed form: case mappings are defined on it, and NFC first means
    # NFD and NFC input take the same path.
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFC", s).lower())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.translate(_FOLD_TABLE).split())


def _syllable_key(word: str) -> _Syllable:
    """Split one NFD, lower-case word into (letter ranks, tones in order of appearance)."""
    letters: list[tuple[int, int]] = []
    tones: list[int] = []
    i, n = 0, len(word)
    while i < n:
        base = word[i]
        j = i + 1
        while j < n and unicodedata.combining(word[j]):
            j += 1
        marks = word[i + 1 : j]
        tones.extend(_TONE_RANK[m] for m in marks if m in _TONE_RANK)
        if base.isdecimal():
            # Digit runs compare as numbers, so "Phường 2" sorts before "Phường 10".
            digit = unicodedata.decimal(base)
            if i and word[i - 1].isdecimal():
                letters[-1] = (_DIGITS, letters[-1][1] * 10 + digit)
            else:
                letters.append((_DIGITS, digit))
        elif unicodedata.combining(base):
            pass  # a stray mark with no base letter: only its tone (if any) counts
        else:
            shape = next((m for m in marks if m in _SHAPE_MARKS), "")
            rank = _LETTER_RANK.get(base + shape, _LETTER_RANK.get(base))
            if rank is not None:
                letters.append((_LETTER, rank))
            elif unicodedata.category(base)[0] in "PS":
                letters.append((_PUNCT, ord(base)))
            else:
                letters.append((_OTHER, ord(base)))
        i = j
    # A syllable carries one tone; keeping them in order (not by position) makes
    # tone-placement variants such as "hoà"/"hòa" compare equal here.
    return tuple(letters), tuple(tones)


def vi_sort_key(s: str) -> SortKey:
    """Return a key that sorts strings in Vietnamese alphabetical order.

    Syllable by syllable, as Vietnamese dictionaries do: letters first (a ă â b c d đ …,
    case and tones ignored), then the tone (none, huyền, hỏi, ngã, sắc, nặng) breaks
    ties before the next syllable is looked at. NFC and NFD input give the same key;
    the NFC text is the last resort, so the order is total and deterministic.
    """
    text = nfc(s)
    words = unicodedata.normalize("NFD", text.lower()).split()
    return tuple(_syllable_key(w) for w in words), text


def name_sort_key(full_name: str) -> tuple[SortKey, SortKey]:
    """Return a key that sorts Vietnamese personal names by given name (the last word)."""
    words = nfc(full_name).split(" ")
    return vi_sort_key(words[-1]), vi_sort_key(full_name)
