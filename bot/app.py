"""Wiring in one place: config → database → services → engine → channels → aiohttp app.

Nothing is built at import time. Long-lived resources live in the app's
``cleanup_ctx`` so they are opened at start-up and closed on shutdown in order.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

from aiohttp import web

from bot.channels.base import Channel
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_logging import quiet_payload_logs
from bot.channels.webchat import WebChatChannel
from bot.channels.webchat_bus import Listener
from bot.channels.zalo import ZaloChannel
from bot.config import Config
from bot.deps import Deps, system_clock
from bot.leadership import LOCK_SCHEDULER, LOCK_TELEGRAM_POLLING, LOCK_ZALO_POLLING, Leadership
from bot.metrics import Metrics
from bot.services import case_actions, categories, handover, privacy
from bot.web.api import add_api_routes
from bot.web.console import add_console_routes
from bot.web.links import Signer, file_route
from bot.web.ops import add_ops_routes
from bot.web.routes import ChatPage, add_routes
from bot.workers import Workers
from broadcasts.dispatcher import Dispatcher, Hooks
from broadcasts.scheduler import Scheduler
from handlers.engine import Engine
from handlers.registry import build_routes
from storage.crypto import FieldCipher
from storage.db import Database, make_engine
from storage.files import FileStore

ALL_ROLES = frozenset({"web", "worker", "scheduler"})
log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """A clear, one-line reason the app cannot start."""


@dataclass
class Runtime:
    deps: Deps
    engine: Engine
    webchat: WebChatChannel
    dispatcher: Dispatcher
    scheduler: Scheduler
    metrics: Metrics
    telegram: TelegramChannel | None = None
    zalo: ZaloChannel | None = None
    channels: dict[str, Channel] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    leaders: list[Leadership] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    workers: Workers | None = None  # PostgreSQL worker: its share of the bot's limits

    def _lead(self, key: int, name: str, gain: Callable[[], Awaitable[None]],
              loss: Callable[[], Awaitable[None]]) -> None:
        leadership = Leadership(self.deps.db.engine, key, name, gain, loss,
                                retry=self.deps.config.run.failover_seconds / 3)
        leadership.start()
        self.leaders.append(leadership)

    def start_intake(self, roles: frozenset[str]) -> None:
        """Polling, for the web role: exactly one process polls each platform."""
        if "web" in roles and self.telegram is not None and self.telegram.polls:
            self._lead(LOCK_TELEGRAM_POLLING, "telegram-polling", self.telegram.start_polling,
                       self.telegram.stop_polling)
        if "web" in roles and self.zalo is not None and self.zalo.polls:
            self._lead(LOCK_ZALO_POLLING, "zalo-polling", self.zalo.start_polling,
                       self.zalo.stop_polling)

    def start_background(self, roles: frozenset[str]) -> None:
        """Deliveries (worker role) and timers (scheduler role, one leader at a time)."""
        if "worker" in roles:
            if self.deps.db.is_postgres:
                self._share_limits(roles)
            self.tasks.append(asyncio.create_task(self.dispatcher.run(), name="dispatcher"))
        if "scheduler" in roles:
            async def gain() -> None:
                self.metrics.scheduler_leader.set(1)
                self.scheduler.start()

            async def loss() -> None:
                self.metrics.scheduler_leader.set(0)
                self.scheduler.stop()

            self._lead(LOCK_SCHEDULER, "scheduler", gain, loss)

    def _share_limits(self, roles: frozenset[str]) -> None:
        """Join the live workers: pace at this worker's share of each channel's global
        rate and claim only this worker's lanes of chats (bot.workers)."""
        pacers = [(p, p.per_second) for ch in self.channels.values()
                  if (p := getattr(ch, "pacer", None)) is not None]

        def share(n: int) -> None:
            for pacer, rate in pacers:
                pacer.set_rate(rate / n)
            self.metrics.workers.set(n)

        self.workers = Workers(self.deps.db, self.dispatcher.name, ",".join(sorted(roles)),
                               heartbeat=self.deps.config.run.heartbeat_seconds, on_share=share)
        self.dispatcher.lanes = self.workers.lanes
        self.workers.start()

    async def stop_background(self) -> None:
        """Stop taking work; finish (or hand back) the claimed deliveries; give up
        leaderships; leave the live workers."""
        if self.tasks or self.leaders:
            log.info("stopping: no new work; finishing what this process holds")
        for leadership in self.leaders:
            await leadership.stop()
        self.leaders.clear()
        self.dispatcher.stop()
        for task in self.tasks:
            await task
        self.tasks.clear()
        if self.workers is not None:
            await self.workers.stop()
            self.workers = None
            log.info("stopped: deliveries recorded or handed back; left the live workers")


