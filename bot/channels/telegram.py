"""Telegram channel on python-telegram-bot 22: polling or our own aiohttp webhook.

PTB is used for what it does well (the Bot API client, update parsing, polling); the
conversation logic is ours, so every update goes through one ``TypeHandler`` into the
engine. Calls honour ``telegram.api_url``/``file_url``, file downloads included.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
import os
from collections import deque
from datetime import timedelta
from typing import Any

from aiohttp import web
from telegram import Bot, BotCommand, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler
from telegram.request import RequestData

# PTB builds request parameters with this class; it has no public home (see _send_text).
from telegram.request._requestparameter import RequestParameter

from bot.channels.base import Failure, SendError, split_text
from bot.channels.pacing import Pacer
from bot.channels.telegram_in import CHANNEL, to_inbound
from bot.channels.telegram_out import CAPTION_LIMIT, PARSE_MODE, TEXT_LIMIT, Markup, keyboard
from bot.channels.transport import AiohttpRequest
from bot.config import Config
from bot.domain.messages import Inbound, Kind, Photo, Reply
from handlers.engine import Engine
from storage.files import FileRejected, FileStore

# PTB 22 warns on every RetryAfter unless durations are timedeltas; classify() takes both.
os.environ.setdefault("PTB_TIMEDELTA", "1")
log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
REPLY_ATTEMPTS = 3  # a direct reply hit by flood control is tried this often …
REPLY_MAX_WAIT = 10.0  # … when Telegram asks to wait at most this many seconds
UNREACHABLE_400 = ("chat not found", "user is deactivated", "bot was kicked", "have no rights")


def classify(exc: TelegramError) -> SendError:
    """Map a PTB error to our retry policy."""
    if isinstance(exc, RetryAfter):
        ra = exc.retry_after
        seconds = ra.total_seconds() if isinstance(ra, timedelta) else float(ra)
        return SendError(Failure.RETRY_AFTER, str(exc), retry_after=seconds)
    if isinstance(exc, Forbidden):
        return SendError(Failure.UNREACHABLE, str(exc))
    if isinstance(exc, BadRequest):
        low = str(exc).lower()
        kind = Failure.UNREACHABLE if any(s in low for s in UNREACHABLE_400) else \
            Failure.PERMANENT
        return SendError(kind, str(exc))
    if isinstance(exc, NetworkError):  # timeouts and 5xx included
        return SendError(Failure.TRANSIENT, str(exc) or type(exc).__name__)
    return SendError(Failure.PERMANENT, str(exc))


class TelegramChannel:
    name = CHANNEL
    numbered = False

    def __init__(self, config: Config, engine: Engine, files: FileStore) -> None:
        tg = config.telegram
        self.config = config
        self.engine = engine
        self.files = files
        self.pacer = Pacer(config.limits.global_per_second, config.limits.per_chat_per_second,
                           config.limits.group_per_minute)
        builder = (Application.builder().token(tg.token).base_url(tg.api_url)
                   .base_file_url(tg.file_url).request(AiohttpRequest(json_bodies=True))
                   .get_updates_request(AiohttpRequest(connection_pool_size=2))
                   .concurrent_updates(256))
        if tg.mode == "webhook":
            builder = builder.updater(None)
        self.app = builder.build()
        self.app.add_handler(TypeHandler(Update, self._on_update))
        self.username = ""
        # Update ids fully handled (replies sent): lets tests and benchmarks know an update
        # is done without sleeping. Bounded, newest last.
        self.handled: deque[int] = deque(maxlen=10_000)
        self._handled_cond = asyncio.Condition()

    @property
    def bot(self) -> Bot:
        return self.app.bot

    async def start(self, intake: bool = True) -> None:
        """Initialise and register the command menus; in webhook mode, set the webhook.

        ``intake`` is False in processes that only send (workers). Polling is started
        separately (:meth:`start_polling`) by the one process that leads it.
        """
        await self.app.initialize()
        self.username = self.bot.username or ""
        tg = self.config.telegram
        if intake:
            await self._register_commands()
            if tg.mode == "webhook":
                await self.bot.set_webhook(tg.webhook_url, secret_token=tg.webhook_secret,
                                           allowed_updates=Update.ALL_TYPES)
        await self.app.start()

    @property
    def polls(self) -> bool:
        return self.config.telegram.mode == "polling"

    async def start_polling(self) -> None:
        """Poll getUpdates (Telegram allows one poller per bot: see bot.leadership)."""
        await self.bot.delete_webhook()
        assert self.app.updater is not None
        await self.app.updater.start_polling(timeout=10, allowed_updates=Update.ALL_TYPES,
                                             poll_interval=0.0)

    async def stop_polling(self) -> None:
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()

    async def stop(self) -> None:
        await self.stop_polling()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def _register_commands(self) -> None:
        for lang in ("vi", "en"):
            cmds = [BotCommand(c, d) for c, d in self.engine.routes.menu(lang)]
            await self.bot.set_my_commands(cmds, language_code=None if lang == "vi" else lang)

    # --- inbound ------------------------------------------------------------------
    async def webhook(self, request: web.Request) -> web.Response:
        """aiohttp route: authenticate in constant time before reading the body."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.config.telegram.webhook_secret.encode()):
            return web.Response(status=401, text="unauthorized")
        try:
            update = Update.de_json(await request.json(), self.bot)
        except ValueError:
            return web.Response(status=400, text="bad update")
        await self.app.process_update(update)
        return web.Response(text="ok")

    async def _on_update(self, update: Update, _ctx: ContextTypes.DEFAULT_TYPE) -> None:
        ev = to_inbound(update, self.username)
        if ev is None:
            await self._mark_handled(update.update_id)
            return
        if ev.kind is Kind.PHOTO:
            ev = await self._with_photo(update, ev)
        outcome = await self.engine.handle(ev)
        if update.callback_query is not None:
            try:
                await update.callback_query.answer(outcome.notice or None)
            except TelegramError as exc:  # an expired query must not lose the replies
                log.info("callback answer failed: %s", exc)
        for reply in outcome.replies:
            await self.send_now(ev.chat_id, reply, is_group=not ev.is_private)
        await self._mark_handled(update.update_id)

    async def _mark_handled(self, update_id: int) -> None:
        async with self._handled_cond:
            self.handled.append(update_id)
            self._handled_cond.notify_all()

    async def wait_handled(self, update_id: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the update's replies were sent (tests, benchmarks)."""
        async with self._handled_cond:
            await asyncio.wait_for(self._handled_cond.wait_for(
                lambda: update_id in self.handled), timeout)

    async def _with_photo(self, update: Update, ev: Inbound) -> Inbound:
        msg = update.effective_message
        assert msg is not None
        item: Any = msg.photo[-1] if msg.photo else msg.document
        limit = self.files.max_bytes
        try:
            if item.file_size and item.file_size > limit:
                raise FileRejected("errors.photo_too_big")
            data = bytes(await (await item.get_file()).download_as_bytearray())
            mime = self.files.check(data)
        except FileRejected as exc:
            return dataclasses.replace(ev, payload=exc.reason)
        except TelegramError as exc:
            log.warning("photo download failed: %s", exc)
            return dataclasses.replace(ev, payload="errors.photo_download")
        return dataclasses.replace(ev, photo=Photo(data, mime, ev.text))

    # --- outbound -----------------------------------------------------------------
    async def send_now(self, chat_id: str, reply: Reply, *, is_group: bool = False) -> None:
        """Send a direct reply; a short 429 is waited out and retried (the conversation has
        already moved on, so a lost reply would strand the user); other failures are logged
        (the user can simply ask again)."""
        for attempt in range(REPLY_ATTEMPTS):
            try:
                await self.send(chat_id, reply, is_group=is_group)
                return
            except SendError as exc:
                if (exc.failure is Failure.RETRY_AFTER and attempt + 1 < REPLY_ATTEMPTS
                        and exc.retry_after <= REPLY_MAX_WAIT):
                    await asyncio.sleep(exc.retry_after)
                    continue
                log.warning("reply to a %s chat failed: %s",
                            "group" if is_group else "private", exc.failure)
                return

    async def send(self, chat_id: str, reply: Reply, *, is_group: bool = False,
                   background: bool = False) -> None:
        markup = keyboard(reply, is_group)
        try:
            if reply.photo is not None or reply.document is not None:
                await self.pacer.wait(chat_id, is_group, background=background)
                caption = reply.text[:CAPTION_LIMIT]
                if reply.photo is not None:
                    await self.bot.send_photo(chat_id, reply.photo, caption=caption,
                                              parse_mode=PARSE_MODE, reply_markup=markup,
                                              allow_paid_broadcast=self._paid)
                elif reply.document is not None:
                    await self.bot.send_document(chat_id, reply.document, caption=caption,
                                                 filename=reply.document_name,
                                                 parse_mode=PARSE_MODE, reply_markup=markup)
                return
            parts = split_text(reply.text, TEXT_LIMIT)
            for i, part in enumerate(parts):
                await self.pacer.wait(chat_id, is_group, background=background)
                await self._send_text(chat_id, part, markup if i == len(parts) - 1 else None)
        except TelegramError as exc:
            err = classify(exc)
            if err.failure is Failure.RETRY_AFTER and not is_group:
                # A group's 429 is its own 20/min; elsewhere the flood wait holds the bot.
                self.pacer.pause(err.retry_after)
            raise err from exc

    @property
    def _paid(self) -> bool | None:
        return True if self.config.limits.paid_broadcast else None

    async def _send_text(self, chat_id: str, text: str, markup: Markup) -> None:
        """``sendMessage`` without parsing the answer into a PTB ``Message`` (≈0.4 ms of CPU
        a send, a third of the paid-broadcast budget); errors are PTB's usual exceptions."""
        params: dict[str, object] = {"chat_id": chat_id, "text": text, "parse_mode": PARSE_MODE,
                                     "reply_markup": markup, "allow_paid_broadcast": self._paid}
        data = RequestData([RequestParameter.from_input(k, v) for k, v in params.items()
                            if v is not None])
        await self.bot.request.post(f"{self.bot.base_url}/sendMessage", data)
