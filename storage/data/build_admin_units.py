"""Regenerate storage/data/admin_units.json (development time only).

Run from the repository root:

    .venv/bin/pip install vietnamadminunits   # dev-time only, never a runtime dependency
    .venv/bin/python storage/data/build_admin_units.py

Reads the 34-province table of the SQLite database shipped inside the
`vietnamadminunits` package directly (its Python API pulls in shapely/geopy and may
geocode online; we only want the table). The checks below refuse to write a file that
does not match the official totals (docs/domain.md section 4).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any, NoReturn

PACKAGE = "vietnamadminunits"
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(__file__).resolve().with_name("admin_units.json")
EXPECTED = {"provinces": 34, "communes": 3321}
EXPECTED_TYPES = {"Xã": 2621, "Phường": 687, "Đặc khu": 13}
PROVINCE_TYPES = ("Thành phố", "Tỉnh")


def _fail(message: str) -> NoReturn:
    raise SystemExit(f"build_admin_units: {message}")


def _database() -> Path:
    # find_spec locates the package without importing it (and its heavy dependencies).
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        _fail(f"{PACKAGE} is not installed: .venv/bin/pip install {PACKAGE}")
    db = Path(next(iter(spec.submodule_search_locations))) / "data" / "dataset.db"
    if not db.is_file():
        _fail(f"{db} not found; has the package layout changed?")
    return db


def _split_type(full_name: str, types: tuple[str, ...]) -> tuple[str, str]:
    for kind in types:
        if full_name.startswith(kind + " "):
            return kind, full_name[len(kind) + 1 :]
    _fail(f"unknown unit type in {full_name!r}")


def build() -> dict[str, Any]:
    """Read the upstream database and return the JSON document, after sanity checks."""
    sys.path.insert(0, str(ROOT))  # run as a script, the repository root is not on the path
    from bot.text import fold, nfc

    db = _database()
    version = importlib.metadata.version(PACKAGE)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT provinceCode, province, provinceShort, wardCode, ward, wardShort, wardType"
            " FROM admin_units ORDER BY provinceCode, wardCode"
        ).fetchall()

    provinces: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for p_code, p_full, p_short, w_code, w_full, w_short, w_type in rows:
        p_full, p_short, w_full = nfc(p_full), nfc(p_short), nfc(w_full)
        if p_code not in provinces:
            p_type, p_name = _split_type(p_full, PROVINCE_TYPES)
            if p_name != p_short:
                _fail(f"province {p_code}: {p_full!r} does not end in {p_short!r}")
            provinces[p_code] = {
                "code": p_code,
                "name": p_name,
                "type": p_type,
                "full_name": p_full,
                "key": fold(p_name),
                "communes": [],
            }
        c_type, c_name = _split_type(w_full, tuple(EXPECTED_TYPES))
        if c_name != nfc(w_short):
            _fail(f"commune {w_code}: {w_full!r} does not end in {w_short!r}")
        # Upstream's wardType column contradicts the full name for a few rows; the full
        # name agrees with the NA Standing Committee resolutions and vietnam-provinces,
        # and with it the per-type totals match the official ones.
        if c_type != w_type:
            notes.append(f"{w_code} {w_full}: upstream wardType {w_type!r}, used {c_type!r}")
        provinces[p_code]["communes"].append(
            {
                "code": w_code,
                "name": c_name,
                "type": c_type,
                "full_name": w_full,
                "key": fold(c_name),
            }
        )

    communes = [c for p in provinces.values() for c in p["communes"]]
    counts = {"provinces": len(provinces), "communes": len(communes)}
    if counts != EXPECTED:
        _fail(f"expected {EXPECTED}, upstream has {counts}")
    by_type = Counter(c["type"] for c in communes)
    if by_type != EXPECTED_TYPES:
        _fail(f"expected {EXPECTED_TYPES}, upstream has {dict(by_type)}")
    codes = [c["code"] for c in communes]
    if len(set(codes)) != len(codes):
        _fail("duplicate commune codes")
    for p_code, p in provinces.items():
        if not (len(p_code) == 2 and p_code.isdigit()):
            _fail(f"bad province code {p_code!r}")
        for c in p["communes"]:
            if not (len(c["code"]) == 5 and c["code"].isdigit()):
                _fail(f"bad commune code {c['code']!r}")

    home = (importlib.metadata.metadata(PACKAGE).get_all("Home-page") or [""])[0]
    return {
        "source": (
            f"{PACKAGE} {version} (PyPI, MIT, {home}), table admin_units of "
            f"{PACKAGE}/data/dataset.db; upstream per its README: "
            "danhmuchanhchinh.gso.gov.vn (General Statistics Office codes) "
            "and sapnhap.bando.com.vn"
        ),
        "data_version": f"{PACKAGE} {version}, dataset.db sha256 {digest[:16]}",
        "generated_by": "storage/data/build_admin_units.py",
        "counts": counts,
        "notes": notes,
        "provinces": list(provinces.values()),
    }


def render(doc: dict[str, Any]) -> str:
    """Serialise with one commune per line, so data updates give readable diffs."""

    def dump(value: object) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    head = ",\n".join(f"{dump(k)}:{dump(v)}" for k, v in doc.items() if k != "provinces")
    blocks = []
    for p in doc["provinces"]:
        fields = ",".join(f"{dump(k)}:{dump(v)}" for k, v in p.items() if k != "communes")
        rows = ",\n".join(dump(c) for c in p["communes"])
        blocks.append(f'{{{fields},"communes":[\n{rows}]}}')
    text = "{" + head + ',\n"provinces":[\n' + ",\n".join(blocks) + "]}\n"
    if json.loads(text) != doc:  # the hand-made layout must still be the same JSON
        _fail("rendered JSON does not round-trip")
    return text


def main() -> None:
    doc = build()
    OUTPUT.write_text(render(doc), encoding="utf-8")
    size = OUTPUT.stat().st_size
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {doc['counts']}, {size:,} bytes")
    for note in doc["notes"]:
        print("note:", note)


if __name__ == "__main__":
    main()