def delivery_hooks() -> Hooks:
    # An unreachable officer (403) never strands a tip: every notice about a case passes
    # it on (bot.services.handover).
    return Hooks(sent={"case_notify": case_actions.on_notify_sent},
                 unreachable={"case_notify": handover.on_notify_unreachable,
                              "sos_alert": handover.on_notify_unreachable,
                              "case_relay": handover.on_relay_unreachable,
                              "case_escalate": handover.on_escalate_unreachable,
                              "digest": handover.on_digest_unreachable})


RUNTIME = web.AppKey("runtime", Runtime)


def _single_process_lock(config: Config) -> IO[Any] | None:
    """SQLite serves one process: refuse a second one instead of corrupting state."""
    if not config.database_url.startswith("sqlite"):
        return None
    config.data_path.mkdir(parents=True, exist_ok=True)
    handle = open(config.data_path / "binhyen.lock", "a+")  # noqa: SIM115 - held for the run
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StartupError(
            f"another Bình Yên process is already using {config.data_path} — SQLite serves one "
            "process; use PostgreSQL to run several") from None
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


async def build_runtime(config: Config, *, clock: Callable[[], datetime] | None = None,
                        check_schema: bool = True) -> Runtime:
    db = Database(make_engine(config.database_url, pool_size=config.database.pool_size,
                              echo=config.database.echo))
    if check_schema:
        try:
            await db.check_schema()
        except Exception:
            await db.close()
            raise
    files = FileStore(config.data_path / "files", config.limits.photo_max_bytes)
    deps = Deps(config=config, db=db, files=files,
                cipher=FieldCipher(config.security.data_key, config.security.old_data_keys),
                clock=clock or system_clock)
    deps.links.web_url = config.web.public_url or f"http://{config.web.host}:{config.web.port}"
    deps.links.webchat = config.web.webchat
    async with db.uow() as s:
        await categories.ensure_defaults(s)
    metrics = Metrics()
    engine = Engine(deps, build_routes(), metrics=metrics)
    signer = Signer(config.web.session_secret, "")
    webchat = WebChatChannel(db, files, signer, deps.clock)
    webchat.engine = engine
    webchat.bus = db.is_postgres  # producers NOTIFY; web processes listen (see create_app)
    channels: dict[str, Channel] = {"web": webchat}
    dispatcher = Dispatcher(db, channels, files, deps.clock, hooks=delivery_hooks(),
                            lease=timedelta(seconds=config.run.lease_seconds))
    deps.wake = dispatcher.wake
    scheduler = Scheduler(deps, dispatcher.wake, digest_at=config.tips.digest_at)
    deps.wake_scheduler = scheduler.nudge
    rt = Runtime(deps=deps, engine=engine, webchat=webchat, dispatcher=dispatcher,
                 scheduler=scheduler, metrics=metrics, channels=channels)
    if config.telegram.enabled:
        quiet_payload_logs()  # PTB's DEBUG lines carry message text and ID numbers
        rt.telegram = TelegramChannel(config, engine, files)
        channels["telegram"] = rt.telegram
    if config.zalo.enabled:
        rt.zalo = ZaloChannel(config, engine, db, files, deps.clock)
        channels["zalo"] = rt.zalo
    return rt


