"""Report a tip (/baotin): category → what → where → exact place → when → photos (add,
remove) → anonymous or named → review (edit any field) → submit. Nothing entered is lost
on bad input: each step re-asks and keeps the draft, which lives in the conversation row.

Steps marked ``case_replies`` take only buttons: a Telegram reply to a message about an
earlier case is relayed to that case there, and the draft waits (handlers.case_reply)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum

from bot.domain.messages import Ask, Kind, Reply
from bot.services import categories, danger
from handlers import areas_step, tip_submit
from handlers.context import Ctx
from handlers.router import Router
from storage.repos import areas
from storage.tables import Area

router = Router("tip")
MAX_TEXT = 4000


class S(StrEnum):
    CATEGORY = "category"
    DESCRIBE = "describe"
    WHERE = "where"
    PROVINCE = "province"
    COMMUNE = "commune"
    VILLAGE = "village"
    PLACE = "place"
    WHEN = "when"
    WHEN_TEXT = "when_text"
    PHOTOS = "photos"
    PHOTO_REMOVE = "photo_remove"
    ANON = "anon"
    REVIEW = "review"
    DISCARD = "discard"


@router.command("baotin", "report", menu_vi="Báo tin an ninh trật tự", menu_en="Report")
async def start(ctx: Ctx) -> None:
    """Starts an empty draft (area preset from a group link); asks the category."""
    if ctx.person is None or not ctx.person.consent:
        args = ctx.args
        await ctx.run_command("start", "")
        # After /start (which starts a fresh flow), so onboarding can come back here.
        ctx.data["after"] = {"command": "baotin", "args": args}
        return
    ctx.data["draft"] = {"photos": [], "anonymous": True}
    preset = ctx.args.removeprefix("tip-").strip() if ctx.args.startswith("tip-") else ""
    area = await areas.by_code(ctx.db, preset) if preset else None
    if area is not None:
        ctx.data["draft"]["preset_area_id"] = area.id
    await ask(ctx, S.CATEGORY)


async def _commune_id(ctx: Ctx) -> int | None:
    assert ctx.person is not None
    area_id = ctx.data["draft"].get("preset_area_id") or ctx.person.home_area_id
    area = await areas.by_id(ctx.db, area_id) if area_id else None
    while area is not None and area.level == "village":
        area = await areas.by_id(ctx.db, area.parent_id) if area.parent_id else None
    return area.id if area else None


async def ask_category(ctx: Ctx) -> None:
    cats = await categories.for_area(ctx.db, await _commune_id(ctx))
    ctx.ask(ctx.t("tip.ask_category"),
            [(categories.name(c, ctx.lang), c.code) for c in cats if not c.emergency],
            per_row=2)


async def ask_describe(ctx: Ctx) -> None:
    ctx.say(ctx.t("tip.ask_describe"))


async def ask_where(ctx: Ctx) -> None:
    assert ctx.person is not None
    draft = ctx.data["draft"]
    area_id = draft.get("preset_area_id") or ctx.person.home_area_id
    area: Area | None = await areas.by_id(ctx.db, area_id) if area_id else None
    options = [(f"📍 {areas.label(area)}", "home")] if area else []
    options.append((ctx.t("tip.other_area"), "other"))
    ctx.ask(ctx.t("tip.ask_where"), options, ask=Ask.LOCATION,
            ask_label=ctx.t("tip.share_location"))


async def ask_place(ctx: Ctx) -> None:
    ctx.ask(ctx.t("tip.ask_place"), [(ctx.t("common.skip"), "skip")], cancel="skip")


async def ask_when(ctx: Ctx) -> None:
    ctx.ask(ctx.t("tip.ask_when"), [(ctx.t("tip.when_now"), "now"),
                                    (ctx.t("tip.when_today"), "today"),
                                    (ctx.t("tip.when_other"), "other")])


async def ask_photos(ctx: Ctx) -> None:
    n = len(ctx.data["draft"]["photos"])
    limit = ctx.deps.config.limits.photos_per_report
    label = ctx.t("tip.photos_done") if n else ctx.t("common.skip")
    options = [(label, "done")]
    if n:
        options.append((ctx.t("tip.photos_remove"), "remove"))
    ctx.ask(ctx.t("tip.ask_photos", n=n, max=limit), options, ask=Ask.PHOTO, cancel="done")


async def ask_photo_remove(ctx: Ctx) -> None:
    """Shows the draft's photos numbered, then asks which one to remove."""
    for i, (sha, mime, _size) in enumerate(ctx.data["draft"]["photos"], start=1):
        ctx.reply(Reply(text=f"📷 {i}", photo=ctx.deps.files.get(sha), photo_mime=mime))
    ask_which_photo(ctx)


