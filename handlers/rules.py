"""Routing rules in chat (/quytac): a leader (or admin) picks a category, or "every
category", then the officer of their area who receives those tips. Saved as a routing
rule for the leader's area and audited, like ``binhyen rules set``."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.messages import esc
from bot.services import categories, routing, waiting
from handlers.context import Ctx
from handlers.router import Router
from storage.repos import areas
from storage.tables import Area, Person, RoutingRule

router = Router("rules")
EVERY = "all"  # the area default: no category
MAX_OFFICERS = 20


class S(StrEnum):
    AREA = "area"
    CATEGORY = "category"
    OFFICER = "officer"


def _leader_areas(ctx: Ctx) -> list[int]:
    return list(dict.fromkeys(a for r, a in ctx.roles or [] if r in ("leader", "admin")))


async def _area(ctx: Ctx) -> Area | None:
    area_id = ctx.data.get("area_id")
    return await areas.by_id(ctx.db, area_id) if area_id in _leader_areas(ctx) else None


async def _categories(ctx: Ctx, area: Area) -> dict[str, str]:
    commune_id = area.id if area.level == "commune" else \
        area.parent_id if area.level == "village" else None
    return {c.code: categories.name(c, ctx.lang)
            for c in await categories.for_area(ctx.db, commune_id) if not c.emergency}


def _category_name(ctx: Ctx, names: dict[str, str], code: str | None) -> str:
    return ctx.t("rules.every") if code is None else names.get(code, code)


async def _name(ctx: Ctx, person_id: int | None) -> str:
    person = await ctx.db.get(Person, person_id) if person_id else None
    return esc(person.display_name or f"#{person.id}") if person else "—"


@router.command("quytac", "rules", staff_only=True, menu_vi="Quy tắc chuyển tin (lãnh đạo)",
                menu_en="Routing rules (leaders)")
async def start(ctx: Ctx) -> None:
    """Stores the leader's area (asked when they lead several); asks the category."""
    area_ids = _leader_areas(ctx)
    if not area_ids:
        ctx.end()
        ctx.say(ctx.t("rules.leaders_only"))
        return
    if len(area_ids) == 1:
        ctx.data["area_id"] = area_ids[0]
        await ask_category(ctx)
        return
    await ask_area(ctx)


async def ask_area(ctx: Ctx) -> None:
    ctx.goto(S.AREA)
    options = []
    for area_id in _leader_areas(ctx)[:10]:
        area = await areas.by_id(ctx.db, area_id)
        if area is not None:
            options.append((areas.label(area), str(area.id)))
    ctx.ask(ctx.t("rules.ask_area"), [*options, (ctx.t("common.cancel"), "cancel")],
            cancel="cancel")


async def ask_category(ctx: Ctx) -> None:
    """Shows the area's current rules and asks which category to set."""
    area = await _area(ctx)
    assert area is not None
    names = await _categories(ctx, area)
    lines = [ctx.t("rules.current", area=esc(areas.label(area)))]
    rules = [r for r, _ in await routing.list_rules(ctx.db, [area.id])]
    for rule in rules:
        line = ctx.t("rules.line", category=esc(_category_name(ctx, names, rule.category_code)),
                     officer=await _name(ctx, rule.officer_id))
        if rule.backup_id:
            line += " " + ctx.t("rules.backup", name=await _name(ctx, rule.backup_id))
        lines.append(line)
    if not rules:
        lines.append(ctx.t("rules.none"))
    ctx.goto(S.CATEGORY)
    ctx.say("\n".join(lines))
    ctx.ask(ctx.t("rules.ask_category"),
            [*((name, code) for code, name in names.items()),
             (ctx.t("rules.every"), EVERY), (ctx.t("common.cancel"), "cancel")],
            per_row=2, cancel="cancel")


@router.step(S.AREA)
async def area_step(ctx: Ctx) -> None:
    """Stores the chosen area; asks the category."""
    if ctx.value == "cancel":
        _cancel(ctx)
        return
    if ctx.value.isdigit() and int(ctx.value) in _leader_areas(ctx):
        ctx.data["area_id"] = int(ctx.value)
        await ask_category(ctx)
        return
    ctx.say(ctx.t("errors.need_choice"))
    await ask_area(ctx)


