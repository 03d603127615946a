"""Neutral :class:`Reply` → Zalo sendMessage/sendPhoto calls: numbered text, paced.

Zalo has no buttons, no file uploads and takes photos only as URLs. So choices become
numbered lines (the menu is remembered per chat before it is shown), photos and
documents become signed, expiring links to this app's ``/files/<sha>`` route when
``[web] public_url`` and ``session_secret`` are set (otherwise the text says they could
not be shown), and texts are split at 2000 characters. Every call waits for the pacer
(``[limits] zalo_per_second``) and for the backoff that follows a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.channels.base import Failure, SendError, split_text
from bot.channels.numbered import Menu, render
from bot.channels.pacing import Pacer
from bot.channels.zalo_api import Backoff, ZaloApi, ZaloApiError, classify
from bot.channels.zalo_in import CHANNEL
from bot.config import Config
from bot.domain.messages import Ask, Reply
from bot.i18n import t
from bot.web.links import Signer
from storage.db import Database
from storage.files import FileRejected, FileStore
from storage.repos import chat_menus

log = logging.getLogger(__name__)
TEXT_LIMIT = 2000
PHOTO_TTL = timedelta(days=1)
DOCUMENT_TTL = timedelta(hours=24)
HINTS = {Ask.CONTACT: "zalo.type_phone", Ask.LOCATION: "zalo.no_location"}


class ZaloSender:
    def __init__(self, api: ZaloApi, config: Config, db: Database, files: FileStore,
                 clock: Callable[[], datetime]) -> None:
        limits, web = config.limits, config.web
        self.api, self.db, self.files, self.clock = api, db, files, clock
        self.language = config.bot.language
        self.pacer = Pacer(limits.zalo_per_second, limits.per_chat_per_second,
                           limits.group_per_minute)
        self.backoff = Backoff()
        # Links need a secret: an empty one would let anyone forge them.
        self.signer = Signer(web.session_secret, web.public_url) \
            if web.public_url and web.session_secret else None

    async def send(self, chat_id: str, reply: Reply, *, is_group: bool = False,
                   background: bool = False) -> None:
        """Send one reply; raises :class:`SendError` (kinds as in ``zalo_api.classify``)."""
        lang = await self._language(chat_id, reply)
        note = t(lang, HINTS[reply.ask]) if reply.ask in HINTS and not is_group else ""
        shown = render(reply, cancel_label=t(lang, "common.cancel"), note=note)
        text = shown.text
        photo_url = self._link(reply.photo, PHOTO_TTL) if reply.photo is not None else ""
        if reply.photo is not None and not photo_url:
            text = t(lang, "zalo.photo_unavailable") + "\n" + text
        if reply.document is not None:
            name = reply.document_name or "binhyen.dat"
            url = self._link(reply.document, DOCUMENT_TTL, name, any_file=True)
            text += "\n" + (t(lang, "zalo.document_link", name=name, url=url) if url
                            else t(lang, "zalo.document_unavailable", name=name))
        if shown.menu:
            await self._remember(chat_id, shown.menu)
        text = text.strip() or "…"
        if photo_url:
            caption = text if len(text) <= TEXT_LIMIT else ""
            await self._call("sendPhoto", chat_id, is_group, background,
                             {"chat_id": chat_id, "photo": photo_url, "caption": caption})
            if caption:
                return
        for part in split_text(text, TEXT_LIMIT):
            await self._call("sendMessage", chat_id, is_group, background,
                             {"chat_id": chat_id, "text": part})

    async def _call(self, method: str, chat_id: str, is_group: bool, background: bool,
                    body: dict[str, Any]) -> None:
        await self.backoff.wait()
        await self.pacer.wait(chat_id, is_group, background=background)
        try:
            await self.api.call(method, body)
        except ZaloApiError as exc:
            err = classify(exc)
            if err.failure is Failure.RETRY_AFTER:
                self.pacer.pause(err.retry_after)  # sends already waiting must not go either
            if err.failure in (Failure.TRANSIENT, Failure.RETRY_AFTER):
                self.backoff.failed(err.retry_after)
            raise err from None
        self.backoff.succeeded()

    def _link(self, data: bytes, ttl: timedelta, name: str = "", any_file: bool = False) -> str:
        if self.signer is None:
            return ""
        try:
            sha = self.files.put_any(data) if any_file else self.files.put(data)[0]
        except (FileRejected, OSError) as exc:
            log.warning("cannot link a file for Zalo: %s", type(exc).__name__)
            return ""
        return self.signer.url(sha, self.clock(), ttl, name)

    async def _language(self, chat_id: str, reply: Reply) -> str:
        """The chat's language, looked up only when the adapter adds words of its own."""
        own_words = reply.ask in HINTS or reply.document is not None or (
            reply.photo is not None and self.signer is None) or (
            reply.cancel_payload and all(c.payload != reply.cancel_payload
                                         for c in reply.flat_choices()))
        if not own_words:
            return self.language
        async with self.db.read() as s:
            return await chat_menus.language_of_chat(s, CHANNEL, chat_id) or self.language

    async def _remember(self, chat_id: str, menu: Menu) -> None:
        """Saved before the message goes out, so an answer can never outrun it."""
        try:
            async with self.db.uow() as s:
                await chat_menus.save(s, CHANNEL, chat_id, menu.to_dict(), self.clock())
        except Exception as exc:  # numbers that would pick an older menu must not be shown
            log.warning("could not remember a Zalo menu: %s", type(exc).__name__)
            raise SendError(Failure.TRANSIENT, "menu not stored") from exc