def ask_which_photo(ctx: Ctx) -> None:
    n = len(ctx.data["draft"]["photos"])
    ctx.ask(ctx.t("tip.ask_photo_remove"),
            [*[(ctx.t("tip.photo_remove_n", n=i), str(i)) for i in range(1, n + 1)],
             (ctx.t("common.back"), "back")], per_row=3, cancel="back")


async def ask_anon(ctx: Ctx) -> None:
    ctx.ask(ctx.t("tip.ask_anon"), [(ctx.t("tip.anon_yes"), "anon"),
                                    (ctx.t("tip.anon_no"), "named")])


async def ask_when_text(ctx: Ctx) -> None:
    ctx.say(ctx.t("tip.ask_when_text"))


ASKS: dict[str, Callable[[Ctx], Awaitable[None]]] = {
    S.CATEGORY: ask_category, S.DESCRIBE: ask_describe, S.WHERE: ask_where,
    S.PLACE: ask_place, S.WHEN: ask_when, S.WHEN_TEXT: ask_when_text, S.PHOTOS: ask_photos,
    S.PHOTO_REMOVE: ask_photo_remove,
    S.ANON: ask_anon, S.REVIEW: tip_submit.ask_review,
}


async def ask(ctx: Ctx, step: str) -> None:
    """Go to ``step`` and ask its question."""
    ctx.goto(step)
    await ASKS[step](ctx)


async def proceed(ctx: Ctx, step: str) -> None:
    """A field is complete: go on to ``step``, or back to the review when editing."""
    if ctx.data.pop("editing", False):
        step = S.REVIEW
    await ask(ctx, step)


@router.step(S.CATEGORY, case_replies=True)
async def category(ctx: Ctx) -> None:
    """Stores the category; asks what happened."""
    cat = await categories.get(ctx.db, ctx.value, await _commune_id(ctx)) if ctx.value else None
    if cat is None:
        ctx.say(ctx.t("errors.need_choice"))
        await ask_category(ctx)
        return
    ctx.data["draft"]["category"] = cat.code
    await proceed(ctx, S.DESCRIBE)


@router.step(S.DESCRIBE)
async def describe(ctx: Ctx) -> None:
    """Stores the description (1–4000 characters); asks where."""
    if ctx.ev.kind is Kind.PHOTO:
        if await tip_submit.keep_photo(ctx):
            ctx.say(ctx.t("tip.photo_kept_describe"))
        else:
            await ask_describe(ctx)
        return
    text = ctx.ev.text.strip()
    if not text:
        ctx.say(ctx.t("tip.need_description"))
        return
    if len(text) > MAX_TEXT:
        ctx.say(ctx.t("tip.too_long", n=len(text), max=MAX_TEXT))
        return
    if danger.looks_urgent(text):  # the 113/114/115 line at once; the report goes on
        ctx.say(ctx.t("common.emergency"))
    ctx.data["draft"]["description"] = text
    await proceed(ctx, S.WHERE)


@router.step(S.WHERE, case_replies=True)
async def where(ctx: Ctx) -> None:
    """Stores the area (home/preset, or a shared location); asks the exact place."""
    assert ctx.person is not None
    draft = ctx.data["draft"]
    default_area = draft.get("preset_area_id") or ctx.person.home_area_id
    if ctx.ev.kind is Kind.LOCATION and ctx.ev.latitude is not None:
        draft["lat"], draft["lon"] = ctx.ev.latitude, ctx.ev.longitude
        if default_area:
            draft["area_id"] = default_area
            await ask(ctx, S.PLACE)
            return
        ctx.value = "other"
    if ctx.value == "home" and default_area:
        draft["area_id"] = default_area
        await ask(ctx, S.PLACE)
    elif ctx.value == "other":
        await areas_step.ask_province(ctx, next_step=S.PROVINCE, commune_step=S.COMMUNE)
    else:
        ctx.say(ctx.t("errors.need_choice"))
        await ask_where(ctx)


