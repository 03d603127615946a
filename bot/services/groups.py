"""Neighbourhood group chats: remembered when the bot joins, linked to an area by staff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from storage.tables import GroupChat


async def find(db: AsyncSession, channel: str, chat_id: str) -> GroupChat | None:
    return (await db.execute(select(GroupChat).where(
        GroupChat.channel == channel, GroupChat.chat_id == chat_id))).scalar_one_or_none()


async def joined(db: AsyncSession, channel: str, chat_id: str, title: str) -> GroupChat:
    group = await find(db, channel, chat_id)
    if group is None:
        group = GroupChat(channel=channel, chat_id=chat_id, title=title or None)
        db.add(group)
    group.active = True
    group.title = title or group.title
    await db.flush()
    return group


async def left(db: AsyncSession, channel: str, chat_id: str) -> None:
    group = await find(db, channel, chat_id)
    if group is not None:
        group.active = False


async def link(db: AsyncSession, group: GroupChat, area_id: int, person_id: int,
               at: datetime) -> None:
    group.area_id, group.linked_by, group.linked_at = area_id, person_id, at
    audit.record(db, "group.link", at=at, actor_id=person_id, object_type="group",
                 object_id=group.id, area_id=area_id)
