"""Shared steps for choosing a place: province → commune (accent-insensitive) → village.

Used by onboarding, settings and any flow that needs an area. Collected keys in
``ctx.data``: ``province_id``, ``commune_id`` and ``area_id`` (the most specific choice).
"""

from __future__ import annotations

from handlers.context import Ctx
from storage.repos import areas
from storage.tables import Area

MAX_CHOICES = 8


def _options(found: list[Area]) -> list[tuple[str, str]]:
    return [(areas.label(a), str(a.id)) for a in found]


async def ask_province(ctx: Ctx, *, next_step: str, commune_step: str) -> None:
    """Asks the province by name, or skips to the commune when the deployment fixes it."""
    ctx.data["commune_step"] = commune_step
    fixed = ctx.deps.config.bot.province
    if fixed:
        prov = await areas.by_code(ctx.db, fixed)
        if prov is not None:
            ctx.data["province_id"] = prov.id
            ctx.goto(commune_step)
            ctx.say(ctx.t("onboard.ask_commune", province=areas.label(prov)))
            return
    ctx.goto(next_step)
    ctx.say(ctx.t("onboard.ask_province"))


async def on_province(ctx: Ctx, *, commune_step: str) -> None:
    """A typed name is searched; a pressed result stores the province and asks the commune."""
    if ctx.value.isdigit():
        prov = await areas.by_id(ctx.db, int(ctx.value))
        if prov is not None and prov.level == "province":
            ctx.data["province_id"] = prov.id
            ctx.goto(commune_step)
            ctx.say(ctx.t("onboard.ask_commune", province=areas.label(prov)))
            return
    if ctx.value == "again" or not ctx.ev.text:
        ctx.say(ctx.t("onboard.ask_province"))
        return
    found = await areas.search(ctx.db, ctx.ev.text, level="province", limit=MAX_CHOICES)
    if len(found) == 1 and found[0].key == _fold(ctx.ev.text):
        ctx.data["province_id"] = found[0].id
        ctx.goto(commune_step)
        ctx.say(ctx.t("onboard.ask_commune", province=areas.label(found[0])))
        return
    _offer(ctx, found)


def _fold(text: str) -> str:
    from bot.text import fold
    return fold(text)


def _offer(ctx: Ctx, found: list[Area]) -> None:
    if not found:
        ctx.say(ctx.t("onboard.not_found", query=_esc(ctx.ev.text)))
        return
    ctx.ask(ctx.t("onboard.pick_area"),
            [*_options(found), (ctx.t("onboard.search_again"), "again")])


def _esc(text: str) -> str:
    from bot.domain.messages import esc
    return esc(text[:80])


async def on_commune(ctx: Ctx, *, village_step: str) -> bool:
    """True when the commune is chosen and it has no villages (the area is complete)."""
    province_id = ctx.data.get("province_id")
    if ctx.value.isdigit():
        commune = await areas.by_id(ctx.db, int(ctx.value))
        if commune is not None and commune.level == "commune":
            ctx.data["commune_id"] = ctx.data["area_id"] = commune.id
            villages = await areas.children(ctx.db, commune.id)
            if not villages:
                return True
            ctx.goto(village_step)
            ask_village(ctx, commune, villages)
            return False
    if ctx.value == "again" or not ctx.ev.text:
        prov = await areas.by_id(ctx.db, province_id) if province_id else None
        ctx.say(ctx.t("onboard.ask_commune", province=areas.label(prov) if prov else ""))
        return False
    found = await areas.search(ctx.db, ctx.ev.text, level="commune", parent_id=province_id,
                               limit=MAX_CHOICES)
    _offer(ctx, found)
    return False


def ask_village(ctx: Ctx, commune: Area, villages: list[Area]) -> None:
    ctx.ask(ctx.t("onboard.ask_village", commune=areas.label(commune)),
            [*_options(villages[:20]), (ctx.t("onboard.village_unknown"), "none")], per_row=2)


async def on_village(ctx: Ctx) -> bool:
    """True when a village was chosen (or skipped: the commune stays the area)."""
    if ctx.value == "none":
        return True
    if ctx.value.isdigit():
        village = await areas.by_id(ctx.db, int(ctx.value))
        if village is not None and village.parent_id == ctx.data.get("commune_id"):
            ctx.data["area_id"] = village.id
            return True
    commune = await areas.by_id(ctx.db, ctx.data["commune_id"])
    assert commune is not None
    villages = await areas.children(ctx.db, commune.id)
    # Villages may be typed too ("thon 3"), matched without accents.
    typed = _fold(ctx.ev.text)
    match = [v for v in villages if typed and (v.key == typed or _fold(areas.label(v)) == typed)]
    if len(match) == 1:
        ctx.data["area_id"] = match[0].id
        return True
    ctx.say(ctx.t("errors.need_choice"))
    ask_village(ctx, commune, villages)
    return False
