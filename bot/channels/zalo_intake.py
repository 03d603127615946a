"""Before the engine sees a Zalo event: typed numbers become choices, photos are fetched.

Zalo has no buttons, so "2", a label, or a label without accents names a choice of the
menu the chat last saw (remembered by :mod:`storage.repos.chat_menus`, notifications
included); "0" or "huy" cancels. Photos arrive as a ``photo_url`` and are fetched within
the size limit, then checked by type like every other upload.
"""

from __future__ import annotations

import dataclasses
import logging

import aiohttp

from bot.channels import numbered
from bot.channels.zalo_in import CHANNEL
from bot.domain.messages import Inbound, Kind, Photo
from handlers.context import step_tag
from storage.db import Database
from storage.files import FileRejected, FileStore
from storage.repos import chat_menus, conversations

log = logging.getLogger(__name__)


async def resolve_typed(db: Database, ev: Inbound) -> Inbound:
    """A typed number or label becomes the choice it names in the chat's last menu."""
    if ev.kind is not Kind.TEXT:
        return ev
    async with db.read() as s:
        stored = await chat_menus.load(s, CHANNEL, ev.chat_id)
        menu = numbered.Menu.from_dict(stored) if stored else None
        payload = numbered.resolve(ev.text, menu)
        if payload and menu and payload == menu.cancel and not payload.startswith("!"):
            # "0" for a step the person has already left means "stop whatever I'm doing".
            row = await conversations.load(s, ev.key)
            if row is None or not payload.startswith(step_tag(row.flow, row.step) + "."):
                payload = numbered.CANCEL
    if payload is None:
        return ev
    if payload == numbered.CANCEL:
        return dataclasses.replace(ev, kind=Kind.COMMAND, command="huy", args="")
    return dataclasses.replace(ev, kind=Kind.CHOICE, payload=payload)


async def fetch_photo(session: aiohttp.ClientSession, files: FileStore, ev: Inbound,
                      url: str) -> Inbound:
    """The event with the photo's bytes, or with the reason it was refused in ``payload``."""
    limit = files.max_bytes
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=30)) as r:
            if r.status != 200:
                return dataclasses.replace(ev, payload="errors.photo_download")
            if r.content_length is not None and r.content_length > limit:
                raise FileRejected("errors.photo_too_big")
            data = bytearray()
            async for chunk in r.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > limit:
                    raise FileRejected("errors.photo_too_big")
        mime = files.check(bytes(data))
    except FileRejected as exc:
        return dataclasses.replace(ev, payload=exc.reason)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("Zalo photo download failed: %s", type(exc).__name__)
        return dataclasses.replace(ev, payload="errors.photo_download")
    return dataclasses.replace(ev, photo=Photo(bytes(data), mime, ev.text))
