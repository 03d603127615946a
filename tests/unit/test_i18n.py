"""The message catalogues: both languages complete, and every key the code uses exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bot.i18n import LANGUAGES, catalogue, size, t

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for d in ("bot", "handlers", "broadcasts") for p in (ROOT / d).rglob("*.py"))

# A quoted literal, optionally an f-string: group 1 is the f, group 2 the text.
_LIT = r"""(f?)(?:"([^"\n]*)"|'([^'\n]*)')"""
CALLS = [
    re.compile(r"\.t\(\s*" + _LIT),  # ctx.t("…"), self.t("…")
    re.compile(r"(?<![\w.])(?:t|translate)\(\s*[\w.\[\]\"']+\s*,\s*" + _LIT),  # t(lang, "…")
    re.compile(r"(?:FileRejected|InviteError)\(\s*" + _LIT),  # reasons shown with ctx.t
    re.compile(r"""(?:payload|reason)\s*=\s*""" + _LIT),
    re.compile(r"""\bor\s+""" + _LIT + r"""\s*\)"""),  # ctx.t(x or "errors.photo_type")
]


KEY = re.compile(r"[a-z][a-z0-9_]*\.[A-Za-z0-9_.{}']+\Z")


def used_keys() -> list[tuple[str, str, bool]]:
    """(where, key or f-string template, is_template) for every key literal in the code."""
    found = []
    for path in SOURCES:
        text = path.read_text("utf-8")
        for pattern in CALLS:
            for m in pattern.finditer(text):
                is_f, literal = m.group(1) == "f", m.group(2) or m.group(3) or ""
                if not KEY.match(literal):
                    continue  # not a catalogue key (a deep-link payload, a plain word)
                prefix = literal.endswith(".") and text[m.end():].lstrip().startswith("+")
                line = text.count("\n", 0, m.start()) + 1
                found.append((f"{path.relative_to(ROOT)}:{line}",
                              literal + "{}" if prefix else literal,
                              prefix or (is_f and "{" in literal)))
    return found


def template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]*\}", template)
    return re.compile("[A-Za-z0-9_]+".join(re.escape(p) for p in parts) + r"\Z")


def test_both_languages_have_the_same_keys() -> None:
    vi, en = set(catalogue("vi")), set(catalogue("en"))
    assert LANGUAGES == ("vi", "en")
    assert sorted(vi - en) == [], "keys missing in English"
    assert sorted(en - vi) == [], "keys missing in Vietnamese"
    assert len(vi) > 150


def test_both_languages_use_the_same_placeholders() -> None:
    def fields(template: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(template) if f}

    vi, en = catalogue("vi"), catalogue("en")
    differ = {k: (fields(vi[k]), fields(en[k])) for k in vi.keys() & en.keys()
              if fields(vi[k]) != fields(en[k])}
    assert differ == {}


def test_no_text_is_empty_or_untranslated_markup() -> None:
    for lang in LANGUAGES:
        for key, text in catalogue(lang).items():
            assert text.strip(), f"{lang}: {key} is empty"
            # Telegram rejects unbalanced tags; every text is sent as HTML.
            for tag in ("b", "i", "code", "a"):
                opened = len(re.findall(rf"<{tag}[ >]", text))
                assert opened == text.count(f"</{tag}>"), f"{lang}: {key} <{tag}>"


def test_the_scan_finds_the_usual_calls() -> None:
    keys = {k for _, k, _ in used_keys()}
    # One of each call shape, so a broken regex cannot make the next test vacuous.
    for expected in ("onboard.greeting", "errors.stale_button", "errors.photo_too_big",
                     "invite.expired", "errors.internal", "onboard.no_area", "roles.{role}"):
        assert expected in keys or any(k.startswith(expected.split("{")[0]) for k in keys), \
            expected
    assert len(keys) > 120


def test_every_key_used_in_the_code_exists() -> None:
    known = set(catalogue("vi"))
    missing = []
    for where, key, is_template in used_keys():
        if is_template:
            pattern = template_regex(key)
            if not any(pattern.match(k) for k in known):
                missing.append(f"{where}: {key}")
        elif key not in known:
            missing.append(f"{where}: {key}")
    assert missing == []


def test_keys_built_at_run_time_exist() -> None:
    from bot.services import invites
    from bot.services.categories import DEFAULTS
    from bot.web.routes import UI_KEYS
    from handlers.tip_submit import EDITABLE

    known = set(catalogue("vi"))
    wanted = [f"roles.{r}" for r in invites.ROLES]
    wanted += [f"tip.edit_{f}" for f in EDITABLE]
    wanted += [f"tip.when_{k}" for k in ("now", "today", "other")]
    wanted += [f"web.{k}" for k in UI_KEYS]
    wanted += [f"status_name.{s}" for s in ("new", "routed", "acknowledged", "closed")]
    wanted += [f"officer.author_{a}" for a in ("reporter", "staff", "system", "note")]
    assert DEFAULTS  # categories carry their own names, not catalogue keys
    assert sorted(set(wanted) - known) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_text_formats(lang: str) -> None:
    """Each template formats with dummy values (no stray braces)."""
    for key, template in catalogue(lang).items():
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        t(lang, key, **dict.fromkeys(names, "1"))


def test_english_falls_back_to_vietnamese_only_for_unknown_languages() -> None:
    assert t("en", "menu.help") != t("vi", "menu.help")
    assert t("fr", "menu.help") == t("vi", "menu.help")


@pytest.mark.parametrize(("n", "vi", "en"), [
    (10 * 1024 * 1024, "10 MB", "10 MB"),
    (5_000_000, "4,7 MB", "4.7 MB"),  # 4.77 MiB: a limit is never rounded up
    (4096, "4 KB", "4 KB"),
    (1536, "1,5 KB", "1.5 KB"),
    (500, "500 byte", "500 bytes"),
])
def test_sizes_as_people_read_them(n: int, vi: str, en: str) -> None:
    assert (size("vi", n), size("en", n)) == (vi, en)


def test_the_photo_limit_is_named_in_both_languages() -> None:
    assert t("vi", "errors.photo_too_big", max=size("vi", 5_000_000)) == \
        "Ảnh quá lớn. Hãy gửi ảnh không quá 4,7 MB."
    assert t("en", "errors.photo_too_big", max=size("en", 5_000_000)) == \
        "The photo is too large. Send one of at most 4.7 MB."
