"""After a guest's field is stored: ask the next missing one, re-check the ID, or put
the finished guest into the declaration (or back in place of the one being edited)."""

from __future__ import annotations

import copy
from typing import Any

from bot.services import arrivals
from handlers.arrival_fields import id_warnings, missing
from handlers.arrival_flow import S, ask, cur, draft
from handlers.context import Ctx
from storage.tables import Guest

STAY_KEYS = ("reason", "reason_note", "from", "arrived", "to", "room")


async def continue_guest(ctx: Ctx) -> None:
    """Ask the first missing field; when none is missing, re-check or finish the guest."""
    step = missing(cur(ctx))
    if step is not None:
        await ask(ctx, step)
    elif id_warnings(cur(ctx)) and not cur(ctx).get("id_confirmed"):
        await ask(ctx, S.RECHECK)
    else:
        await finish_guest(ctx)


async def finish_guest(ctx: Ctx) -> None:
    """The guest is complete: into the list (or in place of the edited one)."""
    d = draft(ctx)
    guest = d.pop("cur")
    edit = d.pop("edit", None)
    if edit is not None:
        d["guests"][edit["i"]] = guest
        await ask(ctx, S.REVIEW)
        return
    d["guests"].append(guest)
    if d.get("stay_done"):
        guest.update({k: v for k, v in d["stay"].items() if k in STAY_KEYS})
        await ask(ctx, S.REVIEW)
        return
    await ask(ctx, S.GUEST)


async def on_field(ctx: Ctx, problem: str, step: str) -> None:
    """After a setter: explain and ask the same field again, or go on."""
    if problem:
        ctx.say(problem)
        await ask(ctx, step)
        return
    await continue_guest(ctx)


def edit_identity(ctx: Ctx, i: int, field: str) -> None:
    """Open guest ``i`` to change ``field``; every other value is kept."""
    d = draft(ctx)
    d["cur"] = copy.deepcopy(d["guests"][i])
    d["edit"] = {"i": i}
    if field == "id":
        d["cur"].pop("id_enc", None)
    elif field.startswith("visa_"):
        key = {"no": "no_enc"}.get(field[5:], field[5:])
        d["cur"].setdefault("visa", {}).pop(key, None)
    else:
        d["cur"].pop(field, None)
    if field in ("dob", "gender", "id"):
        d["cur"].pop("id_confirmed", None)


def guest_draft(ctx: Ctx, guest: Guest) -> dict[str, Any]:
    """A stored guest as a complete draft guest (numbers re-sealed for the draft), for
    declaring a returning guest again; the stay is asked anew."""
    cipher = ctx.deps.cipher
    number = cipher.decrypt(guest.id_cipher, arrivals.ID_CONTEXT, guest.key_id)
    visa = dict(guest.visa or {})
    if visa.get("number"):
        plain = arrivals.unseal(cipher, visa.pop("number"), arrivals.VISA_CONTEXT,
                                guest.key_id)
        visa["no_enc"] = arrivals.seal(cipher, plain, arrivals.DRAFT_CONTEXT)
    return {"foreign": guest.id_kind == "passport", "name": guest.full_name,
            "dob": guest.birth_date.isoformat() if guest.birth_date else "",
            "gender": guest.gender, "nat": guest.nationality, "visa": visa,
            "id_enc": arrivals.seal(cipher, number, arrivals.DRAFT_CONTEXT),
            "id_hash": guest.id_hash, "id_mask": guest.id_mask, "id_info": None,
            "id_confirmed": guest.id_mismatch, "phone": guest.phone or "",
            "room": guest.room or ""}