@router.step(S.PROVINCE)
async def province(ctx: Ctx) -> None:
    """Stores the province of the place; asks the commune."""
    await areas_step.on_province(ctx, commune_step=S.COMMUNE)


@router.step(S.COMMUNE)
async def commune(ctx: Ctx) -> None:
    """Stores the commune of the place; asks the village if any."""
    if await areas_step.on_commune(ctx, village_step=S.VILLAGE):
        ctx.data["draft"]["area_id"] = ctx.data["area_id"]
        await ask(ctx, S.PLACE)


@router.step(S.VILLAGE)
async def village(ctx: Ctx) -> None:
    """Stores the village of the place; asks the exact place."""
    if await areas_step.on_village(ctx):
        ctx.data["draft"]["area_id"] = ctx.data["area_id"]
        await ask(ctx, S.PLACE)


@router.step(S.PLACE)
async def place(ctx: Ctx) -> None:
    """Stores the exact place (or none); asks when."""
    if ctx.value != "skip":
        text = ctx.ev.text.strip()
        if not text:
            ctx.say(ctx.t("errors.need_text"))
            await ask_place(ctx)
            return
        ctx.data["draft"]["place"] = text[:300]
    else:
        ctx.data["draft"].pop("place", None)
    await proceed(ctx, S.WHEN)


@router.step(S.WHEN, case_replies=True)
async def when(ctx: Ctx) -> None:
    """Stores when it happened; asks for photos (or a free-text time)."""
    if ctx.value in ("now", "today"):
        ctx.data["draft"]["when"] = ctx.value
        await proceed(ctx, S.PHOTOS)
    elif ctx.value == "other":
        await ask(ctx, S.WHEN_TEXT)
    else:
        ctx.say(ctx.t("errors.need_choice"))
        await ask_when(ctx)


@router.step(S.WHEN_TEXT)
async def when_text(ctx: Ctx) -> None:
    """Stores a free-text time; asks for photos."""
    text = ctx.ev.text.strip()
    if not text:
        ctx.say(ctx.t("errors.need_text"))
        return
    ctx.data["draft"]["when"] = "other"
    ctx.data["draft"]["when_text"] = text[:200]
    await proceed(ctx, S.PHOTOS)


@router.step(S.PHOTOS)
async def photos(ctx: Ctx) -> None:
    """Stores each photo (0–5, checked); asks anonymous or named, or which photo to remove."""
    if ctx.ev.kind is Kind.PHOTO:
        # Kept or refused (type, size, count), the question comes again with the count.
        await tip_submit.keep_photo(ctx)
        await ask_photos(ctx)
        return
    if ctx.value == "done":
        await proceed(ctx, S.ANON)
        return
    if ctx.value == "remove" and ctx.data["draft"]["photos"]:
        await ask(ctx, S.PHOTO_REMOVE)
        return
    ctx.say(ctx.t("tip.need_photo"))
    await ask_photos(ctx)


@router.step(S.PHOTO_REMOVE, case_replies=True)
async def photo_remove(ctx: Ctx) -> None:
    """Removes the chosen photo from the draft (the others stay); asks for photos again."""
    photos = ctx.data["draft"]["photos"]
    if ctx.value.isdigit() and 1 <= int(ctx.value) <= len(photos):
        del photos[int(ctx.value) - 1]
        ctx.say(ctx.t("tip.photo_removed", n=int(ctx.value)))
    elif ctx.value != "back":
        ctx.say(ctx.t("errors.need_choice"))
        ask_which_photo(ctx)
        return
    await ask(ctx, S.PHOTOS)


@router.step(S.ANON, case_replies=True)
async def anon(ctx: Ctx) -> None:
    """Stores anonymous/named; shows the review."""
    if ctx.value not in ("anon", "named"):
        ctx.say(ctx.t("errors.need_choice"))
        await ask_anon(ctx)
        return
    ctx.data["draft"]["anonymous"] = ctx.value == "anon"
    await proceed(ctx, S.REVIEW)


@router.step(S.REVIEW, case_replies=True)
async def review(ctx: Ctx) -> None:
    """Submits the case or opens a field for editing (see tip_submit.on_review)."""
    await tip_submit.on_review(ctx)


@router.step(S.DISCARD, case_replies=True)
async def discard(ctx: Ctx) -> None:
    """Drops the draft after confirmation, or resumes where the user was."""
    await tip_submit.on_discard(ctx)
