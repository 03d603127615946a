"""The data subject's copy: JSON (complete), CSV and XLSX (one row per fact)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from openpyxl import Workbook


def to_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def rows(data: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(section, item, field, value) for every fact, nested lists flattened."""
    for section, value in data.items():
        if isinstance(value, dict):
            for field, v in value.items():
                yield section, "", field, "" if v is None else str(v)
        elif isinstance(value, list):
            for i, item in enumerate(value, 1):
                if isinstance(item, dict):
                    for field, v in item.items():
                        if isinstance(v, list):
                            for j, sub in enumerate(v, 1):
                                for f2, v2 in (sub.items() if isinstance(sub, dict)
                                               else [("value", sub)]):
                                    yield section, f"{i}.{j}", f"{field}.{f2}", str(v2)
                        else:
                            yield section, str(i), field, "" if v is None else str(v)
                else:
                    yield section, str(i), "value", str(item)


HEADER = ("section", "item", "field", "value")


def to_csv(data: dict[str, Any]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADER)
    writer.writerows(rows(data))
    # A BOM so spreadsheet programs open Vietnamese text correctly.
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(data: dict[str, Any]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "data"
    ws.append(HEADER)
    for row in rows(data):
        ws.append(row)
        for cell in ws[ws.max_row]:
            # Text a person typed ("=…") stays text: never a formula in their copy.
            if cell.data_type == "f":
                cell.data_type = "s"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