async def _officers(ctx: Ctx, area: Area) -> list[int]:
    """Officers granted on the area or below it (a commune's and its villages')."""
    below = await areas.descendant_ids(ctx.db, [area.id])
    ordered = [area.id, *sorted(below - {area.id})]
    return (await routing.staff_on(ctx.db, ordered, ("officer",)))[:MAX_OFFICERS]


async def _rule(ctx: Ctx, area: Area) -> RoutingRule | None:
    code = ctx.data.get("category")
    for rule, _ in await routing.list_rules(ctx.db, [area.id]):
        if rule.category_code == code:
            return rule
    return None


async def ask_officer(ctx: Ctx) -> None:
    area = await _area(ctx)
    assert area is not None
    names = await _categories(ctx, area)
    officers = await _officers(ctx, area)
    if not officers:
        ctx.end()
        ctx.say(ctx.t("rules.no_officers", area=esc(areas.label(area))))
        return
    options = [(await _name(ctx, pid), str(pid)) for pid in officers]
    if await _rule(ctx, area) is not None:
        options.append((ctx.t("rules.remove"), "remove"))
    ctx.goto(S.OFFICER)
    ctx.ask(ctx.t("rules.ask_officer", area=esc(areas.label(area)),
                  category=esc(_category_name(ctx, names, ctx.data.get("category")))),
            [*options, (ctx.t("common.cancel"), "cancel")], cancel="cancel")


@router.step(S.CATEGORY)
async def category(ctx: Ctx) -> None:
    """Stores the category (or the area default); asks the officer."""
    area = await _area(ctx)
    if ctx.value == "cancel" or area is None:
        _cancel(ctx)
        return
    names = await _categories(ctx, area)
    if ctx.value != EVERY and ctx.value not in names:
        ctx.say(ctx.t("errors.need_choice"))
        await ask_category(ctx)
        return
    ctx.data["category"] = None if ctx.value == EVERY else ctx.value
    await ask_officer(ctx)


@router.step(S.OFFICER)
async def officer(ctx: Ctx) -> None:
    """Saves the rule (or removes it), audited; shows what was done."""
    area = await _area(ctx)
    if ctx.value == "cancel" or area is None:
        _cancel(ctx)
        return
    assert ctx.person is not None
    names = await _categories(ctx, area)
    code: str | None = ctx.data.get("category")
    label = esc(_category_name(ctx, names, code))
    if ctx.value == "remove":
        await routing.remove_rule(ctx.db, area=area, category=code, actor_id=ctx.person.id,
                                  actor_label="chat", at=ctx.now)
        ctx.end()
        ctx.say(ctx.t("rules.removed", category=label, area=esc(areas.label(area))))
        return
    if not ctx.value.isdigit() or int(ctx.value) not in await _officers(ctx, area):
        ctx.say(ctx.t("errors.need_choice"))
        await ask_officer(ctx)
        return
    chosen = int(ctx.value)
    old = await _rule(ctx, area)
    # Keep what the chat does not edit (a backup, a duty group) unless it is now the officer.
    backup = old.backup_id if old and old.backup_id != chosen else None
    await routing.set_rule(ctx.db, area=area, category=code, officer_id=chosen,
                           backup_id=backup, group_chat_id=old.group_chat_id if old else None,
                           actor_id=ctx.person.id, actor_label="chat", at=ctx.now)
    routed = await waiting.route_waiting(ctx.db, area, ctx.now, trigger="rule.set")
    ctx.end()
    text = ctx.t("rules.saved", category=label, area=esc(areas.label(area)),
                 officer=await _name(ctx, chosen))
    if routed:
        text += "\n" + ctx.t("waiting.passed_on", n=len(routed))
        ctx.after_commit.append(ctx.deps.wake)
    ctx.say(text)


def _cancel(ctx: Ctx) -> None:
    ctx.end()
    ctx.say(ctx.t("help.cancelled"))
