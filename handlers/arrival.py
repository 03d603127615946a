"""Declare guests or tenants (/khaibao): the place (registered once: type, address, area),
then each guest (one line or field by field), then reason and dates once for everyone,
then the review (edit any guest or field) and submit. See docs/arrivals.md."""

from __future__ import annotations

import secrets

from bot.domain.messages import esc
from bot.services import arrivals
from handlers import (  # noqa: F401  (their steps register on the router)
    areas_step,
    arrival_foreign,
    arrival_guest,
    arrival_review,
    arrival_stay,
)
from handlers.arrival_flow import S, ask, asks, draft, remind_before_deadline, router
from handlers.context import Ctx
from storage.repos import areas
from storage.tables import Place

__all__ = ["router"]


@router.command("khaibao", "arrival", menu_vi="Khai báo lưu trú", menu_en="Declare guests")
async def start(ctx: Ctx) -> None:
    """Starts a draft on the host's latest place (or registers one); asks the first guest."""
    if ctx.person is None or not ctx.person.consent:
        await ctx.run_command("start", "")
        ctx.data["after"] = {"command": "khaibao", "args": ""}  # onboarding comes back here
        return
    ctx.data["draft"] = {"token": secrets.token_hex(4), "guests": [], "stay": {}}
    await remind_before_deadline(ctx)
    places = await arrivals.places_of(ctx.db, ctx.person.id)
    if places:
        use_place(ctx, places[0])
        await ask(ctx, S.GUEST)
    else:
        await ask(ctx, S.PLACE_KIND)


def use_place(ctx: Ctx, place: Place) -> None:
    d = draft(ctx)
    d["place_id"], d["place_kind"], d["address"] = place.id, place.kind, place.address


async def after_place(ctx: Ctx) -> None:
    """Back to the review when changing the place of a draft with guests; else guests."""
    d = draft(ctx)
    await ask(ctx, S.REVIEW if d.get("stay_done") and d["guests"] else S.GUEST)


@asks(S.PLACE)
async def ask_place(ctx: Ctx) -> None:
    assert ctx.person is not None
    places = await arrivals.places_of(ctx.db, ctx.person.id)
    ctx.ask(ctx.t("arrival.place.pick"),
            [*[(f"🏠 {p.address[:40]}", str(p.id)) for p in places],
             (ctx.t("arrival.place.new"), "new")])


@router.step(S.PLACE)
async def place(ctx: Ctx) -> None:
    """Stores the chosen registered place; or starts registering a new one."""
    assert ctx.person is not None
    if ctx.value == "new":
        await ask(ctx, S.PLACE_KIND)
        return
    chosen = await ctx.db.get(Place, int(ctx.value)) if ctx.value.isdigit() else None
    if chosen is None or chosen.host_id != ctx.person.id:
        ctx.say(ctx.t("errors.need_choice"))
        await ask_place(ctx)
        return
    use_place(ctx, chosen)
    await after_place(ctx)


@asks(S.PLACE_KIND)
async def ask_kind(ctx: Ctx) -> None:
    ctx.ask(ctx.t("arrival.place.ask_kind"),
            [(ctx.t(f"arrival.place_kind.{k}"), k) for k in arrivals.PLACE_KINDS], per_row=2)


@router.step(S.PLACE_KIND)
async def place_kind(ctx: Ctx) -> None:
    """Stores the type of place (VNeID's list); asks the address (or the village first)."""
    assert ctx.person is not None
    if ctx.value not in arrivals.PLACE_KINDS:
        ctx.say(ctx.t("errors.need_choice"))
        await ask_kind(ctx)
        return
    draft(ctx)["new_kind"] = ctx.value
    home = await areas.by_id(ctx.db, ctx.person.home_area_id) if ctx.person.home_area_id \
        else None
    if home is None:
        await areas_step.ask_province(ctx, next_step=S.PLACE_PROVINCE,
                                      commune_step=S.PLACE_COMMUNE)
        return
    draft(ctx)["new_area"] = home.id
    villages = await areas.children(ctx.db, home.id) if home.level == "commune" else []
    if villages:
        ctx.data["commune_id"] = ctx.data["area_id"] = home.id
        ctx.goto(S.PLACE_VILLAGE)
        areas_step.ask_village(ctx, home, villages)
        return
    await ask(ctx, S.PLACE_ADDRESS)


@asks(S.PLACE_ADDRESS)
async def ask_address(ctx: Ctx) -> None:
    area = await areas.by_id(ctx.db, draft(ctx)["new_area"])
    label = ", ".join(areas.label(a) for a in (await areas.ancestors(ctx.db, area))[:2]) \
        if area else "—"
    ctx.ask(ctx.t("arrival.place.ask_address", area=esc(label)),
            [(ctx.t("arrival.place.other_area"), "other")])


@router.step(S.PLACE_ADDRESS)
async def place_address(ctx: Ctx) -> None:
    """Registers the place (kind, address, area); asks the first guest."""
    assert ctx.person is not None
    if ctx.value == "other":
        await areas_step.ask_province(ctx, next_step=S.PLACE_PROVINCE,
                                      commune_step=S.PLACE_COMMUNE)
        return
    text = " ".join(ctx.ev.text.split())
    if len(text) < 3:
        ctx.say(ctx.t("arrival.place.need_address"))
        await ask_address(ctx)
        return
    d = draft(ctx)
    new = await arrivals.add_place(ctx.db, host_id=ctx.person.id, area_id=d.pop("new_area"),
                                   kind=d.pop("new_kind"), address=text[:300], now=ctx.now)
    use_place(ctx, new)
    ctx.say(ctx.t("arrival.place.saved", address=esc(new.address)))
    await after_place(ctx)


@router.step(S.PLACE_PROVINCE)
async def place_province(ctx: Ctx) -> None:
    """Stores the province of the place; asks the commune."""
    await areas_step.on_province(ctx, commune_step=S.PLACE_COMMUNE)


@router.step(S.PLACE_COMMUNE)
async def place_commune(ctx: Ctx) -> None:
    """Stores the commune of the place; asks the village, or the address."""
    if await areas_step.on_commune(ctx, village_step=S.PLACE_VILLAGE):
        draft(ctx)["new_area"] = ctx.data["area_id"]
        await ask(ctx, S.PLACE_ADDRESS)


@router.step(S.PLACE_VILLAGE)
async def place_village(ctx: Ctx) -> None:
    """Stores the village of the place; asks the address."""
    if await areas_step.on_village(ctx):
        draft(ctx)["new_area"] = ctx.data["area_id"]
        await ask(ctx, S.PLACE_ADDRESS)
