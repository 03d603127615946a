import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text import fold, name_sort_key, nfc, vi_sort_key


def nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


# Vietnamese letters in every case and tone, plus spaces, to exercise the sort key.
VI_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
VI_CHARS = "".join(
    unicodedata.normalize("NFC", base + tone)
    for base in VI_LETTERS + VI_LETTERS.upper()
    for tone in ("", "\u0300", "\u0309", "\u0303", "\u0301", "\u0323")
)
vi_text = st.text(alphabet=VI_CHARS + " ", max_size=20)


# --- nfc -------------------------------------------------------------------------


def test_nfc_composes_and_collapses_whitespace() -> None:
    assert nfc(nfd("  Hải \t Châu\n")) == "Hải Châu"
    assert nfc("a\u00a0\u00a0b") == "a b"  # no-break spaces from pasted text


@given(st.text())
def test_nfc_is_normalised_and_idempotent(s: str) -> None:
    out = nfc(s)
    assert unicodedata.is_normalized("NFC", out)
    assert out == out.strip()
    assert "  " not in out
    assert nfc(out) == out


# --- fold ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    ["Hải Châu", "hai chau", "HAI CHÂU", "  hải   châu ", nfd("Hải Châu"), nfd("HẢI CHÂU")],
)
def test_fold_variants_of_hai_chau(variant: str) -> None:
    assert fold(variant) == "hai chau"


def test_fold_unifies_what_nfc_does_not() -> None:
    assert fold("hoà") == fold("hòa") == "hoa"  # tone placement
    assert fold("Thuỷ") == fold("Thủy")
    assert fold("\u00d0à Nẵng") == fold("\u0110à Nẵng") == "da nang"  # Ð lookalike vs Đ
    assert fold("ðức") == fold("đức") == "duc"
    assert fold("Cư M’gar") == fold("Cư M‘gar") == fold("Cư Mʼgar") == fold("Cư M`gar")
    assert fold("Cư M’gar") == "cu m'gar"


def test_fold_empty_and_blank() -> None:
    assert fold("") == ""
    assert fold(" \t\n ") == ""


@given(st.text())
def test_fold_is_idempotent(s: str) -> None:
    assert fold(fold(s)) == fold(s)


@given(st.text())
def test_fold_ignores_normalisation_form(s: str) -> None:
    assert fold(nfc(s)) == fold(nfd(s))


@given(st.text())
def test_fold_output_is_bare(s: str) -> None:
    out = fold(s)
    assert not any(unicodedata.combining(ch) for ch in out)
    assert not set(out) & set("đĐðÐ’‘ʼ`")
    assert out == out.strip()
    assert "  " not in out


@given(vi_text)
def test_fold_of_vietnamese_is_ascii(s: str) -> None:
    assert fold(s).isascii()
    assert fold(s) == fold(s.upper()) == fold(s.lower())


# --- vi_sort_key -----------------------------------------------------------------


def test_alphabet_order() -> None:
    words = ["Bình", "An", "Ăn", "Đức", "Dũng", "Ân"]
    assert sorted(words, key=vi_sort_key) == ["An", "Ăn", "Ân", "Bình", "Dũng", "Đức"]
    # Python's default order is wrong (Đ sorts after every Latin letter), hence the key.
    assert sorted(words) != sorted(words, key=vi_sort_key)


def test_modified_vowels_follow_their_base() -> None:
    words = ["ư", "u", "ơ", "ô", "o", "ê", "e", "đ", "d", "â", "ă", "a", "v"]
    expected = ["a", "ă", "â", "d", "đ", "e", "ê", "o", "ô", "ơ", "u", "ư", "v"]
    assert sorted(words, key=vi_sort_key) == expected


def test_tone_order() -> None:
    expected = ["ma", "mà", "mả", "mã", "má", "mạ"]
    assert sorted(reversed(expected), key=vi_sort_key) == expected


def test_letters_before_tones() -> None:
    # A tone difference only breaks ties: "mà" < "mb" although "a" < "à".
    assert sorted(["mb", "mà", "ma"], key=vi_sort_key) == ["ma", "mà", "mb"]
    # ...and stacked marks decompose in either order: ặ is a + dot below + breve.
    assert sorted(["ặn", "ằn", "ăn", "an"], key=vi_sort_key) == ["an", "ăn", "ằn", "ặn"]


def test_syllable_by_syllable_like_a_dictionary() -> None:
    assert sorted(["mà", "ma vương", "ma"], key=vi_sort_key) == ["ma", "ma vương", "mà"]
    assert sorted(["Anh", "An Bình", "An"], key=vi_sort_key) == ["An", "An Bình", "Anh"]


def test_numbers_sort_by_value() -> None:
    names = ["Phường 10", "Phường 2", "Phường 1"]
    assert sorted(names, key=vi_sort_key) == ["Phường 1", "Phường 2", "Phường 10"]


def test_case_insensitive_and_tone_placement_adjacent() -> None:
    assert sorted(["bình", "An", "Bình", "an"], key=lambda s: vi_sort_key(s)[0]) == [
        "An",
        "an",
        "bình",
        "Bình",
    ]
    assert vi_sort_key("Hoà")[0] == vi_sort_key("Hòa")[0]


@given(st.text())
def test_sort_key_ignores_normalisation_form(s: str) -> None:
    assert vi_sort_key(nfd(s)) == vi_sort_key(s) == vi_sort_key(nfc(s))


@given(vi_text)
def test_sort_key_primary_ignores_case(s: str) -> None:
    assert vi_sort_key(s.upper())[0] == vi_sort_key(s.lower())[0]


@given(st.lists(vi_text, max_size=8))
def test_sorting_decomposed_input_gives_the_same_order(words: list[str]) -> None:
    assert [nfc(w) for w in sorted(map(nfd, words), key=vi_sort_key)] == [
        nfc(w) for w in sorted(words, key=vi_sort_key)
    ]


# --- name_sort_key ---------------------------------------------------------------


def test_names_sort_by_given_name() -> None:
    names = ["Trần Thị Bình", "Nguyễn Văn An", "Lê Văn Bình", "Phạm Thị Ánh", "Đỗ An"]
    assert sorted(names, key=name_sort_key) == [
        "Đỗ An",
        "Nguyễn Văn An",
        "Phạm Thị Ánh",
        "Lê Văn Bình",
        "Trần Thị Bình",
    ]
    assert name_sort_key("Nguyễn Văn An") < name_sort_key("Trần Thị Bình")
    assert name_sort_key(nfd(" Nguyễn  Văn An ")) == name_sort_key("Nguyễn Văn An")


def test_name_sort_key_single_and_empty() -> None:
    assert name_sort_key("Bình") < name_sort_key("Cường")
    assert name_sort_key("") == (vi_sort_key(""), vi_sort_key(""))
