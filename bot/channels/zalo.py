"""Zalo channel on the Zalo Bot Platform API over aiohttp: polling or our own webhook.

Polling: ``getUpdates`` hands out one event per call and answers 408 when idle (not an
error). Webhook: ``/zalo/webhook`` checks ``X-Bot-Api-Secret-Token`` in constant time
before reading the body. Either way an event is processed in arrival order per chat:
typed numbers and labels are resolved against the menu the chat last saw, photos are
fetched from ``photo_url`` within the size and type limits, then the engine runs with
``numbered=True`` and the replies go out through :class:`ZaloSender`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import weakref
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.channels.base import Failure, SendError
from bot.channels.pacing import Pacer
from bot.channels.zalo_api import ZaloApi, ZaloApiError
from bot.channels.zalo_in import CHANNEL, photo_url, to_inbound, unwrap
from bot.channels.zalo_intake import fetch_photo, resolve_typed
from bot.channels.zalo_out import ZaloSender
from bot.config import Config
from bot.domain.messages import Inbound, Kind, Reply
from bot.i18n import t
from handlers.engine import Engine
from storage.db import Database
from storage.files import FileStore
from storage.repos import chat_menus

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Bot-Api-Secret-Token"  # noqa: S105 - a header name
DIRECT_ATTEMPTS = 3


class ZaloChannel:
    name = CHANNEL
    numbered = True
    POLL_TIMEOUT = 30.0  # seconds one getUpdates long poll may wait

    def __init__(self, config: Config, engine: Engine, db: Database, files: FileStore,
                 clock: Callable[[], datetime], *, poll_timeout: float | None = None) -> None:
        self.config, self.engine, self.db, self.files = config, engine, db, files
        self.api = ZaloApi(config.zalo.api_url, config.zalo.token)
        self.out = ZaloSender(self.api, config, db, files, clock)
        self.poll_timeout = poll_timeout or self.POLL_TIMEOUT
        self.me: dict[str, Any] = {}
        self.handled: deque[str] = deque(maxlen=10_000)  # message ids fully handled
        self._handled_cond = asyncio.Condition()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._gate = asyncio.Semaphore(64)
        self._tasks: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None

    async def start(self, intake: bool = True) -> None:
        """Check the token; in webhook mode (and a process that takes intake) set the hook.

        Polling is started separately (:meth:`start_polling`) by the one process that
        leads it (``bot.leadership``), as for Telegram.
        """
        await self.api.open()
        try:
            me = await self.api.call("getMe")
        except ZaloApiError as exc:
            raise RuntimeError(f"Zalo getMe failed ({exc.code}): check [zalo] token") from None
        self.me = me if isinstance(me, dict) else {}
        z = self.config.zalo
        log.info("Zalo bot %s (%s account, groups: %s), %s", self.me.get("account_name", "?"),
                 self.me.get("account_type", "?"), self.me.get("can_join_groups", False), z.mode)
        if intake and z.mode == "webhook":
            await self.api.call("setWebhook", {"url": z.webhook_url,
                                               "secret_token": z.webhook_secret})

    @property
    def polls(self) -> bool:
        return self.config.zalo.mode == "polling"

    async def start_polling(self) -> None:
        """Poll getUpdates (a webhook would stop it working, so it is deleted first)."""
        try:
            await self.api.call("deleteWebhook")
        except ZaloApiError as exc:
            log.info("Zalo deleteWebhook: %s", exc.code)
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll(), name="zalo-poll")

    async def stop_polling(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None

    async def stop(self) -> None:
        await self.stop_polling()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.api.close()

    # --- inbound ------------------------------------------------------------------
    async def _poll(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            began, wait = loop.time(), max(1, int(self.poll_timeout))
            try:
                event = await self.api.call("getUpdates", {"timeout": str(wait)},
                                            seconds=wait + 15)
                failures = 0
            except ZaloApiError as exc:
                if exc.idle:  # "nothing new"; a server that says so at once must not spin us
                    failures = 0
                    await asyncio.sleep(max(0.0, 0.5 - (loop.time() - began)))
                else:
                    failures += 1
                    log.warning("Zalo getUpdates failed (%s); retrying", exc.code)
                    await asyncio.sleep(min(30.0, 0.5 * 2 ** failures))
                continue
            for item in event if isinstance(event, list) else [event]:
                if isinstance(item, dict):
                    task = asyncio.create_task(self.process(item))
                    self._tasks.add(task)
                    task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A polled event is not handed out again; the webhook answers 500 and Zalo retries.
            log.error("Zalo event failed: %s", type(task.exception()).__name__)

    async def webhook(self, request: web.Request) -> web.Response:
        """aiohttp route: authenticate in constant time before reading the body."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.config.zalo.webhook_secret.encode()):
            return web.json_response({"ok": False, "error_code": 403,
                                      "description": "Forbidden"}, status=403)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"ok": False, "description": "bad event"}, status=400)
        event = unwrap(body)
        if event is not None:
            await self.process(event)
        return web.json_response({"ok": True})

    async def process(self, event: dict[str, Any]) -> None:
        """Handle one event; events of one chat are handled one at a time, in order."""
        ev = to_inbound(event)
        if ev is None:
            return
        lock = self._locks.get(ev.chat_id)
        if lock is None:
            lock = self._locks[ev.chat_id] = asyncio.Lock()
        try:
            async with lock, self._gate:
                await self._handle(ev, event)
        finally:
            await self._mark_handled(ev.update_id)

    async def _handle(self, ev: Inbound, event: dict[str, Any]) -> None:
        if ev.kind is Kind.PHOTO and not ev.payload:
            ev = await fetch_photo(self.api.session, self.files, ev, photo_url(event))
        ev = await resolve_typed(self.db, ev)
        outcome = await self.engine.handle(ev, numbered=True)
        if outcome.duplicate:
            return
        is_group = not ev.is_private
        if outcome.stale:
            lang = await self._lang(ev.chat_id)
            await self.send_now(ev.chat_id, Reply(text=t(lang, "zalo.stale")), is_group=is_group)
        for reply in outcome.replies:
            await self.send_now(ev.chat_id, reply, is_group=is_group)

    async def _lang(self, chat_id: str) -> str:
        async with self.db.read() as s:
            return await chat_menus.language_of_chat(s, CHANNEL, chat_id) or \
                self.config.bot.language

    async def _mark_handled(self, message_id: str) -> None:
        async with self._handled_cond:
            self.handled.append(message_id)
            self._handled_cond.notify_all()

    async def wait_handled(self, message_id: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the event's replies were sent (tests, benchmarks)."""
        async with self._handled_cond:
            await asyncio.wait_for(self._handled_cond.wait_for(
                lambda: message_id in self.handled), timeout)

    # --- outbound -----------------------------------------------------------------
    @property
    def pacer(self) -> Pacer:
        """The one pacer of this bot's sends (the dispatcher sizes and defers by it)."""
        return self.out.pacer

    async def send(self, chat_id: str, reply: Reply, *, is_group: bool = False,
                   background: bool = False) -> None:
        """For the dispatcher: one attempt; it owns retries (raises :class:`SendError`)."""
        await self.out.send(chat_id, reply, is_group=is_group, background=background)

    async def send_now(self, chat_id: str, reply: Reply, *, is_group: bool = False) -> None:
        """A direct reply: retried a few times after passing failures, then logged."""
        for attempt in range(1, DIRECT_ATTEMPTS + 1):
            try:
                await self.out.send(chat_id, reply, is_group=is_group)
                return
            except SendError as exc:
                passing = exc.failure in (Failure.TRANSIENT, Failure.RETRY_AFTER)
                if not passing or attempt == DIRECT_ATTEMPTS:
                    log.warning("reply to a Zalo chat failed: %s", exc.failure)
                    return
