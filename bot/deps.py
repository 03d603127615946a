"""Everything a use case needs, wired once in ``bot.app`` and passed down explicitly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config import Config
from storage.crypto import FieldCipher
from storage.db import Database
from storage.files import FileStore


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Links:
    """Where people can reach the bot; filled in as channels start."""

    telegram_username: str = ""
    web_url: str = ""
    webchat: bool = True  # [web] webchat: without it there is no /chat page to link to

    def telegram_start(self, payload: str) -> str:
        return f"https://t.me/{self.telegram_username}?start={payload}" if self.telegram_username \
            else ""

    def web_start(self, payload: str) -> str:
        return f"{self.web_url}/chat?start={payload}" if self.web_url and self.webchat else ""


@dataclass
class Deps:
    config: Config
    db: Database
    files: FileStore
    cipher: FieldCipher
    clock: Callable[[], datetime] = system_clock
    links: Links = field(default_factory=Links)
    wake: Callable[[], None] = lambda: None  # nudges the delivery dispatcher
    wake_scheduler: Callable[[], None] = lambda: None  # fires due timers now
