"""The life of a tip: route and notify, acknowledge, relay questions, reassign, close,
escalate. Every message to anyone is a delivery row in the caller's transaction."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Choice, Reply, esc
from bot.i18n import t
from bot.services import audit, cases, categories, notify, routing, timers
from broadcasts.outbox import PRIORITY_CASE, PRIORITY_SOS, PRIORITY_STATUS
from storage.repos import areas
from storage.tables import Attachment, Case, Person

ACK_TIMER = "case_ack"
SOS_TIMER = "sos_resend"
SOS_RESEND = timedelta(minutes=2)
SOS_MAX_RESENDS = 5


def officer_buttons(case: Case, lang: str) -> tuple[tuple[Choice, ...], ...]:
    cid = case.id
    return ((Choice(t(lang, "officer.ack"), f"!ack:{cid}"),
             Choice(t(lang, "officer.ask"), f"!ask:{cid}")),
            (Choice(t(lang, "officer.forward"), f"!fwd:{cid}"),
             Choice(t(lang, "officer.close"), f"!close:{cid}")))


async def summary(db: AsyncSession, case: Case, lang: str, *, heading: str = "") -> str:
    """What an officer sees: never the tipster's identity unless they chose to be named."""
    cat = await categories.get(db, case.category_code, None)
    area = await areas.by_id(db, case.area_id) if case.area_id else None
    chain = ", ".join(areas.label(a) for a in await areas.ancestors(db, area)) if area else "—"
    lines = [heading or t(lang, "officer.new_case"),
             f"<b>{case.ref}</b> · {esc(_cat_name(cat, lang, case.category_code))}",
             t(lang, "officer.where", area=esc(chain)) + (
                 f" — {esc(case.place_text)}" if case.place_text else "")]
    if case.latitude is not None and case.longitude is not None:
        lines.append(f'📍 <a href="https://www.openstreetmap.org/?mlat={case.latitude:.5f}&'
                     f'mlon={case.longitude:.5f}">{case.latitude:.5f}, {case.longitude:.5f}</a>')
    if case.occurred:
        lines.append(t(lang, "officer.when", when=esc(case.occurred)))
    lines.append("")
    lines.append(esc(case.description))
    lines.append("")
    if case.anonymous or case.reporter_id is None:
        lines.append(t(lang, "officer.anonymous"))
    else:
        person = await db.get(Person, case.reporter_id)
        lines.append(t(lang, "officer.named", name=esc(person.display_name or "—") if person
                       else "—", phone=esc(person.phone or "—") if person else "—"))
    return "\n".join(lines)


def _cat_name(cat: object, lang: str, code: str) -> str:
    return categories.name(cat, lang) if cat is not None else code  # type: ignore[arg-type]


async def _notify_staff(db: AsyncSession, case: Case, person_id: int, now: datetime, *,
                        kind: str, key: str, heading_key: str = "officer.new_case",
                        priority: int = PRIORITY_CASE) -> None:
    lang = await notify.language_of(db, person_id)
    text = await summary(db, case, lang, heading=t(lang, heading_key))
    await notify.to_person(db, person_id, Reply(text=text, choices=officer_buttons(case, lang)),
                           kind=kind, key=key, at=now, case_id=case.id, priority=priority)
    photos = [a for a in await _attachments(db, case) if a.message_id is not None]
    for i, a in enumerate(photos):
        await notify.to_person(db, person_id, Reply(text=f"{case.ref} 📷 {i + 1}"),
                               kind="case_photo", key=f"{key}:p{a.id}", at=now,
                               case_id=case.id, priority=priority, photo_sha=a.sha256)


async def _attachments(db: AsyncSession, case: Case) -> list[Attachment]:
    from sqlalchemy import select
    return list((await db.execute(select(Attachment).where(Attachment.case_id == case.id)
                                  .order_by(Attachment.id))).scalars())


async def target_for(db: AsyncSession, case: Case) -> routing.Target:
    """Who should get ``case`` now: the routing answer, or its backup when unreachable."""
    cat = await categories.get(db, case.category_code, None)
    area = await areas.by_id(db, case.area_id) if case.area_id else None
    # A data-subject request (kind "privacy") concerns personal data: police staff only.
    team = bool(cat and cat.team_visible) and case.kind != "privacy"
    target = (await routing.resolve(db, area, case.category_code, team_visible=team)
              if area else routing.Target(None, None, None, "none"))
    if target.officer_id:
        # An officer known to have blocked the bot (or lost their role) would leave the tip
        # waiting for the escalation timer: hand it to the backup or a colleague at once.
        from bot.services import case_actions  # it imports this module

        if not await case_actions.reachable(db, target.officer_id):
            backup = await case_actions.backup_for(db, case, target.officer_id)
            if backup is not None:
                target = dataclasses.replace(target, officer_id=backup, reason="backup")
    return target


async def route_and_notify(db: AsyncSession, case: Case, now: datetime, *,
                           trigger: str = "new") -> routing.Target:
    """Find the responsible officer, notify them (and a duty group), start the ack timer.

    ``trigger`` says why in the audit log: a new case, or one that waited for someone.
    """
    target = await target_for(db, case)
    case.assignee_id = target.officer_id
    case.status = "routed" if target.officer_id or target.group_chat_id else "new"
    if target.officer_id:
        await _notify_staff(db, case, target.officer_id, now, kind="case_notify",
                            key=f"case:{case.id}:notify:{target.officer_id}",
                            priority=PRIORITY_SOS if case.kind == "sos" else PRIORITY_CASE)
    if target.group_chat_id:
        from storage.tables import GroupChat
        group = await db.get(GroupChat, target.group_chat_id)
        if group is not None:
            text = await summary(db, case, "vi")
            await notify.to_chat(db, group.channel, group.chat_id,
                                 Reply(text=text, choices=officer_buttons(case, "vi")),
                                 kind="case_notify", key=f"case:{case.id}:group",
                                 at=now, case_id=case.id, is_group=True)
    if case.ack_due_at is not None:
        await timers.schedule(db, ACK_TIMER, case.id, case.ack_due_at, level=0)
    audit.record(db, "case.route", at=now, actor_label="router", object_type="case",
                 object_id=case.ref, officer=target.officer_id, reason=target.reason,
                 trigger=trigger)
    return target


async def tell_reporter(db: AsyncSession, case: Case, key: str, now: datetime, *,
                        text: str | None = None, reply: Reply | None = None,
                        photo_sha: str = "", **fmt: object) -> bool:
    """Send a status line or relayed message to the reporter through the relay mapping."""
    relay = await cases.relay_of(db, case.id)
    if relay is None:
        return False
    lang = await notify.language_of(db, relay.person_id) if relay.person_id else "vi"
    if reply is None:
        reply = Reply(text=text if text is not None else t(lang, key, ref=case.ref, **fmt))
    await notify.to_chat(db, relay.channel, relay.chat_id, reply, kind="case_status",
                         key=f"case:{case.id}:{key}:{now.timestamp():.0f}", at=now,
                         person_id=relay.person_id, case_id=case.id,
                         priority=PRIORITY_STATUS, photo_sha=photo_sha)
    return True


async def reporter_lang(db: AsyncSession, case: Case) -> str:
    relay = await cases.relay_of(db, case.id)
    return await notify.language_of(db, relay.person_id) if relay and relay.person_id else "vi"
