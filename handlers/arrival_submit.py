"""Submitting a declaration (reference, deadline status, who was told, where to file it
officially, a summary to copy into VNeID) and discarding a draft."""

from __future__ import annotations

from bot.domain.messages import esc
from bot.services import arrival_notify, arrival_timers, arrivals
from handlers.arrival_flow import ASKS, S, ask, asks, draft, local
from handlers.context import Ctx
from handlers.menu import main_menu
from storage.repos import areas

NEEDED = ("name", "dob", "gender", "id_enc", "reason", "from", "arrived", "to")


async def official_line(ctx: Ctx, area_id: int) -> str:
    """Where to file officially: VNeID, or the commune police (with its number if known)."""
    area = await areas.by_id(ctx.db, area_id)
    chain = await areas.ancestors(ctx.db, area) if area else []
    commune = next((a for a in chain if a.level == "commune"), None)
    phone = next((a.hotline for a in chain if a.hotline), None)
    unit = areas.label(commune) if commune else "—"
    return ctx.t("arrival.official", unit=esc(unit),
                 phone=esc(phone) if phone else ctx.t("arrival.no_hotline"))


def copy_text(ctx: Ctx, done: arrivals.Submitted, area: str) -> str:
    """A plain summary the host can copy into VNeID's stay notification form."""
    out = [ctx.t("arrival.copy.title"),
           ctx.t("arrival.copy.place", kind=ctx.t(f"arrival.place_kind.{done.place.kind}"),
                 address=esc(done.arrival.address), area=esc(area))]
    for i, g in enumerate(done.guests, 1):
        out.append(ctx.t("arrival.copy.guest", n=i, name=esc(g.full_name),
                         dob=f"{g.birth_date:%d/%m/%Y}" if g.birth_date else "",
                         gender=ctx.t(f"arrival.gender.{g.gender}"),
                         kind=ctx.t(f"arrival.id_kind.{g.id_kind}"), mask=g.id_mask,
                         reason=esc(arrival_notify.reason_text(g, ctx.lang)),
                         start=f"{g.stay_from:%d/%m/%Y}",
                         end=f"{g.stay_to:%d/%m/%Y}" if g.stay_to else "",
                         room=esc(g.room or "—")))
    return "\n".join(out)


async def submit(ctx: Ctx) -> None:
    """Stores the declaration and queues the officer's and village head's notices."""
    assert ctx.person is not None
    d = draft(ctx)
    if not d.get("place_id") or not d["guests"] or any(
            k not in g for g in d["guests"] for k in NEEDED):
        ctx.say(ctx.t("arrival.incomplete"))
        await ask(ctx, S.REVIEW)
        return
    done = await arrivals.submit(ctx.db, config=ctx.deps.config, cipher=ctx.deps.cipher,
                                 host=ctx.person, draft=d, now=ctx.now)
    ctx.after_commit.append(ctx.deps.wake)
    ctx.end()
    a = done.arrival
    lines = [ctx.t("arrival.sent", ref=a.ref, n=len(done.guests)),
             ctx.t("arrival.on_time" if a.on_time else "arrival.late",
                   due=local(ctx, a.deadline_at))]
    if done.deadline.early_morning and a.on_time:
        lines.append(ctx.t("arrival.stay.early_morning", due=local(ctx, a.deadline_at)))
    lines.append(ctx.t("arrival.told_officer" if done.officers else "arrival.no_officer"))
    if done.heads:
        lines.append(ctx.t("arrival.told_head"))
    lines.append(await official_line(ctx, a.area_id))
    ctx.say("\n".join(lines))
    ctx.say(copy_text(ctx, done, await arrival_notify.where(ctx.db, a.area_id)))
    main_menu(ctx)


async def ask_discard(ctx: Ctx) -> None:
    """Asks to confirm dropping the draft; remembers where to come back to."""
    draft(ctx)["resume"] = ctx.step
    await ask(ctx, S.DISCARD)


@asks(S.DISCARD)
async def ask_discard_again(ctx: Ctx) -> None:
    ctx.ask(ctx.t("arrival.discard_confirm"), [(ctx.t("arrival.discard_yes"), "yes"),
                                               (ctx.t("common.back"), "no")], cancel="no")


async def on_discard(ctx: Ctx) -> None:
    """Drops the draft (and its reminder) on "yes"; otherwise resumes."""
    assert ctx.person is not None
    if ctx.value == "yes":
        await arrival_timers.cancel_draft(ctx.db, ctx.person.id)
        ctx.end()
        ctx.say(ctx.t("arrival.discarded"))
        main_menu(ctx)
        return
    resume = draft(ctx).pop("resume", S.GUEST)
    await ask(ctx, resume if resume in ASKS and resume != S.DISCARD else S.GUEST)
