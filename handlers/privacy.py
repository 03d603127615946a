"""/dulieu (/mydata): see, copy, correct, withdraw consent, delete — on every channel."""

from __future__ import annotations

import asyncio
from enum import StrEnum

from sqlalchemy import select

from bot.domain.messages import esc
from bot.services import erasure, privacy, privacy_jobs, timers
from bot.text import nfc
from handlers.context import Ctx
from handlers.menu import main_menu
from handlers.router import Router
from storage.tables import Arrival

router = Router("privacy")


class S(StrEnum):
    MENU = "menu"
    CORRECT = "correct"
    CORRECT_WHICH = "correct_which"
    CORRECT_TEXT = "correct_text"
    CONFIRM_WITHDRAW = "confirm_withdraw"
    CONFIRM_DELETE = "confirm_delete"


OPTIONS = ("see", "copy", "correct", "withdraw", "delete")
MAX_DECLARATIONS_LISTED = 8
MAX_CORRECTION = 2000


@router.command("dulieu", "mydata", menu_vi="Dữ liệu của tôi", menu_en="My data")
async def menu(ctx: Ctx) -> None:
    """Stores nothing; explains the rights and asks which one to use."""
    if ctx.person is None:
        ctx.end()
        ctx.say(ctx.t("privacy.nothing_held"))
        return
    ctx.goto(S.MENU)
    ctx.ask(ctx.t("privacy.menu"), [(ctx.t(f"privacy.opt_{o}"), o) for o in OPTIONS]
            + [(ctx.t("common.cancel"), "cancel")], per_row=2, cancel="cancel")


def _days(ctx: Ctx) -> int:
    return ctx.deps.config.privacy.complete_days


@router.step(S.MENU)
async def choose(ctx: Ctx) -> None:
    """Records the request (reference, deadlines) and carries it out or asks to confirm."""
    assert ctx.person is not None
    if ctx.value == "cancel":
        ctx.end()
        main_menu(ctx)
        return
    if ctx.value not in OPTIONS:
        ctx.say(ctx.t("errors.need_choice"))
        return
    if ctx.value == "correct":
        await ask_correct(ctx)
        return
    if ctx.value in ("withdraw", "delete"):
        step = S.CONFIRM_WITHDRAW if ctx.value == "withdraw" else S.CONFIRM_DELETE
        ctx.goto(step)
        ctx.ask(ctx.t(f"privacy.explain_{ctx.value}"),
                [(ctx.t(f"privacy.confirm_{ctx.value}"), "yes"), (ctx.t("common.cancel"), "no")],
                cancel="no")
        return
    req = await privacy.open_request(ctx.db, ctx.person, ctx.value, ctx.now, _days(ctx))
    ctx.end()
    if ctx.value == "see":
        data = await privacy.collect(ctx.db, ctx.person)
        privacy.complete(req, ctx.now)
        ctx.say(summary(ctx, data) + "\n\n" + ctx.t("privacy.ref", ref=req.ref))
    else:
        await timers.schedule(ctx.db, privacy_jobs.EXPORT_TIMER, req.id, ctx.now)
        ctx.after_commit.append(ctx.deps.wake_scheduler)
        ctx.say(ctx.t("privacy.copy_preparing", ref=req.ref))


