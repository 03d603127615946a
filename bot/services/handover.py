"""Passing a case on when the person holding it cannot be reached, so no tip is left with
nobody (the reporter's answer to an unreachable assignee, for one)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, case_actions, tips
from storage.tables import Case


async def hand_to(db: AsyncSession, case: Case, person_id: int, now: datetime, *,
                  key: str) -> None:
    """Make ``person_id`` the assignee and send them the case headed "forwarded to you"."""
    case.assignee_id = person_id
    await tips._notify_staff(db, case, person_id, now, kind="case_notify", key=key,
                             heading_key="officer.forwarded")


async def pass_on(db: AsyncSession, case: Case, failed: int | None, now: datetime, *,
                  key: str, escalate: bool = True) -> int | None:
    """Move the case from ``failed`` (None: a duty group) to the first reachable of the
    rule's officer, its backup and the area chain's officers and leaders; with nobody,
    escalate an unacknowledged case (unless ``escalate`` is off). Returns the new holder."""
    backup = await case_actions._backup_for(db, case, failed)
    if backup is None:
        if escalate and case.status in ("new", "routed"):
            await case_actions.escalate(db, case, now, reason="unreachable")
        return None
    audit.record(db, "case.reassign", at=now, actor_label="delivery", object_type="case",
                 object_id=case.ref, old=failed, new=backup, reason="unreachable")
    await hand_to(db, case, backup, now, key=f"{key}:{backup}")
    return backup
