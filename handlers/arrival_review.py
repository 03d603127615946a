"""The review of a declaration before it is sent: every guest with every field (ID
masked), the deadline, and buttons to submit, add a guest, edit one guest's field,
change the place or discard."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.domain.messages import esc
from bot.services.arrival_deadline import earliest
from bot.services.arrivals import guest_deadline
from handlers import arrival_submit
from handlers.arrival_flow import S, ask, asks, draft, local, router
from handlers.arrival_next import continue_guest, edit_identity
from handlers.context import Ctx

IDENTITY = ("name", "dob", "gender", "id", "phone")
FOREIGN = ("nat", "visa_type", "visa_no", "visa_expiry", "visa_entry")
STAY = {"reason": S.REASON, "from": S.FROM, "to": S.TO, "room": S.ROOM}


def _d(iso: str | None) -> str:
    return f"{date.fromisoformat(iso):%d/%m/%Y}" if iso else "—"


def guest_text(ctx: Ctx, g: dict[str, Any]) -> str:
    """One draft guest for the host: every field, the ID masked."""
    reason = ctx.t(f"arrival.reason.{g.get('reason', 'other')}")
    if g.get("reason_note"):
        reason += f": {esc(g['reason_note'])}"
    kind = "passport" if g.get("foreign") else "cccd"
    lines = [f"<b>{esc(g['name'])}</b> — {_d(g['dob'])}, {ctx.t('arrival.gender.' + g['gender'])}",
             f"{ctx.t('arrival.id_kind.' + kind)}: <code>{g['id_mask']}</code>"
             + (" ⚠️" if g.get("id_confirmed") else "")]
    if g.get("foreign"):
        v = g.get("visa", {})
        lines.append(ctx.t("arrival.review.visa", nat=g["nat"], type=v.get("type", "—"),
                           number=v.get("no_mask", "—"), expiry=_d(v.get("expiry")),
                           entry=_d(v.get("entry"))))
    lines.append(ctx.t("arrival.review.stay", reason=reason, start=_d(g.get("from")),
                       end=_d(g.get("to")), phone=esc(g.get("phone") or "—"),
                       room=esc(g.get("room") or "—")))
    return "\n   ".join(lines)


@asks(S.REVIEW)
async def ask_review(ctx: Ctx) -> None:
    d = draft(ctx)
    guests = d["guests"]
    due = earliest([guest_deadline(g, ctx.deps.config) for g in guests])
    state = "late" if due.at < ctx.now else "in_time"
    text = "\n".join([ctx.t("arrival.review.title"),
                      ctx.t("arrival.place.using", address=esc(d.get("address", ""))),
                      *[f"{i}. {guest_text(ctx, g)}" for i, g in enumerate(guests, 1)],
                      ctx.t(f"arrival.review.{state}", due=local(ctx, due.at))])
    options = [(ctx.t("arrival.review.submit"), "submit"), (ctx.t("arrival.review.add"), "add")]
    options += [(ctx.t("arrival.review.edit", n=i, name=g["name"][:24]), f"edit:{i - 1}")
                for i, g in enumerate(guests, 1)]
    options += [(ctx.t("arrival.place.change"), "place"), (ctx.t("arrival.discard"), "discard")]
    ctx.ask(text, options, per_row=2)


@router.step(S.REVIEW)
async def review(ctx: Ctx) -> None:
    """Submits; or adds a guest, opens one for editing, changes the place, discards."""
    d = draft(ctx)
    if ctx.value == "submit":
        await arrival_submit.submit(ctx)
    elif ctx.value == "add":
        await ask(ctx, S.GUEST)
    elif ctx.value.startswith("edit:") and ctx.value[5:].isdigit() \
            and int(ctx.value[5:]) < len(d["guests"]):
        d["pick"] = int(ctx.value[5:])
        await ask(ctx, S.EDIT_FIELD)
    elif ctx.value in ("place", "discard"):
        if ctx.value == "place":
            await ask(ctx, S.PLACE)
        else:
            await arrival_submit.ask_discard(ctx)
    else:
        ctx.say(ctx.t("errors.need_choice"))
        await ask_review(ctx)


def _fields(g: dict[str, Any]) -> list[str]:
    ids = [f for f in IDENTITY if not (g.get("foreign") and f == "id")]
    return [*ids, *(("passport", *FOREIGN) if g.get("foreign") else ()), *STAY]


@asks(S.EDIT_FIELD)
async def ask_field(ctx: Ctx) -> None:
    d = draft(ctx)
    g = d["guests"][d["pick"]]
    ctx.ask(ctx.t("arrival.review.which_field", name=esc(g["name"])),
            [*[(ctx.t(f"arrival.field.{f}"), f) for f in _fields(g)],
             (ctx.t("arrival.review.remove"), "remove"), (ctx.t("common.back"), "back")],
            per_row=3)


@router.step(S.EDIT_FIELD)
async def edit_field(ctx: Ctx) -> None:
    """Opens one field of the chosen guest (others kept), or removes the guest."""
    d = draft(ctx)
    i = d.get("pick", 0)
    if ctx.value == "back" or i >= len(d["guests"]):
        await ask(ctx, S.REVIEW)
    elif ctx.value == "remove":
        d["guests"].pop(i)
        await ask(ctx, S.REVIEW if d["guests"] else S.GUEST)
    elif ctx.value in STAY:
        d["edit"] = {"i": i}
        await ask(ctx, STAY[ctx.value])
    elif ctx.value in _fields(d["guests"][i]):
        edit_identity(ctx, i, "id" if ctx.value == "passport" else ctx.value)
        await continue_guest(ctx)
    else:
        ctx.say(ctx.t("errors.need_choice"))
        await ask_field(ctx)


@router.step(S.DISCARD)
async def discard(ctx: Ctx) -> None:
    """Drops the draft after confirmation, or goes back to where the host was."""
    await arrival_submit.on_discard(ctx)
