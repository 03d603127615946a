"""The conversation engine: one update, one transaction, one key at a time.

For each inbound event it (1) drops update ids seen before, (2) serialises the
conversation key (an asyncio lock here, an advisory lock on PostgreSQL so several
processes agree), (3) loads the state row, (4) dispatches to a command, a button action
or the current step, and (5) saves the state in the same transaction. Replies are
returned for the adapter to send after the commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import logs
from bot.deps import Deps
from bot.domain.messages import Inbound, Kind, Reply
from bot.i18n import t as translate
from bot.metrics import Metrics
from bot.text import fold
from handlers.context import MENU_KEY, Ctx, step_tag
from handlers.router import Routes
from storage import images
from storage.repos import conversations, people

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    replies: list[Reply]
    duplicate: bool = False
    stale: bool = False
    notice: str = ""  # a short answer for a pressed button (Telegram's callback answer)
    registered: bool = False  # the user is a consenting person after this update
    forget: bool = False  # the person was just erased


def resolve_typed_choice(ev: Inbound, data: dict, numbered: bool) -> Inbound:
    """Turn typed text into a button press: the number, the label, or the label sans accents."""
    menu = data.get(MENU_KEY)
    if ev.kind is not Kind.TEXT or not menu:
        return ev
    typed = fold(ev.text).strip(" .)")
    payload = ""
    if numbered and typed.isdigit() and 1 <= int(typed) <= len(menu):
        payload = menu[int(typed) - 1][1]
    else:
        bare = _label_key(typed)
        for label, p in menu:
            # "an danh" picks "🕶 Ẩn danh": the emoji of a label is never typed back.
            if fold(label) == typed or (bare and _label_key(fold(label)) == bare):
                payload = p
                break
    if not payload:
        return ev
    return Inbound(**{**_fields(ev), "kind": Kind.CHOICE, "payload": payload})


def _label_key(folded: str) -> str:
    """A folded label without the emoji or symbols around its words ("📍 to 1" → "to 1")."""
    start, end = 0, len(folded)
    while start < end and not folded[start].isalnum():
        start += 1
    while end > start and not folded[end - 1].isalnum():
        end -= 1
    return folded[start:end]


def _fields(ev: Inbound) -> dict:
    return {f: getattr(ev, f) for f in ev.__dataclass_fields__}


class Engine:
    def __init__(self, deps: Deps, routes: Routes, metrics: Metrics | None = None) -> None:
        self.deps = deps
        self.routes = routes
        self.metrics = metrics
        self._locks: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary())

    def _lock(self, key: tuple[str, str, str]) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def handle(self, ev: Inbound, *, numbered: bool = False) -> Outcome:
        """Process one event; ``numbered`` channels accept "1", "2"… for choices.

        A failure rolls the whole update back, so the conversation stays at its step with
        everything entered so far, and the user is told to try again.
        """
        started = time.perf_counter()
        logs.conversation.set(logs.conversation_tag(*ev.key,
                                                    keyed=self.deps.cipher.keyed_hash))
        try:
            if ev.photo is not None:
                # Metadata (GPS, device, owner) goes before any step sees the photo; off
                # the event loop, as turning a photo upright decodes it.
                clean = await asyncio.to_thread(images.strip_metadata, ev.photo.data,
                                                ev.photo.mime)
                ev = replace(ev, photo=replace(ev.photo, data=clean))
            return await self._handle(ev, numbered)
        except Exception:
            log.exception("update failed (channel %s, flow state kept)", ev.channel)
            lang = ev.language if ev.language in ("vi", "en") else self.deps.config.bot.language
            return Outcome([Reply(text=translate(lang, "errors.internal"))])
        finally:
            if self.metrics is not None:
                self.metrics.updates.labels(ev.channel).inc()
                self.metrics.step_latency.observe(time.perf_counter() - started)

    async def _handle(self, ev: Inbound, numbered: bool) -> Outcome:
        async with self._lock(ev.key):
            ctx: Ctx | None = None
            async with self.deps.db.uow() as db:
                now = self.deps.clock()
                if ev.update_id and not await conversations.mark_processed(
                        db, ev.channel, ev.update_id, now):
                    return Outcome([], duplicate=True)
                await conversations.lock_key(db, ev.key)
                row = await conversations.load(db, ev.key)
                # Freshly decoded JSON: handlers may change it in place.
                data = row.data if row else {}
                if not ev.reply_to_text:  # a reply may continue a case (see _dispatch)
                    ev = resolve_typed_choice(ev, data, numbered)
                person, roles, reachable = await people.with_roles(db, ev.channel,
                                                                   ev.user_id)
                if person is not None and not reachable and ev.is_private:
                    # Writing to the bot proves the chat works again after a 403 (a group
                    # message does not: the private chat may still be blocked).
                    await people.mark_reachable(db, ev.channel, ev.user_id)
                lang = (person.language if person else data.get("lang")) or \
                    self.deps.config.bot.language
                ctx = Ctx(ev=ev, db=db, deps=self.deps, flow=row.flow if row else None,
                          step=row.step if row else None, data=data, person=person, lang=lang,
                          args=ev.args)
                ctx.commands = self
                if person is not None:
                    ctx.roles = roles
                await self._dispatch(ctx, numbered)
                await self._save(db, row, ctx, now)
            for fn in ctx.after_commit:
                fn()
            notice = ctx.t("errors.stale_button") if ctx.stale else ""
            return Outcome(ctx.replies, stale=ctx.stale, notice=notice,
                           registered=ctx.person is not None and not ctx.forget,
                           forget=ctx.forget)

    async def _save(self, db: AsyncSession, row: conversations.State | None, ctx: Ctx,
                    now: datetime) -> None:
        if ctx.forget:
            return  # the erasure already removed the state row with everything else
        if ctx.flow is None:
            ctx.data.pop(MENU_KEY, None)
            if ctx.person is None:
                # Without consent and outside onboarding, keep nothing about this chat.
                if row is not None:
                    await conversations.drop(db, row)
                return
        if not ctx.person:
            ctx.data["lang"] = ctx.lang
        await conversations.save(db, ctx.ev.key, row, flow=ctx.flow, step=ctx.step,
                                 data=dict(ctx.data), at=now)

    async def _dispatch(self, ctx: Ctx, numbered: bool) -> None:
        ev = ctx.ev
        if ev.reply_to_text and ev.kind in (Kind.TEXT, Kind.PHOTO) and ev.is_private \
                and self.routes.on_reply is not None:
            # A reply to a case message continues that case unless a step wants free text.
            free = self.routes.takes_case_reply(ctx.flow, ctx.step)
            if await self.routes.on_reply(ctx, free):
                return
            ctx.ev = ev = resolve_typed_choice(ev, ctx.data, numbered)
        if ev.kind is Kind.COMMAND:
            await self._command(ctx)
        elif ev.kind is Kind.CHOICE and ev.payload.startswith("!"):
            verb, _, ctx.arg = ev.payload[1:].partition(":")
            handler = self.routes.by_action.get(verb)
            if handler is None:
                ctx.stale = True
                return
            await handler(ctx)
        elif ev.kind is Kind.CHOICE:
            tag, _, value = ev.payload.partition(".")
            if not ctx.step or tag != step_tag(ctx.flow, ctx.step):
                ctx.stale = True
                return
            ctx.value = value
            await self._step(ctx)
        elif ev.kind in (Kind.JOINED_GROUP, Kind.LEFT_GROUP):
            handler = self.routes.by_action.get(ev.kind.value)
            if handler:
                await handler(ctx)
        elif ctx.flow and ctx.step and ev.is_private:
            await self._step(ctx)
        elif ev.is_private:
            await self.routes.fallback(ctx)

    async def _step(self, ctx: Ctx) -> None:
        router = self.routes.by_flow.get(ctx.flow or "")
        handler = router.steps.get(ctx.step or "") if router else None
        if handler is None:
            # A step that no longer exists (an upgrade renamed it): start over politely.
            log.warning("unknown step %s/%s; resetting", ctx.flow, ctx.step)
            ctx.end()
            await self.routes.fallback(ctx)
            return
        await handler(ctx)

    def has(self, name: str) -> bool:
        return name in self.routes.by_command

    async def run(self, ctx: Ctx, name: str, args: str = "") -> None:
        """Run command ``name`` for ``ctx`` (main-menu buttons, deep links)."""
        ctx.args = args
        await self._command(ctx, name)

    async def _command(self, ctx: Ctx, name: str | None = None) -> None:
        entry = self.routes.by_command.get(name or ctx.ev.command)
        if entry is None:
            if ctx.ev.is_private:
                ctx.say(ctx.t("errors.unknown_command"))
                await self.routes.fallback(ctx)
            return
        router, cmd = entry
        if not ctx.ev.is_private and not cmd.groups:
            handler = self.routes.by_action.get("group_private_only")
            if handler:
                await handler(ctx)
            return
        if cmd.staff_only and not ctx.is_staff:
            ctx.say(ctx.t("errors.staff_only"))
            return
        if not cmd.keeps_flow:
            ctx.end()
            ctx.flow = router.flow
        await cmd.handler(ctx)
