"""Message catalogues: Vietnamese first, English second.

Each language is a folder of TOML files, one per feature (``vi/core.toml``,
``vi/tips.toml`` …) so features add their texts without touching each other's files.
Keys are dotted (``onboard.consent``); values are ``str.format`` templates whose
arguments the caller escapes (see ``bot.domain.messages.esc``). A key defined twice is
an error.
"""

from __future__ import annotations

import math
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

LANGUAGES = ("vi", "en")


def _flatten(prefix: str, node: dict[str, Any], out: dict[str, str]) -> None:
    for k, v in node.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            _flatten(key + ".", v, out)
        else:
            out[key] = str(v)


@lru_cache(maxsize=4)
def catalogue(language: str) -> dict[str, str]:
    """The flat key → template mapping for ``language``."""
    out: dict[str, str] = {}
    folder = resources.files("bot.i18n").joinpath(language)
    for item in sorted(folder.iterdir(), key=lambda f: f.name):
        if not item.name.endswith(".toml"):
            continue
        part: dict[str, str] = {}
        _flatten("", tomllib.loads(item.read_text("utf-8")), part)
        clash = part.keys() & out.keys()
        if clash:
            raise ValueError(f"{language}/{item.name} redefines {sorted(clash)[:3]}")
        out.update(part)
    return out


def t(language: str, key: str, /, **kwargs: Any) -> str:
    """Translate ``key``; English falls back to Vietnamese for a missing key."""
    lang = language if language in LANGUAGES else "vi"
    template = catalogue(lang).get(key)
    if template is None:
        template = catalogue("vi")[key]
    return template.format(**kwargs) if kwargs else template


def size(language: str, n: int) -> str:
    """A byte count as people read it ("10 MB"; "1,5 MB" in Vietnamese), never rounded up.

    Used for limits ("at most …"), so a rounded-up figure would promise too much.
    """
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            text = f"{math.floor(n * 10 / scale) / 10:g}"
            return f"{text.replace('.', ',') if language == 'vi' else text} {unit}"
    return f"{n} byte" if language == "vi" else f"{n} bytes"
