"""Storing one field of the guest being entered, checked; and what to ask next.

Each ``set_*`` stores a valid value in the draft's current guest and returns "", or
returns the message that explains what is wrong (the step then asks again). An ID or
passport number is sealed at once: the plain number never enters the draft.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.domain.messages import esc
from bot.services import arrival_input as inp
from bot.services import id_numbers
from bot.services.arrivals import DRAFT_CONTEXT, local_today, seal
from handlers.arrival_flow import S, cur
from handlers.context import Ctx

NO_VISA_NUMBER = ("MTT",)  # visa exemption: no number to give
VN_ORDER = (("name", S.NAME), ("dob", S.DOB), ("gender", S.GENDER), ("id_enc", S.IDNO),
            ("phone", S.PHONE))
FOREIGN_ORDER = (("name", S.NAME), ("dob", S.DOB), ("gender", S.GENDER), ("nat", S.NAT),
                 ("id_enc", S.PASSPORT), ("visa.type", S.VISA_TYPE), ("visa.no", S.VISA_NO),
                 ("visa.expiry", S.VISA_EXP), ("visa.entry", S.ENTRY), ("phone", S.PHONE))


def _today(ctx: Ctx) -> date:
    return local_today(ctx.now, ctx.deps.config.bot.tz)


def set_name(ctx: Ctx, text: str) -> str:
    name = inp.parse_name(text)
    if name is None:
        return ctx.t("arrival.bad.name", text=esc(text[:60]))
    cur(ctx)["name"] = name
    return ""


def set_dob(ctx: Ctx, text: str) -> str:
    day = inp.parse_date(text)
    if day is None:
        return ctx.t("arrival.bad.date", text=esc(text[:40]))
    problem = inp.birth_problem(day, _today(ctx))
    if problem:
        return ctx.t(f"arrival.bad.birth_{problem}", day=f"{day:%d/%m/%Y}")
    cur(ctx)["dob"] = day.isoformat()
    cur(ctx).pop("id_confirmed", None)
    return ""


def set_gender(ctx: Ctx, text: str) -> str:
    gender = inp.parse_gender(text)
    if gender is None:
        return ctx.t("arrival.bad.gender")
    cur(ctx)["gender"] = gender
    cur(ctx).pop("id_confirmed", None)
    return ""


def set_id(ctx: Ctx, text: str) -> str:
    """A 12-digit ID (structure checked) or, for a foreigner, a passport number."""
    c = cur(ctx)
    check = id_numbers.check_passport(text) if c.get("foreign") else id_numbers.check_cccd(text)
    if not check.ok:
        n = check.number
        return ctx.t(f"arrival.bad.id_{check.error}", n=sum(ch.isdigit() for ch in n),
                     code=esc(n[:3]), digit=esc(n[3:4]))
    kind = "passport" if c.get("foreign") else "cccd"
    c["id_enc"] = seal(ctx.deps.cipher, check.number, DRAFT_CONTEXT)
    c["id_hash"] = ctx.deps.cipher.keyed_hash(id_numbers.hash_key(kind, check.number))
    c["id_mask"] = id_numbers.mask(check.number)
    c["id_info"] = [check.birth_year, check.female] if kind == "cccd" else None
    c.pop("id_confirmed", None)
    return ""


def set_phone(ctx: Ctx, text: str) -> str:
    phone = inp.parse_phone(text)
    if phone is None:
        return ctx.t("arrival.bad.phone", text=esc(text[:30]))
    cur(ctx)["phone"] = phone
    return ""


def set_nat(ctx: Ctx, text: str) -> str:
    code = inp.parse_nationality(text)
    if code is None or code == "VN":
        return ctx.t("arrival.bad.nat", text=esc(text[:40]))
    cur(ctx)["nat"] = code
    return ""


def id_warnings(c: dict[str, Any]) -> list[str]:
    """What the ID number says that disagrees with the typed birth year or gender."""
    info = c.get("id_info")
    if not info or "dob" not in c or "gender" not in c:
        return []
    year, female = info
    out = []
    if date.fromisoformat(c["dob"]).year != year:
        out.append("year")
    if (c["gender"] == "f") != female:
        out.append("gender")
    return out


def missing(c: dict[str, Any]) -> str | None:
    """The step of the first field still missing, in the order they are asked."""
    visa = c.get("visa") or {}
    for field, step in FOREIGN_ORDER if c.get("foreign") else VN_ORDER:
        if field == "visa.no" and visa.get("type") in NO_VISA_NUMBER:
            continue
        key = {"visa.no": "no_enc"}.get(field, field.removeprefix("visa."))
        present = key in visa if field.startswith("visa.") else field in c
        if not present:
            return step
    return None


def apply_line(ctx: Ctx, text: str) -> list[str]:
    """Store every recognised part of a one-line guest; returns the problems found."""
    c = cur(ctx)
    parts, unknown = inp.split_line(text, foreign=bool(c.get("foreign")))
    setters = (("name", set_name), ("dob", set_dob), ("gender", set_gender),
               ("nat", set_nat), ("id", set_id), ("phone", set_phone))
    problems = [p for key, fn in setters if key in parts for p in [fn(ctx, parts[key])] if p]
    if len(parts) + len(unknown) > 1:
        c.setdefault("phone", "")  # a line without a phone: not asked separately
    if unknown:
        problems.append(ctx.t("arrival.bad.unknown_parts", parts=esc(", ".join(unknown))))
    return problems
