"""The reporter's answers and additions, relayed without their identity to whoever answers
for the case: its assignee (passed on first when they cannot be reached), else the duty
group of its routing rule, else the area's responsible officer or nearest leaders. An
answer is never only stored while someone could read it."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Choice, Reply, esc
from bot.i18n import t
from bot.services import case_actions, cases, handover, notify, routing, tips
from broadcasts import outbox
from storage.repos import areas
from storage.tables import Attachment, Case, CaseMessage, GroupChat, RoleGrant

_ANSWER_KEY = re.compile(r"^case:(\d+):r:(\d+):")


async def reporter_says(db: AsyncSession, case: Case, text: str, now: datetime,
                        photo: tuple[str, str, int] | None = None) -> bool:
    """Store the reporter's message on the case and queue it to whoever answers for the
    case; False when nobody in the area can receive it yet (it stays on the case)."""
    msg = await cases.add_message(db, case, author="reporter", body=text, now=now,
                                  photo=photo, owner_id=case.reporter_id)
    holder = case.assignee_id
    if holder is not None and not await case_actions.reachable(db, holder):
        holder = await handover.pass_on(db, case, holder, now,
                                        key=f"case:{case.id}:pass:m{msg.id}")
    if holder is not None:
        return await _to_staff(db, case, msg, holder, now, photo_sha=_sha(photo)) > 0
    sent = 0
    target = await tips.target_for(db, case)  # once: both fall-backs start from it
    group = await duty_group(db, target)
    if group is not None:
        sent += await _to_group(db, case, msg, group, now, photo_sha=_sha(photo))
    if not sent:
        for pid in await responsible(db, case, target):
            sent += await _to_staff(db, case, msg, pid, now, photo_sha=_sha(photo))
    return sent > 0


async def resend(db: AsyncSession, case: Case, failed_key: str, holder: int,
                 now: datetime) -> None:
    """Send a relayed answer whose delivery failed (``failed_key``) to ``holder``."""
    m = _ANSWER_KEY.match(failed_key)
    msg = await db.get(CaseMessage, int(m.group(2))) if m else None
    if msg is None or msg.case_id != case.id:
        return
    photo = (await db.execute(select(Attachment.sha256).where(
        Attachment.message_id == msg.id).limit(1))).scalar_one_or_none()
    await _to_staff(db, case, msg, holder, now, photo_sha=photo or "")


async def duty_group(db: AsyncSession, target: routing.Target) -> GroupChat | None:
    """The linked duty group of the case's routing answer, if any."""
    group = await db.get(GroupChat, target.group_chat_id) if target.group_chat_id else None
    return group if group is not None and group.active else None


async def responsible(db: AsyncSession, case: Case, target: routing.Target) -> list[int]:
    """Who answers for a case nobody holds: the first reachable of the routing's officer
    and backup, else the nearest reachable leaders and admins up the area chain; for a
    case without an area, the admins."""
    area = await areas.by_id(db, case.area_id) if case.area_id else None
    if area is None:
        admins = (await db.execute(select(RoleGrant.person_id).where(
            RoleGrant.role == "admin", RoleGrant.revoked_at.is_(None))
            .order_by(RoleGrant.id))).scalars().all()
        return [p for p in dict.fromkeys(admins) if await case_actions.reachable(db, p)]
    # ``target`` is tips.target_for's: an unreachable officer is already its backup.
    for pid in (target.officer_id, target.backup_id):
        if pid and await case_actions.reachable(db, pid):
            return [pid]
    for a in await areas.ancestors(db, area):
        ids = [p for p in await routing.staff_on(db, [a.id], ("leader", "admin"))
               if await case_actions.reachable(db, p)]
        if ids:
            return ids
    return []


def _sha(photo: tuple[str, str, int] | None) -> str:
    return photo[0] if photo else ""


def _answer(case: Case, msg: CaseMessage, lang: str, *, open_button: bool) -> Reply:
    """"💬 Người báo tin … trả lời" with the case buttons; an officer who does not hold the
    case also gets "📂 Xem tin" to read it whole (never a group: the thread has notes)."""
    buttons = tips.officer_buttons(case, lang)
    if open_button:
        buttons = (*buttons, (Choice(t(lang, "officer.open_case"), f"!case:{case.id}"),))
    return Reply(text=t(lang, "relay.from_reporter", ref=case.ref, text=esc(msg.body or "📷")),
                 choices=buttons)


async def _to_staff(db: AsyncSession, case: Case, msg: CaseMessage, pid: int, now: datetime,
                    *, photo_sha: str) -> int:
    lang = await notify.language_of(db, pid)
    return await notify.to_person(
        db, pid, _answer(case, msg, lang, open_button=pid != case.assignee_id), kind="case_relay",
        key=f"case:{case.id}:r:{msg.id}:{pid}", at=now, case_id=case.id,
        priority=outbox.PRIORITY_CASE, photo_sha=photo_sha)


async def _to_group(db: AsyncSession, case: Case, msg: CaseMessage, group: GroupChat,
                    now: datetime, *, photo_sha: str) -> int:
    sent = await notify.to_chat(db, group.channel, group.chat_id,
                                _answer(case, msg, "vi", open_button=False), kind="case_relay",
                                key=f"case:{case.id}:r:{msg.id}:g{group.id}", at=now,
                                case_id=case.id, is_group=True,
                                priority=outbox.PRIORITY_CASE, photo_sha=photo_sha)
    return int(sent)
