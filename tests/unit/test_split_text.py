"""Splitting long replies: every part fits, and no cut falls inside an HTML tag or entity."""

from __future__ import annotations

import html

import pytest

from bot.channels.base import split_text
from tests.fakes.telegram_api import parse_html


def test_short_text_is_one_part() -> None:
    assert split_text("xin chào", 4096) == ["xin chào"]
    assert split_text("", 4096) == [""]


def test_cuts_prefer_paragraphs_then_lines_then_words() -> None:
    text = "a" * 60 + "\n\n" + "b" * 60
    assert split_text(text, 100) == ["a" * 60, "b" * 60]
    words = " ".join(["từ"] * 100)
    parts = split_text(words, 50)
    assert all(len(p) <= 50 for p in parts)
    assert " ".join(parts) == words


@pytest.mark.parametrize("shift", range(6))
def test_escaped_entities_are_never_cut(shift: int) -> None:
    text = "x" * shift + html.escape("<" * 500 + "&" * 500, quote=False)
    parts = split_text(text, 97)
    assert all(len(p) <= 97 for p in parts)
    assert "".join(parse_html(p)[0] for p in parts) == "x" * shift + "<" * 500 + "&" * 500


@pytest.mark.parametrize("shift", range(0, 40, 3))
def test_tags_are_never_cut(shift: int) -> None:
    link = '<a href="tel:113">113</a> '
    text = "y" * shift + link * 30
    parts = split_text(text, 64)
    for p in parts:
        assert len(p) <= 64
        parse_html(p)  # each part is valid Telegram HTML on its own
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")


def test_a_lone_angle_bracket_in_plain_text_does_not_stall() -> None:
    text = "a < b " + "c" * 300
    parts = split_text(text, 100)
    assert all(0 < len(p) <= 100 for p in parts)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")
