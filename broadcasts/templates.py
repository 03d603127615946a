"""Notice texts: the shipped Jinja2 library and leaders' own texts, both sandboxed.

Every template runs in Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` with
``StrictUndefined`` and autoescaping, so a variable can never inject markup and a typo
(``{{ hotlin }}``) is an error at preview rather than an empty gap in 10,000 messages.
A leader's free text is itself a template (``{{ hotline }}`` works in it); its literal
parts are escaped for the markup subset. Any problem raises :class:`TemplateProblem`
with a message fit to show the author; nothing is sent.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from bot.domain.messages import esc, to_plain

SOURCE_LIMIT = 3000  # characters of a leader's text
TEXT_LIMIT = 4000  # characters of a rendered notice (Telegram: 4096 after entities)
CAPTION_LIMIT = 1000  # with a photo (Telegram captions: 1024)
_JINJA = re.compile(r"({{.*?}}|{%.*?%}|{#.*?#})", re.S)


class TemplateProblem(ValueError):
    """A template that cannot be rendered; ``str()`` says why (shown at preview)."""


@dataclass(frozen=True)
class Entry:
    name: str
    topic: str
    cap: str  # CAP category
    title_vi: str
    title_en: str

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_vi


@lru_cache(maxsize=1)
def library() -> dict[str, Entry]:
    """The shipped templates, in catalogue order."""
    raw = tomllib.loads(resources.files("broadcasts.library").joinpath("library.toml")
                        .read_text("utf-8"))
    return {name: Entry(name, v["topic"], v["cap"], v["vi"], v["en"]) for name, v in raw.items()}


def topics() -> list[str]:
    """Topics residents can choose (the free-text "general" topic always reaches them)."""
    return [e.topic for e in library().values() if e.topic != "general"]


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=True,
                                keep_trailing_newline=False)


@lru_cache(maxsize=64)
def _shipped_source(name: str, lang: str) -> str:
    if name not in library():
        raise TemplateProblem(f"unknown template {name!r}")
    return resources.files("broadcasts.library").joinpath(f"{name}.{lang}.j2").read_text("utf-8")


def escape_literals(source: str) -> str:
    """Escape ``< > &`` in a leader's text, leaving ``{{ … }}`` and ``{% … %}`` alone."""
    return "".join(part if _JINJA.fullmatch(part) else esc(part)
                   for part in _JINJA.split(source))


def _render(source: str, context: dict[str, Any]) -> str:
    try:
        return _env().from_string(source).render(**context).strip()
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"line {exc.lineno}: {exc.message}") from None
    except TemplateError as exc:  # undefined names, sandbox violations
        raise TemplateProblem(str(exc.message or exc)) from None
    except (ArithmeticError, TypeError, ValueError, OverflowError) as exc:
        raise TemplateProblem(f"{type(exc).__name__}: {exc}") from None


def render(name: str, lang: str, context: dict[str, Any], own_text: str = "") -> str:
    """The notice body for one language; ``own_text`` is the author's text (free notices)."""
    values = dict(context)
    if name == "notice":
        if not own_text.strip():
            raise TemplateProblem("the notice has no text")
        if len(own_text) > SOURCE_LIMIT:
            raise TemplateProblem(f"the text is {len(own_text)} characters, over {SOURCE_LIMIT}")
        values["text"] = Markup(_render(escape_literals(own_text), values))  # noqa: S704
    body = _render(_shipped_source(name, lang), values)
    if len(to_plain(body)) > TEXT_LIMIT:
        raise TemplateProblem(f"the notice is {len(to_plain(body))} characters, over "
                              f"{TEXT_LIMIT}")
    return body


def check(name: str, own_text: str = "", note: str = "") -> None:
    """Render with sample values in both languages; raises :class:`TemplateProblem`."""
    sample = {"area": "Phường Mẫu", "commune": "Phường Mẫu", "hotline": "0236 3822 000",
              "date": "01/01/2026", "expires": "", "note": note}
    for lang in ("vi", "en"):
        render(name, lang, sample, own_text)
