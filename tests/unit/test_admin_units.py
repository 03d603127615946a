import dataclasses
import json
import unicodedata
from collections import Counter
from importlib.resources import files

import pytest

from bot.text import fold
from storage.admin_units import AdminUnits, Commune, Province, load_units

DA_NANG = "48"
HAI_CHAU_DA_NANG = "20242"  # Phường Hải Châu; there is also Xã Hải Châu (17419) in Nghệ An


@pytest.fixture(scope="module")
def units() -> AdminUnits:
    return load_units()


def all_communes(units: AdminUnits) -> list[Commune]:
    return [c for p in units.provinces for c in p.communes]


def test_official_totals(units: AdminUnits) -> None:
    assert len(units.provinces) == 34
    communes = all_communes(units)
    assert len(communes) == 3321
    assert Counter(c.type for c in communes) == {"Xã": 2621, "Phường": 687, "Đặc khu": 13}
    assert Counter(p.type for p in units.provinces) == {"Tỉnh": 28, "Thành phố": 6}


def test_codes_unique_and_well_formed(units: AdminUnits) -> None:
    p_codes = [p.code for p in units.provinces]
    c_codes = [c.code for c in all_communes(units)]
    assert len(set(p_codes)) == 34
    assert len(set(c_codes)) == 3321
    assert all(len(code) == 2 and code.isdigit() for code in p_codes)
    assert all(len(code) == 5 and code.isdigit() for code in c_codes)
    for p in units.provinces:
        assert all(c.province_code == p.code for c in p.communes)


def test_names_are_nfc_and_consistent(units: AdminUnits) -> None:
    everything: list[Province | Commune] = [*units.provinces, *all_communes(units)]
    for unit in everything:
        for text in (unit.name, unit.type, unit.full_name):
            assert unicodedata.is_normalized("NFC", text)
            assert text == " ".join(text.split())
        assert unit.full_name == f"{unit.type} {unit.name}"
        assert unit.key == fold(unit.name)


def test_data_file_records_provenance() -> None:
    raw = files("storage.data").joinpath("admin_units.json").read_text(encoding="utf-8")
    doc = json.loads(raw)
    assert doc["counts"] == {"provinces": 34, "communes": 3321}
    assert doc["source"].startswith("vietnamadminunits ")
    assert doc["data_version"]
    assert doc["generated_by"] == "storage/data/build_admin_units.py"


def test_lookups(units: AdminUnits) -> None:
    da_nang = units.province(DA_NANG)
    assert (da_nang.name, da_nang.type, da_nang.key) == ("Đà Nẵng", "Thành phố", "da nang")
    hai_chau = units.commune(HAI_CHAU_DA_NANG)
    assert hai_chau.full_name == "Phường Hải Châu"
    assert hai_chau in da_nang.communes
    with pytest.raises(KeyError):
        units.province("99")
    with pytest.raises(dataclasses.FrozenInstanceError):
        hai_chau.name = "x"  # type: ignore[misc]


def test_load_units_is_cached() -> None:
    assert load_units() is load_units()


@pytest.mark.parametrize(
    "query",
    [
        "hai chau",
        "Hải Châu",
        "HAI CHÂU",
        unicodedata.normalize("NFD", "Hải Châu"),
        "  hải   châu ",
        "phuong hai chau",
    ],
)
def test_search_hai_chau(units: AdminUnits, query: str) -> None:
    results = units.search(query)
    # Two communes are called Hải Châu: equal matches go in Vietnamese alphabetical
    # order of province, so Đà Nẵng comes before Nghệ An ("xa" would pick the other).
    assert results[0].code == HAI_CHAU_DA_NANG
    assert results[0].province_code == DA_NANG
    assert all(c.key == "hai chau" for c in results[:2])


def test_search_province_filter(units: AdminUnits) -> None:
    assert [c.code for c in units.search("hai chau", province=DA_NANG)] == [HAI_CHAU_DA_NANG]
    assert [c.code for c in units.search("hai chau", province="40")] == ["17419"]
    assert all(c.province_code == DA_NANG for c in units.search("hoa", province=DA_NANG))
    with pytest.raises(KeyError):
        units.search("hai chau", province="99")


def test_search_ranking(units: AdminUnits) -> None:
    # Exact name before names that merely start with the query.
    results = units.search("hai", limit=50)
    assert results[0].key == "hai" or results[0].key.startswith("hai")
    ranks = [0 if c.key == "hai" else 1 if c.key.startswith("hai") else 2 for c in results]
    assert ranks == sorted(ranks)
    # All words, in any order and as word prefixes.
    assert HAI_CHAU_DA_NANG in [c.code for c in units.search("chau hai")]
    assert HAI_CHAU_DA_NANG in [c.code for c in units.search("ph hai ch", province=DA_NANG)]


def test_search_tone_placement_variant(units: AdminUnits) -> None:
    # The data writes "Hòa"/"Thủy"; users also type "Hoà"/"Thuỷ".
    ung_hoa = units.search("Ứng Hoà")
    assert (ung_hoa[0].full_name, ung_hoa[0].province_code) == ("Xã Ứng Hòa", "01")
    assert units.search("Đàm Thuỷ")[0].full_name == "Xã Đàm Thủy"


def test_search_prefers_typed_accents(units: AdminUnits) -> None:
    # Unaccented "hoa" cannot tell Hoa from Hòa; once the user types the accent, it can.
    assert units.search("hoà")[0].name.startswith("Hòa")
    assert units.search("Hải")[0].name.startswith("Hải")


def test_search_edge_cases(units: AdminUnits) -> None:
    assert units.search("") == []
    assert units.search("   ") == []
    assert units.search("\u0301") == []  # a lone combining mark folds to nothing
    assert units.search("zzzz") == []
    assert len(units.search("a", limit=3)) == 3
    assert units.search("hai chau", limit=0) == []
