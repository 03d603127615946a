"""The composer's preview: exactly what recipients will see, how many they are, when;
then send, schedule or submit for approval — or fix the text, mark it urgent, add a
photo or a note. A template error is shown here and nothing can be sent."""

from __future__ import annotations

from bot.domain.messages import Kind, Reply, esc
from broadcasts import audience, compose, review, schedule, templates
from handlers.broadcast_flow import S, draft, router, save
from handlers.context import Ctx
from storage.files import FileRejected
from storage.repos import areas


async def show(ctx: Ctx) -> None:
    """Shows the notice as recipients get it and the figures; asks what to do."""
    d = draft(ctx)
    config = ctx.deps.config
    ctx.goto(S.PREVIEW)
    pv = await compose.preview(ctx.db, d, ctx.lang, config, ctx.now)
    fixes = [(ctx.t("bc.edit_text" if d.template == "notice" else "bc.add_note"),
              "text" if d.template == "notice" else "note")]
    if pv.problem:
        ctx.ask(ctx.t("bc.template_error", error=esc(pv.problem)),
                [*fixes, (ctx.t("bc.discard"), "discard")], cancel="discard")
        return
    ctx.say(ctx.t("bc.preview"))
    photo = None
    if d.photo_sha:
        photo = ctx.deps.files.get(d.photo_sha)
    ctx.reply(Reply(text=pv.text, photo=photo))
    targets = [a for a in [await areas.by_id(ctx.db, i) for i in d.areas] if a is not None]
    who = [ctx.t(f"bc_role.{r}") for r in d.roles] + \
        ([ctx.t("bc_role.groups")] if d.groups else [])
    entry = templates.library()[d.template]
    lines = [ctx.t("bc.summary", title=esc(entry.title(ctx.lang)), people=pv.people,
                   groups=pv.groups, areas=esc(audience.labels(targets)), roles=", ".join(who),
                   when=schedule.describe(d.schedule, ctx.lang))]
    if pv.quiet_until is not None:
        b = config.broadcasts
        lines.append(ctx.t("bc.quiet_note", start=b.quiet_start, end=b.quiet_end))
    if d.urgent:
        lines.append(ctx.t("bc.urgent_note"))
    pending = compose.needs_approval(ctx.roles or [], config)
    if pending:
        lines.append(ctx.t("bc.approval_note"))
    go = "bc.submit" if pending else "bc.send" if d.schedule.get("kind") == "now" \
        else "bc.schedule"
    options = [(ctx.t(go), "go"),
               (ctx.t("bc.unmark_urgent" if d.urgent else "bc.mark_urgent"), "urgent"),
               (ctx.t("bc.remove_photo" if d.photo_sha else "bc.add_photo"), "photo"),
               *fixes, (ctx.t("bc.discard"), "discard")]
    ctx.ask("\n".join(lines), options, per_row=2, cancel="discard")


@router.step(S.PREVIEW)
async def on_preview(ctx: Ctx) -> None:
    """Creates the notice ("go"), or changes the draft and shows the preview again."""
    d = draft(ctx)
    if ctx.value == "go":
        await _create(ctx, d)
        return
    if ctx.value == "discard":
        ctx.end()
        ctx.say(ctx.t("bc.discarded"))
        return
    if ctx.value == "urgent":
        d.urgent = not d.urgent
    elif ctx.value == "photo" and d.photo_sha:
        d.photo_sha = ""
    elif ctx.value == "photo":
        ctx.goto(S.PHOTO)
        ctx.ask(ctx.t("bc.ask_photo"), [(ctx.t("common.cancel"), "back")], cancel="back")
        return
    elif ctx.value in ("note", "text"):
        ctx.data["back_to_preview"] = True
        ctx.goto(S.NOTE if ctx.value == "note" else S.TEXT)
        ctx.say(ctx.t("bc.ask_note" if ctx.value == "note" else "bc.ask_text"))
        return
    save(ctx, d)
    await show(ctx)


async def _create(ctx: Ctx, d: compose.Draft) -> None:
    assert ctx.person is not None
    config = ctx.deps.config
    try:
        bc = await compose.create(ctx.db, d, author_id=ctx.person.id, roles=ctx.roles or [],
                                  config=config, now=ctx.now)
    except (ValueError, schedule.ScheduleError) as exc:
        ctx.say(ctx.t("bc.template_error", error=esc(str(exc))))
        await show(ctx)
        return
    ctx.end()
    if bc.status == "pending":
        asked = await review.request(ctx.db, bc, config, ctx.now)
        ctx.after_commit.append(ctx.deps.wake)
        ctx.say(ctx.t("bc.submitted" if asked else "bc.no_approver", id=bc.id))
    elif d.schedule.get("kind") == "now":
        ctx.after_commit.append(ctx.deps.wake_scheduler)
        ctx.say(ctx.t("bc.created_now", id=bc.id))
    else:
        assert bc.next_due_at is not None
        first = bc.next_due_at.astimezone(config.bot.tz)
        ctx.after_commit.append(ctx.deps.wake_scheduler)
        ctx.say(ctx.t("bc.created_scheduled", id=bc.id, first=f"{first:%H:%M %d/%m/%Y}",
                      when=schedule.describe(d.schedule, ctx.lang)))


@router.step(S.PHOTO)
async def on_photo(ctx: Ctx) -> None:
    """Stores one photo (type and size checked); shows the preview again."""
    if ctx.value == "back":
        await show(ctx)
        return
    if ctx.ev.kind is not Kind.PHOTO or ctx.ev.photo is None:
        ctx.say(ctx.photo_refused(ctx.ev.payload or "bc.need_photo"))
        return
    try:
        sha, _ = ctx.deps.files.put(ctx.ev.photo.data)
    except FileRejected as exc:
        ctx.say(ctx.photo_refused(exc.reason))
        return
    d = draft(ctx)
    d.photo_sha = sha
    save(ctx, d)
    await show(ctx)


@router.step(S.NOTE)
async def on_note(ctx: Ctx) -> None:
    """Stores the extra line (plain text, escaped); shows the preview again."""
    d = draft(ctx)
    d.note = ctx.ev.text.strip()[:300]
    save(ctx, d)
    ctx.data.pop("back_to_preview", None)
    await show(ctx)
