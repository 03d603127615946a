"""The one typed, frozen configuration tree, read from TOML with environment overrides.

Built once at start-up and passed down explicitly. Every key is documented in
``config.example.toml``. ``BINHYEN_<SECTION>__<KEY>`` environment variables override
the file, so secrets need not live in it.
"""

from __future__ import annotations

import base64
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_PREFIX = "BINHYEN_"


class ConfigError(Exception):
    """A configuration problem, phrased as one line naming the file and the key."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_url(value: str, schemes: tuple[str, ...]) -> str:
    if not value:
        return value
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ValueError(f"not a valid URL (expected {'/'.join(schemes)}://host…): {value!r}")
    return value.rstrip("/")


class DatabaseConfig(_Section):
    url: str = ""  # empty: SQLite file in bot.data_dir
    pool_size: int = Field(default=10, ge=1, le=200)
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return v

    @property
    def is_sqlite(self) -> bool:
        return not self.url or self.url.startswith("sqlite")


class TelegramConfig(_Section):
    token: str = ""
    api_url: str = "https://api.telegram.org/bot"
    file_url: str = "https://api.telegram.org/file/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str = ""
    webhook_secret: str = ""

    _u1 = field_validator("api_url", "file_url")(lambda v: _check_url(v, ("http", "https")))
    _u2 = field_validator("webhook_url")(lambda v: _check_url(v, ("https", "http")))

    @property
    def enabled(self) -> bool:
        return bool(self.token)


class ZaloConfig(_Section):
    token: str = ""
    api_url: str = "https://bot-api.zaloplatforms.com/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str = ""
    webhook_secret: str = ""

    _u1 = field_validator("api_url")(lambda v: _check_url(v, ("http", "https")))
    _u2 = field_validator("webhook_url")(lambda v: _check_url(v, ("https", "http")))

    @property
    def enabled(self) -> bool:
        return bool(self.token)


class WebConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = ""
    session_secret: str = ""
    webchat: bool = True

    _u = field_validator("public_url")(lambda v: _check_url(v, ("http", "https")))


class BotConfig(_Section):
    language: Literal["vi", "en"] = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"
    data_dir: str = "data"
    notice_version: str = "2026-01"
    province: str = ""  # a 2-digit code: residents then only pick their commune
    demo: bool = False

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _check_key(value: str) -> str:
    if not value:
        return value
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii") + b"=" * (-len(value) % 4))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError("not base64 (generate one with `binhyen init`)") from exc
    if len(raw) != 32:
        raise ValueError("must be 32 random bytes in base64 (generate one with `binhyen init`)")
    return value


class SecurityConfig(_Section):
    data_key: str = ""  # base64 of 32 random bytes; encrypts ID and passport numbers
    old_data_keys: tuple[str, ...] = ()  # kept during a key rotation

    @field_validator("data_key")
    @classmethod
    def _key(cls, v: str) -> str:
        return _check_key(v)

    @field_validator("old_data_keys", mode="before")
    @classmethod
    def _old_from_env(cls, v: Any) -> Any:
        # From the environment the list arrives as one string: "KEY1,KEY2".
        return tuple(k for k in re.split(r"[\s,]+", v) if k) if isinstance(v, str) else v

    @field_validator("old_data_keys")
    @classmethod
    def _old(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_key(k) for k in v)


class LimitsConfig(_Section):
    global_per_second: float = Field(default=30, gt=0)
    per_chat_per_second: float = Field(default=1, gt=0)
    group_per_minute: float = Field(default=20, gt=0)
    zalo_per_second: float = Field(default=10, gt=0)
    photo_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    photos_per_report: int = Field(default=5, ge=0, le=10)
    paid_broadcast: bool = False  # Telegram allow_paid_broadcast: up to 1000/s, in Stars


class TipsConfig(_Section):
    digest_time: str = "07:30"  # local time of the leaders' daily digest of overdue cases

    @field_validator("digest_time")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        h, sep, m = v.partition(":")
        if not (sep and h.isdigit() and m.isdigit() and int(h) < 24 and int(m) < 60):
            raise ValueError(f"expected HH:MM, got {v!r}")
        return v

    @property
    def digest_at(self) -> time:
        h, _, m = self.digest_time.partition(":")
        return time(int(h), int(m))


class PrivacyConfig(_Section):
    complete_days: int = Field(default=15, ge=1, le=20)  # law: complete within 10–20 days


class RetentionConfig(_Section):
    processed_updates_days: int = Field(default=7, ge=1)
    deliveries_days: int = Field(default=90, ge=1)
    webchat_days: int = Field(default=365, ge=1)
    relay_after_close_days: int = Field(default=90, ge=0)
    purge_time: str = "03:15"

    _t = field_validator("purge_time")(lambda v: TipsConfig._hhmm(v))


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_lines: bool = False


class ArrivalsConfig(_Section):
    """Stay declarations (see docs/arrivals.md)."""

    digest_time: str = "07:00"  # local time of the officers' daily list of guests
    retention_days: int = Field(default=365, ge=1)  # kept this long after the stay ended
    foreigner_hours: int = Field(default=12, ge=1, le=48)  # 24 in remote areas
    draft_reminder_minutes: int = Field(default=120, ge=10)  # before the deadline
    late_days_back: int = Field(default=365, ge=1)  # oldest start date accepted

    _t = field_validator("digest_time")(lambda v: TipsConfig._hhmm(v))

    @property
    def digest_at(self) -> time:
        h, _, m = self.digest_time.partition(":")
        return time(int(h), int(m))


class BroadcastsConfig(_Section):
    """Crime-prevention broadcasts (see docs/broadcasts.md)."""

    quiet_start: str = "21:30"  # local time; non-urgent sends wait until quiet_end
    quiet_end: str = "06:30"
    leaders_need_approval: bool = False  # officers' drafts always need a leader
    grace_minutes: int = Field(default=60, ge=0)  # a missed slot is still sent this late

    _t = field_validator("quiet_start", "quiet_end")(lambda v: TipsConfig._hhmm(v))


class RunConfig(_Section):
    roles: tuple[Literal["web", "worker", "scheduler"], ...] = ("web", "worker", "scheduler")
    failover_seconds: float = Field(default=15, ge=1)  # a dead leader is replaced within this
    heartbeat_seconds: float = Field(default=2, gt=0, le=60)  # workers' beat (bot.workers)
    lease_seconds: float = Field(default=60, ge=1)  # a dead worker's claimed rows come back


class ConsoleConfig(_Section):
    """The staff web console (see docs/console.md)."""

    session_hours: float = Field(default=12, gt=0, le=24 * 30)  # a sign-in lasts this long
    link_minutes: int = Field(default=10, ge=1, le=60)  # a one-time sign-in link expires


class ApiConfig(_Section):
    """The read-only open API and the public feeds (Open311 GeoReport v2, CAP 1.2)."""

    rate_per_minute: float = Field(default=60, gt=0)  # sustained requests per key
    burst: int = Field(default=20, ge=1)  # requests a key may make at once
    publisher: str = ""  # who publishes the feeds (CAP senderName); empty: "Bình Yên"
    contact: str = ""  # an e-mail or address for questions about the feeds


class Config(_Section):
    """The whole configuration; ``source`` is the file it came from (for messages)."""

    database: DatabaseConfig = DatabaseConfig()
    telegram: TelegramConfig = TelegramConfig()
    zalo: ZaloConfig = ZaloConfig()
    web: WebConfig = WebConfig()
    bot: BotConfig = BotConfig()
    security: SecurityConfig = SecurityConfig()
    limits: LimitsConfig = LimitsConfig()
    tips: TipsConfig = TipsConfig()
    logging: LoggingConfig = LoggingConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    retention: RetentionConfig = RetentionConfig()
    run: RunConfig = RunConfig()
    arrivals: ArrivalsConfig = ArrivalsConfig()
    broadcasts: BroadcastsConfig = BroadcastsConfig()
    console: ConsoleConfig = ConsoleConfig()
    api: ApiConfig = ApiConfig()
    source: str = ""

    @model_validator(mode="after")
    def _needs(self) -> Config:
        for name, ch in (("telegram", self.telegram), ("zalo", self.zalo)):
            if ch.enabled and ch.mode == "webhook":
                if not ch.webhook_secret:
                    raise _KeyError(name, "webhook_secret", "required when mode = \"webhook\"")
                if not ch.webhook_url:
                    raise _KeyError(name, "webhook_url", "required when mode = \"webhook\"")
        if not self.security.data_key:
            raise _KeyError("security", "data_key",
                            "missing (generate one with `binhyen init`, or set "
                            "BINHYEN_SECURITY__DATA_KEY)")
        return self

    @property
    def data_path(self) -> Path:
        base = Path(self.source).parent if self.source else Path.cwd()
        return (base / self.bot.data_dir).resolve()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite+aiosqlite:///{self.data_path / 'binhyen.db'}"


class _KeyError(ValueError):
    def __init__(self, section: str, key: str, problem: str) -> None:
        super().__init__(problem)
        self.where = f"[{section}] {key}"
        self.problem = problem


def env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """``BINHYEN_TELEGRAM__TOKEN=x`` → ``{"telegram": {"token": "x"}}``."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name or name == "BINHYEN_CONFIG":
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
        out.setdefault(section, {})[key] = value
    return out


def _merge(base: dict[str, Any], over: dict[str, dict[str, Any]]) -> dict[str, Any]:
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for section, values in over.items():
        target = merged.setdefault(section, {})
        if isinstance(target, dict):
            target.update(values)
        else:
            merged[section] = values
    return merged


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    where = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else (loc[0] if loc else "")
    ctx_err = err.get("ctx", {}).get("error")
    if isinstance(ctx_err, _KeyError):
        return f"{ctx_err.where}: {ctx_err.problem}"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key" if len(loc) > 1 else "unknown section"
    return f"{where}: {msg}"


def build_config(data: dict[str, Any], environ: Mapping[str, str] | None = None,
                 source: str = "") -> Config:
    """Validate a parsed TOML mapping (plus environment overrides) into a :class:`Config`."""
    merged = _merge(data, env_overrides(os.environ if environ is None else environ))
    merged["source"] = source
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(f"{source or '<config>'}: {_describe(exc)}") from None


def load_config(path: str | os.PathLike[str] | None,
                environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the TOML file at ``path`` (``None``: defaults plus environment)."""
    if path is None:
        return build_config({}, environ)
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the config file ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    return build_config(data, environ, source=str(p.resolve()))
