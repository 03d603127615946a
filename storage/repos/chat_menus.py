"""The numbered menu a chat last saw, for channels without buttons. Never commits.

Kept as chat-wide state in ``conversations`` under the user id ``*`` (no platform user
has that id, and the engine never loads it): it survives restarts, is shared by every
bot process, and goes with the chat's other conversation rows when a person is erased.
Writes are a single upsert, so a notification and a direct reply racing for the same
chat simply leave the later menu — the one the person sees last.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import dialect
from storage.tables import Conversation, Identity, Person

CHAT_WIDE = "*"


async def save(session: AsyncSession, channel: str, chat_id: str, menu: dict[str, Any],
               at: datetime) -> None:
    """Remember ``menu`` as what ``chat_id`` last saw."""
    data = {"menu": menu}
    stmt = dialect.insert(session, Conversation).values(
        channel=channel, chat_id=chat_id, user_id=CHAT_WIDE, flow=None, step=None, data=data,
        version=1, updated_at=at)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["channel", "chat_id", "user_id"],
        set_={"data": data, "updated_at": at, "version": Conversation.version + 1}))


async def load(session: AsyncSession, channel: str, chat_id: str) -> dict[str, Any] | None:
    """The menu ``chat_id`` last saw, or None."""
    row = (await session.execute(select(Conversation.data).where(
        Conversation.channel == channel, Conversation.chat_id == chat_id,
        Conversation.user_id == CHAT_WIDE))).scalar_one_or_none()
    menu = (row or {}).get("menu")
    return menu if isinstance(menu, dict) else None


async def language_of_chat(session: AsyncSession, channel: str, chat_id: str) -> str | None:
    """The language of the person whose private chat this is (None when unknown)."""
    return (await session.execute(
        select(Person.language).join(Identity, Identity.person_id == Person.id)
        .where(Identity.channel == channel, Identity.chat_id == chat_id).limit(1))
    ).scalar_one_or_none()
