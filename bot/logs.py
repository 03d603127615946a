"""Logging that never carries personal data.

Every record passes a redacting filter (phone numbers, ID numbers, long digit runs such as
chat ids, bot tokens) whatever library emitted it; user text is never logged by our code.
JSON lines, when enabled, carry a hashed conversation key and the case reference so an
operator can follow one conversation without learning who it was.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime

conversation: contextvars.ContextVar[str] = contextvars.ContextVar("conversation", default="")
case_ref: contextvars.ContextVar[str] = contextvars.ContextVar("case_ref", default="")

_PATTERNS = (
    re.compile(r"\b\d{6,}:[A-Za-z0-9_-]{20,}"),  # bot tokens
    re.compile(r"\+?\b\d{8,}\b"),  # phones, ID numbers, chat and user ids
    re.compile(r"\b0\d{2,3}[ .-]\d{3}[ .-]\d{3,4}\b"),  # phones written in groups
    re.compile(r"\+84[ .-]?\d{2,3}[ .-]?\d{3}[ .-]?\d{3,4}\b"),
)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


def conversation_tag(channel: str, chat_id: str, user_id: str, *,
                     keyed: Callable[[str], str]) -> str:
    """A stable tag for a conversation key. ``keyed`` is a keyed hash (the deployment's
    secret): a plain hash of a chat id could be reversed by trying every id."""
    return keyed(f"{channel}\x1f{chat_id}\x1f{user_id}")[:12]


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.conversation = conversation.get()
        record.case_ref = case_ref.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(),
               "level": record.levelname, "logger": record.name,
               "message": record.getMessage()}
        for field in ("conversation", "case_ref"):
            value = getattr(record, field, "")
            if value:
                out[field] = value
        if record.exc_text:
            out["error"] = record.exc_text
        return json.dumps(out, ensure_ascii=False)


def setup(level: str = "INFO", as_json: bool = False) -> None:
    """Configure the root logger once, at start-up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx/aiohttp access lines would carry URLs with tokens and chat ids; aiosqlite's
    # DEBUG lines carry every SQL statement with its values (names, what people typed).
    for noisy in ("httpx", "httpcore", "aiohttp.access", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The scheduler's 5-second tick would log two INFO lines each time it runs.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
