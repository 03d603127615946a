"""/luutru (/guests): the guests present in a staff member's areas — arriving today,
staying, past their planned last day — with masked IDs, a filter per village, detail
buttons and (officers) export buttons. Village heads see their own village only."""

from __future__ import annotations

from bot.domain.messages import Choice, Reply, esc
from bot.services import arrival_export, arrival_query, arrivals
from handlers.context import Ctx
from handlers.router import Router
from storage.repos import areas

router = Router("arrival_officer")  # shared with handlers/arrival_officer.py
STATUSES = ("arriving", "staying", "overdue")
MAX_LINES = 30
MAX_DETAILS = 8
MAX_FILTERS = 6


def _short(r: arrival_query.Row, place: str) -> str:
    g = r.guest
    until = f"{g.stay_to:%d/%m}" if g.stay_to else "?"
    born = f" ({g.birth_date.year})" if g.birth_date else ""
    room = f" · {esc(g.room)}" if g.room else ""
    return (f"• {esc(g.full_name)}{born} · <code>{g.id_mask}</code> · {g.stay_from:%d/%m}→"
            f"{until}{room} · {esc(place)} · {r.arrival.ref}")


@router.command("luutru", "guests", staff_only=True, menu_vi="Khách lưu trú (cán bộ)",
                menu_en="Guests staying (staff)")
async def guests(ctx: Ctx) -> None:
    """Stores nothing; lists the guests present in the staff member's areas."""
    ctx.end()
    await show_list(ctx, None)


@router.action("arr_list")
async def filtered(ctx: Ctx) -> None:
    """The same list for one village ("0": every area)."""
    await show_list(ctx, int(ctx.arg) if ctx.arg.isdigit() and ctx.arg != "0" else None)


async def show_list(ctx: Ctx, area_id: int | None) -> None:
    scope = await arrival_query.scope_of(ctx.db, ctx.roles)
    if not scope.all or (area_id is not None and area_id not in scope.all):
        ctx.say(ctx.t("arrival.not_allowed"))
        return
    today = arrivals.local_today(ctx.now, ctx.deps.config.bot.tz)
    every = await arrival_query.current(ctx.db, scope.all, today)
    rows = [r for r in every if area_id is None or r.arrival.area_id == area_id]
    labels: dict[int, str] = {}
    for r in every:
        if r.arrival.area_id not in labels:
            area = await areas.by_id(ctx.db, r.arrival.area_id)
            labels[r.arrival.area_id] = areas.label(area) if area else "—"
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    lines = [ctx.t("arrival.officer.list_title", date=f"{today:%d/%m/%Y}", **counts)]
    if area_id is not None:
        lines.append(ctx.t("arrival.officer.filter", area=esc(labels.get(area_id, "—"))))
    for status in STATUSES:
        part = [r for r in rows if r.status == status]
        if part:
            lines.append(ctx.t(f"arrival.officer.section_{status}"))
            lines += [_short(r, labels[r.arrival.area_id]) for r in part[:MAX_LINES]]
    if not rows:
        lines.append(ctx.t("arrival.officer.empty"))
    ctx.reply(Reply(text="\n".join(lines), choices=_buttons(ctx, scope, rows, labels,
                                                             area_id)))


def _buttons(ctx: Ctx, scope: arrival_query.Scope, rows: list[arrival_query.Row],
             labels: dict[int, str], area_id: int | None) -> tuple[tuple[Choice, ...], ...]:
    """Details of the first declarations, a filter per area, and the export (officers)."""
    details: dict[int, str] = {}
    for r in rows:
        if len(details) < MAX_DETAILS:
            details.setdefault(r.arrival.id, r.arrival.ref)
    out: list[tuple[Choice, ...]] = [(Choice(f"🔎 {ref}", f"!arr:{aid}"),)
                                     for aid, ref in details.items()]
    filters = [Choice(f"📍 {label}", f"!arr_list:{a}") for a, label in labels.items()
               if a != area_id][:MAX_FILTERS]
    if area_id is not None:
        filters.append(Choice(ctx.t("arrival.officer.all_areas"), "!arr_list:0"))
    out += [tuple(filters[i:i + 2]) for i in range(0, len(filters), 2)]
    target = area_id if area_id in scope.full else next(
        (a for r, a in ctx.roles or () if r in arrival_query.FULL_ROLES), None)
    if target is not None:
        out.append(tuple(Choice(ctx.t(f"arrival.officer.export_{f}"), f"!arr_x:{f}:{target}")
                         for f in arrival_export.FORMATS))
    return tuple(out)
