"""Prevention notices in chat (/thongbao, /broadcast): template or own text → areas →
who → when → preview → send, schedule, or submit for approval. See docs/broadcasts.md.

Leaders, officers (their notices wait for a leader) and admins. A weekly scam warning to
two wards and their group chats: /thongbao → "Lừa đảo" → tap the two wards → Tiếp →
Tiếp → Hàng tuần → Thứ Hai → 08:00 → 3 tháng → Lên lịch.
"""

from __future__ import annotations

from bot.domain.messages import Choice, esc
from broadcasts import audience, compose, templates
from handlers import (
    broadcast_preview,
    broadcast_when,
)
from handlers.broadcast_flow import S, draft, mark, router, save
from handlers.context import Ctx
from storage.repos import areas
from storage.tables import Area

__all__ = ["router"]
QUICK = 12  # area buttons offered at most


@router.command("thongbao", "broadcast", staff_only=True,
                menu_vi="Thông báo phòng ngừa (cán bộ)", menu_en="Prevention notice (staff)")
async def start(ctx: Ctx) -> None:
    """Starts a draft on the composer's own areas; asks for a template."""
    roles = ctx.roles or []
    if not compose.may_compose(roles):
        ctx.end()
        ctx.say(ctx.t("bc.not_allowed"))
        return
    own = [a for r, a in roles if r in compose.COMPOSERS]
    mine = [a for a in [await areas.by_id(ctx.db, i) for i in own] if a is not None]
    save(ctx, compose.Draft(areas=[a.id for a in mine if a.level != "province"][:3]))
    ctx.goto(S.TEMPLATE)
    options = [(e.title(ctx.lang), name) for name, e in templates.library().items()]
    ctx.ask(ctx.t("bc.start"), options, per_row=2,
            extra=[Choice(ctx.t("bc.manage"), "!bcm:0")])


@router.step(S.TEMPLATE)
async def pick_template(ctx: Ctx) -> None:
    """Stores the template; asks for the text (own notice) or the areas."""
    if ctx.value not in templates.library():
        await start(ctx)
        return
    d = draft(ctx)
    d.template = ctx.value
    save(ctx, d)
    if d.template == "notice":
        ctx.goto(S.TEXT)
        ctx.say(ctx.t("bc.ask_text"))
        return
    await ask_areas(ctx)


@router.step(S.TEXT)
async def own_text(ctx: Ctx) -> None:
    """Stores the author's text (checked at the preview); asks for the areas."""
    text = ctx.ev.text.strip()
    if not text:
        ctx.say(ctx.t("bc.ask_text"))
        return
    d = draft(ctx)
    d.text_vi = text[: templates.SOURCE_LIMIT + 1]
    save(ctx, d)
    if ctx.data.pop("back_to_preview", False):
        await broadcast_preview.show(ctx)
        return
    await ask_areas(ctx)


async def _offered(ctx: Ctx) -> list[Area]:
    """The composer's areas (with the villages of a commune), found ones, chosen ones."""
    ids: list[int] = []
    for role, area_id in ctx.roles or []:
        if role not in compose.COMPOSERS:
            continue
        ids.append(area_id)
        area = await areas.by_id(ctx.db, area_id)
        if area is not None and area.level == "commune":
            ids += [v.id for v in await areas.children(ctx.db, area_id)]
    ids += ctx.data.get("found", []) + draft(ctx).areas
    found = [await areas.by_id(ctx.db, i) for i in dict.fromkeys(ids)]
    return [a for a in found if a is not None][: QUICK + len(draft(ctx).areas)]


async def ask_areas(ctx: Ctx) -> None:
    """Asks which areas (toggles), a typed name searches the composer's jurisdiction."""
    d = draft(ctx)
    chosen = [a for a in [await areas.by_id(ctx.db, i) for i in d.areas] if a is not None]
    ctx.goto(S.AREAS)
    options = [(mark(a.id in d.areas, areas.label(a)), str(a.id)) for a in await _offered(ctx)]
    ctx.ask(ctx.t("bc.ask_areas", chosen=esc(audience.labels(chosen)) or
                  ctx.t("bc.none_chosen")),
            [*options, (ctx.t("bc.next"), "next")], per_row=2)


@router.step(S.AREAS)
async def on_areas(ctx: Ctx) -> None:
    """Toggles an area or searches a typed name; "next" asks who receives it."""
    d = draft(ctx)
    allowed = await compose.jurisdiction(ctx.db, ctx.roles or [])
    if ctx.value == "next":
        if not d.areas:
            ctx.say(ctx.t("bc.need_area"))
        else:
            await ask_roles(ctx)
            return
    elif ctx.value.isdigit() and int(ctx.value) in allowed:
        area_id = int(ctx.value)
        d.areas = [a for a in d.areas if a != area_id] if area_id in d.areas \
            else [*d.areas, area_id]
        save(ctx, d)
    elif ctx.ev.text.strip():
        hits = [a for a in await areas.search(ctx.db, ctx.ev.text, limit=20)
                if a.id in allowed][:6]
        if not hits:
            ctx.say(ctx.t("bc.no_match", query=esc(ctx.ev.text[:60])))
        ctx.data["found"] = [a.id for a in hits] + [
            i for i in ctx.data.get("found", []) if i not in {a.id for a in hits}][:6]
    await ask_areas(ctx)


async def ask_roles(ctx: Ctx) -> None:
    """Asks who receives the notice (toggles: roles, and the areas' group chats)."""
    d = draft(ctx)
    ctx.goto(S.ROLES)
    options = [(mark(r in d.roles, ctx.t(f"bc_role.{r}")), r) for r in audience.ROLES]
    options.append((mark(d.groups, ctx.t("bc_role.groups")), "groups"))
    ctx.ask(ctx.t("bc.ask_roles"), [*options, (ctx.t("bc.next"), "next")], per_row=2)


@router.step(S.ROLES)
async def on_roles(ctx: Ctx) -> None:
    """Toggles a role or the group chats; "next" asks when to send."""
    d = draft(ctx)
    if ctx.value == "next":
        if d.roles or d.groups:
            await broadcast_when.ask_when(ctx)
            return
        ctx.say(ctx.t("bc.need_role"))
    elif ctx.value == "groups":
        d.groups = not d.groups
    elif ctx.value in audience.ROLES:
        d.roles = [r for r in d.roles if r != ctx.value] if ctx.value in d.roles \
            else [*d.roles, ctx.value]
    save(ctx, d)
    await ask_roles(ctx)