def _when(ctx: Ctx, iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else "—"


def summary(ctx: Ctx, data: dict) -> str:
    """The plain-language "see" answer: every kind of data held, guests' IDs masked."""
    p = data["profile"]
    lines = [ctx.t("privacy.summary_head"),
             ctx.t("privacy.summary_profile", name=esc(p["name"] or "—"),
                   phone=esc(p["phone"] or "—"), area=esc(p["home_area"] or "—"),
                   language=p["language"]),
             ctx.t("privacy.summary_accounts",
                   accounts=", ".join(esc(a["channel"] + (f" @{a['username']}"
                                                          if a["username"] else ""))
                                      for a in data["accounts"]) or "—")]
    if data["roles"]:
        roles = []
        for r in data["roles"]:
            role = r["role"]
            revoked = f" ({ctx.t('privacy.revoked')})" if r["revoked_at"] else ""
            roles.append(f"{ctx.t(f'roles.{role}')} — {esc(r['area'] or '?')}{revoked}")
        lines.append(ctx.t("privacy.summary_roles", roles="; ".join(roles)))
    for c in data["consents"]:
        lines.append(ctx.t("privacy.summary_consent", version=esc(c["notice_version"]),
                           at=_when(ctx, c["at"]),
                           granted=ctx.t("common.yes" if c["granted"] else "common.no")))
    topics = [ctx.t(f"bc_topic.{topic}") for topic in (s["topic"] for s in data["subscriptions"])]
    lines.append(ctx.t("privacy.summary_topics", topics=", ".join(topics) or "—"))
    if data["places"]:
        lines.append(ctx.t("privacy.summary_places", places="; ".join(
            esc(pl["address"]) for pl in data["places"])))
    if data["reports"]:
        lines.append(ctx.t("privacy.summary_reports", n=len(data["reports"])))
    for r in data["reports"]:
        status = r["status"]
        lines.append(f"• {r['ref']} ({esc(r['category'])}, {_when(ctx, r['created_at'])}): "
                     + ctx.t(f"status_name.{status}"))
    if data["declarations"]:
        lines.append(ctx.t("privacy.summary_declarations", n=len(data["declarations"])))
    for d in data["declarations"]:
        guests = ", ".join(f"{esc(g['full_name'])} ({esc(g['id_number'])})"
                           for g in d["guests"])
        status = d["status"]
        lines.append(f"• {d['ref']} ({_when(ctx, d['submitted_at'])}, "
                     + ctx.t(f"privacy.declaration_{status}") + f"): {guests}")
    return "\n".join(lines)


# --- correct -----------------------------------------------------------------------

async def _declarations(ctx: Ctx) -> list[Arrival]:
    assert ctx.person is not None
    return list((await ctx.db.execute(
        select(Arrival).where(Arrival.host_id == ctx.person.id)
        .order_by(Arrival.submitted_at.desc(), Arrival.id.desc())
        .limit(MAX_DECLARATIONS_LISTED))).scalars())


async def ask_correct(ctx: Ctx) -> None:
    """Asks what is wrong: the profile (self-service) or what only staff can correct."""
    ctx.goto(S.CORRECT)
    options = [(ctx.t("privacy.correct_profile"), "profile")]
    if await _declarations(ctx):
        options.append((ctx.t("privacy.correct_declaration"), "declaration"))
    options += [(ctx.t("privacy.correct_other"), "other"), (ctx.t("common.cancel"), "cancel")]
    ctx.ask(ctx.t("privacy.correct_what"), options, cancel="cancel")


@router.step(S.CORRECT)
async def correct(ctx: Ctx) -> None:
    """Profile: records the request and opens /caidat; otherwise asks which declaration or
    what to correct."""
    assert ctx.person is not None
    if ctx.value == "cancel":
        ctx.end()
        main_menu(ctx)
    elif ctx.value == "profile":
        req = await privacy.open_request(ctx.db, ctx.person, "correct", ctx.now, _days(ctx))
        privacy.complete(req, ctx.now)
        ctx.say(ctx.t("privacy.correct_profile_ref", ref=req.ref))
        await ctx.run_command("caidat")
    elif ctx.value == "declaration":
        found = await _declarations(ctx)
        if len(found) == 1:
            await ask_correction_text(ctx, found[0])
            return
        ctx.goto(S.CORRECT_WHICH)
        ctx.ask(ctx.t("privacy.correct_which"),
                [*[(f"{a.ref} · {a.submitted_at.astimezone(ctx.deps.config.bot.tz):%d/%m/%Y}",
                    str(a.id)) for a in found], (ctx.t("common.cancel"), "cancel")],
                cancel="cancel")
    elif ctx.value == "other":
        await ask_correction_text(ctx, None)
    else:
        ctx.say(ctx.t("errors.need_choice"))
        await ask_correct(ctx)


@router.step(S.CORRECT_WHICH)
async def correct_which(ctx: Ctx) -> None:
    """Stores the chosen declaration; asks what is wrong in it."""
    if ctx.value == "cancel":
        ctx.end()
        main_menu(ctx)
        return
    chosen = {str(a.id): a for a in await _declarations(ctx)}.get(ctx.value)
    if chosen is None:
        ctx.say(ctx.t("errors.need_choice"))
        return
    await ask_correction_text(ctx, chosen)


async def ask_correction_text(ctx: Ctx, arrival: Arrival | None) -> None:
    ctx.goto(S.CORRECT_TEXT)
    ctx.data["arrival_id"] = arrival.id if arrival is not None else None
    ctx.ask(ctx.t("privacy.correct_ask_text_declaration" if arrival is not None
                  else "privacy.correct_ask_text", ref=arrival.ref if arrival else ""),
            [(ctx.t("common.cancel"), "cancel")], cancel="cancel")


@router.step(S.CORRECT_TEXT)
async def correct_text(ctx: Ctx) -> None:
    """Records the request and forwards it to the responsible officer as a case."""
    assert ctx.person is not None
    if ctx.value == "cancel":
        ctx.end()
        main_menu(ctx)
        return
    text = nfc(ctx.ev.text).strip()
    if len(text) < 3:
        ctx.say(ctx.t("privacy.correct_need_text"))
        return
    arrival = None
    if ctx.data.get("arrival_id"):
        arrival = await ctx.db.get(Arrival, int(ctx.data["arrival_id"]))
        if arrival is None or arrival.host_id != ctx.person.id:
            arrival = None
    req = await privacy.open_request(ctx.db, ctx.person, "correct", ctx.now, _days(ctx))
    case = await privacy.forward_correction(ctx.db, ctx.person, req, arrival=arrival,
                                            text=text[:MAX_CORRECTION], ev=ctx.ev,
                                            now=ctx.now)
    ctx.after_commit.append(ctx.deps.wake)
    ctx.end()
    ctx.say(ctx.t("privacy.correct_forwarded", ref=req.ref, case=case.ref,
                  days=_days(ctx)))


# --- withdraw and delete -------------------------------------------------------------

@router.step(S.CONFIRM_WITHDRAW)
async def confirm_withdraw(ctx: Ctx) -> None:
    """Withdraws consent: broadcasts and optional processing stop; what the law keeps stays."""
    assert ctx.person is not None
    ctx.end()
    if ctx.value != "yes":
        main_menu(ctx)
        return
    req = await privacy.open_request(ctx.db, ctx.person, "withdraw", ctx.now, _days(ctx))
    await erasure.withdraw(ctx.db, ctx.person, ctx.now)
    privacy.complete(req, ctx.now)
    ctx.say(ctx.t("privacy.withdrawn", ref=req.ref))


_background: set[asyncio.Task[None]] = set()


@router.step(S.CONFIRM_DELETE)
async def confirm_delete(ctx: Ctx) -> None:
    """Erases the person (tips stay with the police, unlinked); nothing is kept here."""
    assert ctx.person is not None
    ctx.end()
    if ctx.value != "yes":
        main_menu(ctx)
        return
    req = await privacy.open_request(ctx.db, ctx.person, "delete", ctx.now, _days(ctx))
    await erasure.erase(ctx.db, ctx.person, ctx.now, files=ctx.deps.files)
    privacy.complete(req, ctx.now)
    ctx.person = None
    ctx.forget = True
    ctx.after_commit.append(ctx.deps.wake)
    db = ctx.deps.db

    def compact() -> None:
        # Old page images of the erased rows must not linger in SQLite's write-ahead log.
        task = asyncio.get_running_loop().create_task(erasure.compact(db))
        _background.add(task)
        task.add_done_callback(_background.discard)

    ctx.after_commit.append(compact)
    ctx.say(ctx.t("privacy.deleted", ref=req.ref), remove_keyboard=True)
