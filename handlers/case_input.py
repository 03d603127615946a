"""What someone sends about a case (an answer, an addition, a question): the same checks
on every channel and in every step that relays, so a refused photo is never dropped
silently nor its caption sent without it."""

from __future__ import annotations

from bot.domain.messages import Kind
from handlers.context import Ctx
from storage.files import FileRejected

MAX_TEXT = 4000


def relay_content(ctx: Ctx) -> tuple[str, tuple[str, str, int] | None] | None:
    """The message's text and stored photo; None after telling the sender why it was not
    taken (a refused photo — caption and all — or nothing usable)."""
    photo = None
    if ctx.ev.kind is Kind.PHOTO:
        if ctx.ev.photo is None:  # the adapter refused it (size, type, download)
            ctx.say(ctx.photo_refused(ctx.ev.payload or "errors.photo_type"))
            return None
        try:
            sha, mime = ctx.deps.files.put(ctx.ev.photo.data)
        except FileRejected as exc:
            ctx.say(ctx.photo_refused(exc.reason))
            return None
        photo = (sha, mime, len(ctx.ev.photo.data))
    text = ctx.ev.text.strip()
    if not text and photo is None:
        ctx.say(ctx.t("errors.need_text"))
        return None
    return text[:MAX_TEXT], photo
