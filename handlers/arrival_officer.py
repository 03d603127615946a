"""Officers and village heads on one declaration: its detail, acknowledge, "show ID"
(officers only, audited); and the export as CSV or XLSX (officers only, audited)."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.messages import Choice, Reply, esc
from bot.services import arrival_export, arrival_notify, arrival_query, arrivals, audit
from handlers.arrival_list import router
from handlers.context import Ctx
from storage.repos import areas
from storage.tables import Arrival, Guest, Place

EXPORT_DAYS = 30


@router.action("arr")
async def detail(ctx: Ctx) -> None:
    """One declaration: officers get acknowledge and "show ID" buttons; heads, masked only."""
    arrival = await ctx.db.get(Arrival, int(ctx.arg)) if ctx.arg.isdigit() else None
    acc = await arrival_query.access(ctx.db, arrival, ctx.roles, ctx.person.id
                                     if ctx.person else None) if arrival else ""
    if arrival is None or not acc:
        ctx.say(ctx.t("arrival.not_allowed"))
        return
    place = await ctx.db.get(Place, arrival.place_id) if arrival.place_id else None
    guests = await arrivals.guests_of(ctx.db, arrival.id)
    text = await arrival_notify.summary(ctx.db, arrival, place, guests, ctx.lang,
                                        ctx.deps.config.bot.tz, ctx.t("arrival.officer.detail"))
    buttons: list[tuple[Choice, ...]] = []
    if acc == "full":
        scope = await arrival_query.scope_of(ctx.db, ctx.roles)
        for i, g in enumerate(guests, 1):
            n = await arrival_query.seen_before(ctx.db, g.id_hash, scope.full, arrival.id)
            if n:
                text += "\n" + ctx.t("arrival.officer.seen_before", n=i, times=n)
        if arrival.acknowledged_at is None:
            buttons.append((Choice(ctx.t("arrival.officer.ack"), f"!arr_ack:{arrival.id}"),))
        buttons += [(Choice(ctx.t("arrival.officer.show_id", n=i), f"!arr_id:{g.id}"),)
                    for i, g in enumerate(guests, 1)]
    ctx.reply(Reply(text=text, choices=tuple(buttons)))


async def _full(ctx: Ctx, arrival: Arrival | None) -> bool:
    if arrival is None or await arrival_query.access(
            ctx.db, arrival, ctx.roles, ctx.person.id if ctx.person else None) != "full":
        ctx.say(ctx.t("arrival.not_allowed"))
        return False
    return True


@router.action("arr_ack")
async def ack(ctx: Ctx) -> None:
    """Marks the declaration received (first press wins); the host reads "Đã tiếp nhận"."""
    arrival = await ctx.db.get(Arrival, int(ctx.arg)) if ctx.arg.isdigit() else None
    if not await _full(ctx, arrival):
        return
    assert arrival is not None and ctx.person is not None
    done = await arrival_notify.acknowledge(ctx.db, arrival, ctx.person.id, ctx.now)
    ctx.after_commit.append(ctx.deps.wake)
    ctx.say(ctx.t("arrival.officer.acked" if done else "arrival.officer.already_acked",
                  ref=arrival.ref))


@router.action("arr_id")
async def show_id(ctx: Ctx) -> None:
    """The full ID (and visa) number of one guest, for an officer of the area; audited."""
    guest = await ctx.db.get(Guest, int(ctx.arg)) if ctx.arg.isdigit() else None
    arrival = await ctx.db.get(Arrival, guest.arrival_id) if guest else None
    if not await _full(ctx, arrival):
        return
    assert guest is not None and arrival is not None and ctx.person is not None
    cipher = ctx.deps.cipher
    number = cipher.decrypt(guest.id_cipher, arrivals.ID_CONTEXT, guest.key_id)
    text = ctx.t("arrival.officer.id_shown", name=esc(guest.full_name), number=number,
                 kind=ctx.t(f"arrival.id_kind.{guest.id_kind}"), ref=arrival.ref)
    if (guest.visa or {}).get("number"):
        visa = arrivals.unseal(cipher, guest.visa["number"], arrivals.VISA_CONTEXT,  # type: ignore[index]
                               guest.key_id)
        text += "\n" + ctx.t("arrival.officer.visa_shown", number=esc(visa))
    audit.record(ctx.db, "arrival.show_id", at=ctx.now, actor_id=ctx.person.id,
                 object_type="guest", object_id=guest.id, ref=arrival.ref)
    ctx.say(text)


@router.action("arr_x")
async def export(ctx: Ctx) -> None:
    """The last 30 days of an area as a CSV or XLSX document; audited."""
    fmt, _, area_id = ctx.arg.partition(":")
    scope = await arrival_query.scope_of(ctx.db, ctx.roles)
    area = await areas.by_id(ctx.db, int(area_id)) if area_id.isdigit() else None
    if area is None or area.id not in scope.full or fmt not in arrival_export.FORMATS:
        ctx.say(ctx.t("arrival.not_allowed"))
        return
    assert ctx.person is not None
    today = arrivals.local_today(ctx.now, ctx.deps.config.bot.tz)
    out = await arrival_export.export(ctx.db, ctx.deps.cipher, ctx.deps.config.bot.tz,
                                      area=area, start=today - timedelta(days=EXPORT_DAYS),
                                      end=today, fmt=fmt, now=ctx.now, actor_id=ctx.person.id)
    ctx.reply(Reply(text=ctx.t("arrival.officer.exported", n=out.rows, area=esc(
        areas.label(area)), days=EXPORT_DAYS), document=out.data, document_name=out.name))