def create_app(config: Config, *, clock: Callable[[], datetime] | None = None,
               demo_people: list[dict[str, str]] | None = None,
               background: bool = True, roles: frozenset[str] = ALL_ROLES
               ) -> web.Application:
    """The one aiohttp application: web chat, webhooks, health.

    ``roles`` picks what this process does (web intake, delivery worker, scheduler);
    ``background=False`` leaves the dispatcher and scheduler to the caller (tests drive
    them step by step with a controllable clock).
    """
    app = web.Application(client_max_size=24 * 1024 * 1024)

    async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
        lock = _single_process_lock(config)
        rt = await build_runtime(config, clock=clock)
        app[RUNTIME] = rt
        try:
            if rt.telegram is not None:
                await rt.telegram.start(intake="web" in roles)
                rt.deps.links.telegram_username = rt.telegram.username
            if rt.zalo is not None:
                await rt.zalo.start(intake="web" in roles)
            if "web" in roles and config.web.webchat and rt.deps.db.is_postgres:
                bus = Listener(config.database_url, rt.webchat.push_stored)
                await bus.start()
                rt.closers.append(bus.stop)
            rt.start_intake(roles)
            if background:
                rt.start_background(roles)
            yield
        finally:
            await rt.stop_background()
            for close in rt.closers:
                await close()
            if rt.telegram is not None:
                await rt.telegram.stop()
            if rt.zalo is not None:
                await rt.zalo.stop()
            await rt.deps.db.close()
            if lock is not None:
                lock.close()

    async def telegram_webhook(request: web.Request) -> web.StreamResponse:
        tg = request.app[RUNTIME].telegram
        if tg is None or config.telegram.mode != "webhook":
            raise web.HTTPNotFound()
        return await tg.webhook(request)

    async def zalo_webhook(request: web.Request) -> web.StreamResponse:
        zalo = request.app[RUNTIME].zalo
        if zalo is None or config.zalo.mode != "webhook":
            raise web.HTTPNotFound()
        return await zalo.webhook(request)

    page = ChatPage(config, _LazyChannel(app), demo_people or [])
    add_routes(app, page)
    add_ops_routes(app)
    add_console_routes(app, config)
    add_api_routes(app, config)
    app.router.add_get("/files/{sha}", _serve_file)
    app.router.add_post("/telegram/webhook", telegram_webhook)
    app.router.add_post("/zalo/webhook", zalo_webhook)
    app.cleanup_ctx.append(runtime_ctx)
    app.on_shutdown.append(_stop_work)
    app.on_shutdown.append(_close_web_chats)
    return app


async def _stop_work(app: web.Application) -> None:
    """SIGTERM: stop claiming at once, not after aiohttp has waited for open requests."""
    rt = app.get(RUNTIME)
    if rt is not None:
        await rt.stop_background()


async def _close_web_chats(app: web.Application) -> None:
    """Open chat pages would hold the shutdown for aiohttp's whole timeout."""
    rt = app.get(RUNTIME)
    if rt is not None:
        await rt.webchat.close_sockets()


async def _serve_file(request: web.Request) -> web.StreamResponse:
    """Signed, expiring file links (web-chat photos and exports)."""
    rt = request.app[RUNTIME]
    assert rt.webchat.signer is not None

    async def claim(sig: str, expires: datetime, name: str) -> bool:
        async with rt.deps.db.uow() as s:
            return await privacy.claim_link(s, sig, expires, rt.deps.clock(), name)

    handler = file_route(rt.webchat.signer, rt.deps.files, rt.deps.clock, claim).handler
    return await handler(request)  # type: ignore[misc]


class _LazyChannel:
    """Stands in for the web chat channel until the runtime exists (routes are frozen early)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        return await request.app[RUNTIME].webchat.websocket(request)
