"""The tip review screen, photo intake, discarding a draft, and submitting the case."""

from __future__ import annotations

from bot.domain.messages import esc
from bot.services import cases, categories, tips
from handlers.context import Ctx
from handlers.menu import main_menu
from storage.files import FileRejected
from storage.repos import areas

EDITABLE = ("category", "describe", "where", "when", "photos", "anon")


def duration_text(ctx: Ctx, minutes: int) -> str:
    if minutes < 60:
        return ctx.t("time.minutes", n=minutes)
    if minutes < 1440:
        return ctx.t("time.hours", n=minutes // 60)
    return ctx.t("time.days", n=minutes // 1440)


async def keep_photo(ctx: Ctx) -> bool:
    """Stores one photo of the draft (type and size checked); False when refused."""
    draft = ctx.data["draft"]
    if ctx.ev.photo is None:
        ctx.say(ctx.photo_refused(ctx.ev.payload or "errors.photo_type"))
        return False
    limit = ctx.deps.config.limits.photos_per_report
    if len(draft["photos"]) >= limit:
        ctx.say(ctx.t("tip.photos_full", max=limit))
        return False
    try:
        sha, mime = ctx.deps.files.put(ctx.ev.photo.data)
    except FileRejected as exc:
        ctx.say(ctx.photo_refused(exc.reason))
        return False
    if sha not in [p[0] for p in draft["photos"]]:
        draft["photos"].append([sha, mime, len(ctx.ev.photo.data)])
    return True


def when_label(ctx: Ctx, draft: dict) -> str:
    kind = draft.get("when", "now")
    return draft.get("when_text", "") if kind == "other" else ctx.t(f"tip.when_{kind}")


async def ask_review(ctx: Ctx) -> None:
    """Shows the whole draft with buttons to edit each part, submit or discard."""
    d = ctx.data["draft"]
    cat = await categories.get(ctx.db, d.get("category", ""), None)
    area = await areas.by_id(ctx.db, d["area_id"]) if d.get("area_id") else None
    where = areas.label(area) if area else "—"
    if d.get("place"):
        where += f" — {esc(d['place'])}"
    if d.get("lat") is not None:
        where += " 📍"
    text = ctx.t("tip.review", category=esc(categories.name(cat, ctx.lang) if cat else "—"),
                 description=esc(d.get("description", "")), where=where,
                 when=esc(when_label(ctx, d)), photos=len(d.get("photos", [])),
                 anonymous=ctx.t("tip.anon_yes") if d.get("anonymous", True)
                 else ctx.t("tip.anon_no"))
    ctx.ask(text, [(ctx.t("tip.submit"), "submit"),
                   *[(ctx.t(f"tip.edit_{f}"), f"edit:{f}") for f in EDITABLE],
                   (ctx.t("tip.discard"), "discard")], per_row=2)


async def on_review(ctx: Ctx) -> None:
    """Submits, or opens one field for editing, or asks to confirm discarding."""
    from handlers import tip

    if ctx.value == "submit":
        await submit(ctx)
    elif ctx.value.startswith("edit:") and ctx.value[5:] in EDITABLE:
        ctx.data["editing"] = True
        field = ctx.value[5:]
        await tip.ask(ctx, {"category": tip.S.CATEGORY, "describe": tip.S.DESCRIBE,
                            "where": tip.S.WHERE, "when": tip.S.WHEN,
                            "photos": tip.S.PHOTOS, "anon": tip.S.ANON}[field])
    elif ctx.value == "discard":
        await ask_discard(ctx)
    else:
        ctx.say(ctx.t("errors.need_choice"))
        await ask_review(ctx)


async def ask_discard(ctx: Ctx, resume: str = "") -> None:
    ctx.data["resume"] = resume or ctx.step
    ctx.goto("discard")
    ctx.ask(ctx.t("tip.discard_confirm"), [(ctx.t("tip.discard_yes"), "yes"),
                                           (ctx.t("tip.discard_no"), "no")], cancel="no")


async def on_discard(ctx: Ctx) -> None:
    """Drops the draft on "yes"; otherwise returns to the step it came from."""
    from handlers import tip

    if ctx.value == "yes":
        ctx.end()
        ctx.say(ctx.t("tip.discarded"))
        main_menu(ctx)
        return
    resume = ctx.data.pop("resume", tip.S.REVIEW)
    await tip.ask(ctx, resume if resume in tip.ASKS else tip.S.REVIEW)


async def submit(ctx: Ctx) -> None:
    """Creates the case, routes it and queues the officer's notification; shows the ref."""
    assert ctx.person is not None
    d = ctx.data["draft"]
    cat = await categories.get(ctx.db, d.get("category", ""), None)
    if cat is None or not d.get("description") or not d.get("area_id"):
        ctx.say(ctx.t("tip.incomplete"))
        await ask_review(ctx)
        return
    case = await cases.create(
        ctx.db, kind="tip", category=cat, area_id=d["area_id"], description=d["description"],
        place=d.get("place"), latitude=d.get("lat"), longitude=d.get("lon"),
        occurred=when_label(ctx, d), anonymous=d.get("anonymous", True),
        reporter_id=ctx.person.id, ev=ctx.ev,
        photos=[(p[0], p[1], p[2]) for p in d.get("photos", [])], now=ctx.now)
    target = await tips.route_and_notify(ctx.db, case, ctx.now)
    ctx.after_commit.append(ctx.deps.wake)
    ctx.end()
    text = ctx.t("tip.received", ref=case.ref, due=duration_text(ctx, cat.ack_minutes))
    if target.officer_id is None and target.group_chat_id is None:
        text += "\n" + ctx.t("tip.no_officer")
    if not ctx.person.false_report_note_shown:
        ctx.person.false_report_note_shown = True
        text += "\n\n" + ctx.t("tip.false_report_note")
    main_menu(ctx, text)
