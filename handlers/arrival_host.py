"""A host's own guests (/khachcuatoi): who is staying, end a stay early, extend it, and
declare a returning guest again with one tap (found by the keyed hash, never the number).
Only the host who declared a guest can act on that guest."""

from __future__ import annotations

import secrets
from datetime import timedelta
from enum import StrEnum

from bot.domain.messages import Choice, Reply, esc
from bot.services import arrival_input as inp
from bot.services import arrival_query, arrivals
from bot.services.arrival_notify import guest_line
from handlers import arrival_flow
from handlers.arrival_flow import ASKS, draft, remind_before_deadline
from handlers.arrival_next import guest_draft
from handlers.context import Ctx
from handlers.router import Router
from storage.tables import Place

router = Router("arrival_host")
STEP_BY = {"1": 1, "7": 7, "30": 30}


class S(StrEnum):
    EXTEND = "extend"


@router.command("khachcuatoi", "myguests", menu_vi="Khách lưu trú của tôi",
                menu_en="My guests")
async def my_guests(ctx: Ctx) -> None:
    """Stores nothing; lists the host's guests with end, extend and declare-again buttons."""
    ctx.end()
    if ctx.person is None:
        ctx.say(ctx.t("settings.need_start"))
        return
    today = arrivals.local_today(ctx.now, ctx.deps.config.bot.tz)
    present, past = await arrival_query.host_guests(ctx.db, ctx.person.id, today)
    if not present and not past:
        ctx.say(ctx.t("arrival.host.none"))
        return
    lines = [ctx.t("arrival.host.title", n=len(present))]
    rows: list[tuple[Choice, ...]] = []
    for i, r in enumerate(present[:10], 1):
        lines.append(f"{i}. {guest_line(r.guest, ctx.lang)} · {r.arrival.ref}")
        rows.append((Choice(ctx.t("arrival.host.extend_n", n=i), f"!arr_ext:{r.guest.id}"),
                     Choice(ctx.t("arrival.host.end_n", n=i), f"!arr_end:{r.guest.id}")))
    if past:
        lines.append(ctx.t("arrival.host.past"))
    for g in past[:8]:
        rows.append((Choice(ctx.t("arrival.host.again", name=g.full_name[:30]),
                            f"!arr_again:{g.id}"),))
    ctx.reply(Reply(text="\n".join(lines), choices=tuple(rows)))


@router.action("arr_end")
async def end(ctx: Ctx) -> None:
    """Records that the guest left now; the officer is told."""
    found = await arrival_query.own_guest(ctx.db, ctx.arg, ctx.person.id) if ctx.person else None
    if found is None:
        ctx.say(ctx.t("arrival.not_allowed"))
        return
    guest, arrival = found
    if guest.ended_at is not None:
        ctx.say(ctx.t("arrival.host.already_ended", name=esc(guest.full_name)))
        return
    assert ctx.person is not None
    await arrivals.end_stay(ctx.db, guest, arrival, config=ctx.deps.config,
                            actor_id=ctx.person.id, now=ctx.now)
    ctx.after_commit.append(ctx.deps.wake)
    ctx.say(ctx.t("arrival.host.ended", name=esc(guest.full_name), ref=arrival.ref))


@router.action("arr_ext")
async def extend(ctx: Ctx) -> None:
    """Asks the new last day of the guest's stay."""
    found = await arrival_query.own_guest(ctx.db, ctx.arg, ctx.person.id) if ctx.person else None
    if found is None or found[0].ended_at is not None:
        ctx.say(ctx.t("arrival.not_allowed" if found is None else "arrival.host.already_ended",
                      name=esc(found[0].full_name) if found else ""))
        return
    ctx.end()
    ctx.flow = router.flow
    ctx.goto(S.EXTEND)
    ctx.data["guest_id"] = found[0].id
    until = found[0].stay_to or found[0].stay_from
    ctx.ask(ctx.t("arrival.host.ask_extend", name=esc(found[0].full_name),
                  until=f"{until:%d/%m/%Y}"),
            [*[(ctx.t(f"arrival.host.plus_{k}"), k) for k in STEP_BY],
             (ctx.t("common.cancel"), "cancel")], per_row=3, cancel="cancel")


@router.step(S.EXTEND)
async def extend_to(ctx: Ctx) -> None:
    """Stores the new last day (after the current one, within two years)."""
    assert ctx.person is not None
    found = await arrival_query.own_guest(ctx.db, str(ctx.data.get("guest_id", "")),
                                          ctx.person.id)
    if found is None or ctx.value == "cancel":
        ctx.end()
        ctx.say(ctx.t("help.cancelled"))
        return
    guest, arrival = found
    until = guest.stay_to or guest.stay_from
    day = until + timedelta(days=STEP_BY[ctx.value]) if ctx.value in STEP_BY \
        else inp.parse_date(ctx.ev.text)
    if day is None or day <= until or inp.to_problem(day, guest.stay_from):
        ctx.say(ctx.t("arrival.host.bad_extend", until=f"{until:%d/%m/%Y}"))
        return
    await arrivals.extend_stay(ctx.db, guest, arrival, day, config=ctx.deps.config,
                               actor_id=ctx.person.id, now=ctx.now)
    ctx.after_commit.append(ctx.deps.wake)
    ctx.end()
    ctx.say(ctx.t("arrival.host.extended", name=esc(guest.full_name), until=f"{day:%d/%m/%Y}"))


@router.action("arr_again")
async def again(ctx: Ctx) -> None:
    """Starts a new declaration holding this earlier guest; asks the reason of stay."""
    found = await arrival_query.own_guest(ctx.db, ctx.arg, ctx.person.id) if ctx.person else None
    if found is None:
        ctx.say(ctx.t("arrival.not_allowed"))
        return
    assert ctx.person is not None
    guest, arrival = found
    places = await arrivals.places_of(ctx.db, ctx.person.id)
    place = await ctx.db.get(Place, arrival.place_id) if arrival.place_id else None
    place = place if place is not None and place.host_id == ctx.person.id else \
        (places[0] if places else None)
    if place is None:
        ctx.say(ctx.t("arrival.not_allowed"))
        return
    g = guest_draft(ctx, guest)
    ctx.end()
    ctx.flow = arrival_flow.router.flow
    ctx.data["draft"] = {"token": secrets.token_hex(4), "guests": [g], "stay": {},
                         "place_id": place.id, "place_kind": place.kind,
                         "address": place.address}
    await remind_before_deadline(ctx)
    ctx.say(ctx.t("arrival.host.again_started", name=esc(guest.full_name)))
    await arrival_flow.ask(ctx, arrival_flow.S.REASON)


@router.action("arr_resume")
async def resume(ctx: Ctx) -> None:
    """From a reminder: asks again the question the unfinished declaration stopped at."""
    if ctx.flow == arrival_flow.router.flow and draft(ctx).get("token") and ctx.step in ASKS:
        await ASKS[ctx.step](ctx)
        return
    ctx.say(ctx.t("arrival.host.no_draft"))
