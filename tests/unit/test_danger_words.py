"""Danger words (bot.services.danger): ambiguous words match only with their accents,
unambiguous words and phrases also without; case, NFC/NFD and tone placement never matter."""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.services.danger import ACCENTED, EVERYDAY, PLAIN, accent_key, looks_urgent
from bot.text import fold

# Everyday words, among them the look-alikes of the ambiguous danger words: nó/no/nợ
# (nổ), đào/dạo/đạo (dao), đám/đầm/dám (đâm), chạy/chay/chảy (cháy), cừu/cựu (cứu),
# sung/sưng (súng); "hòa"/"hoà" for tone placement.
EVERYDAY_WORDS = (
    "nó", "no", "nợ", "đào", "dạo", "đạo", "đám", "đầm", "dám", "chạy", "chay", "chảy",
    "cừu", "cựu", "sung", "sưng", "hội", "đi", "thấy", "xe", "đường", "đêm", "hôm",
    "qua", "phố", "chợ", "mương", "cưới", "giỗ", "lớn", "ồn", "quá", "hòa", "hoà", "bình",
    "chiến", "binh", "ăn", "quả", "cây", "Nam", "ở", "hẻm", "số", "bảy", "trước", "cổng",
)
PLAIN_FOLDED = {tuple(fold(p).split()) for p in PLAIN}


def test_the_everyday_vocabulary_cannot_spell_an_unambiguous_phrase():
    """The precondition of the properties below: no word or pair of words of the
    vocabulary folds to one of the PLAIN phrases."""
    words = [fold(w) for w in EVERYDAY_WORDS]
    singles = {(w,) for w in words}
    pairs = set(itertools.product(words, repeat=2))
    assert not (singles | pairs) & PLAIN_FOLDED
    assert not {w for p in EVERYDAY for w in p.split()} & set(EVERYDAY_WORDS)


everyday = st.lists(st.sampled_from(EVERYDAY_WORDS), min_size=1, max_size=12)


def variants(text: str) -> list[str]:
    """The same text as people's keyboards send it."""
    nfd = unicodedata.normalize("NFD", text)
    moved = text.replace("òa", "oà").replace("óa", "oá").replace("ỏa", "oả")
    return [text, text.upper(), text.capitalize(), nfd, moved, f"{text}!", f"({text})"]


@given(everyday)
def test_everyday_words_never_raise_the_alarm(words):
    text = " ".join(words)
    assert not any(looks_urgent(v) for v in variants(text)), text
    bare = fold(text)
    assert not looks_urgent(bare), bare


@given(everyday, st.sampled_from(ACCENTED), st.integers(min_value=0, max_value=12))
def test_an_ambiguous_word_with_its_accents_is_caught(words, danger, at):
    words = [*words[:at], danger, *words[at:]]
    text = " ".join(words)
    # "dao" has no accent of its own: the text must show the writer types accents.
    assume(any(accent_key(w) != fold(w) for w in words))
    assert all(looks_urgent(v) for v in variants(text)), text


@given(everyday, st.sampled_from(ACCENTED), st.integers(min_value=0, max_value=12))
def test_an_ambiguous_word_typed_without_accents_is_not(words, danger, at):
    bare = fold(" ".join([*words[:at], danger, *words[at:]])).split()
    # Next to some words it becomes an unambiguous phrase ("dam chay" is "đám cháy").
    assume(not any(tuple(bare[i:i + 2]) in PLAIN_FOLDED for i in range(len(bare))))
    text = " ".join(bare)
    assert not looks_urgent(text), text


@given(everyday, st.sampled_from(PLAIN), st.integers(min_value=0, max_value=12),
       st.booleans())
def test_an_unambiguous_phrase_is_caught_with_or_without_accents(words, phrase, at, bare):
    text = " ".join([*words[:at], phrase, *words[at:]])
    if bare:
        text = fold(text)
    assert all(looks_urgent(v) for v in variants(text)), text


@pytest.mark.parametrize("text", [
    "Nó đi đào mương với thằng Nam",
    "Đám cưới nhà bên ồn quá",
    "Tối qua đi dạo thấy xe chạy rất nhanh",
    "Nhà bên ăn chay, no nê rồi mới về",
    "Đề nghị nghiên cứu lắp thêm đèn đường",
    "Giá phòng trọ dao động từ 2 đến 3 triệu",
    "Hàng cháy hàng từ sáng",
    "Thanh niên nổ máy xe rú ga lúc nửa đêm",
    "Chân nó sưng to",
    "toi di dao pho thay no dang chay",
    "dam cuoi nha ben on qua",
    "Cựu chiến binh trong tổ dân phố",
    "Hiệp hội phụ nữ phường họp tối nay",
    "Cả đám chạy tán loạn khi trời mưa",  # not "đám cháy": the accents say so
])
def test_ordinary_reports(text):
    assert not looks_urgent(text)


@pytest.mark.parametrize("text", [
    "Có cướp ở đầu hẻm, hai người cầm dao",
    "CHÁY NHÀ ở số 7 Trần Phú",
    "Có tiếng nổ lớn ở kho",
    "Nó bị đâm ở cổng chợ",
    "Có người mang dao ở đầu ngõ",
    "Cứu!",
    "Cháy rồi",
    "Thấy súng trong xe",
    "co nguoi chay nha o so 7",
    "hai nhom dam nhau truoc quan",
    "cuop o dau hem",
    "co nguoi cam dao",
    "nghe tieng keu cuu",
    "Ð\u00e2m nhau",  # a pasted lookalike of Đ
])
def test_danger(text):
    assert looks_urgent(text)
