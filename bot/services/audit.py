"""The audit log: who saw or changed what. Part of the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.tables import AuditEntry


def record(db: AsyncSession, action: str, *, at: datetime, actor_id: int | None = None,
           actor_label: str = "", object_type: str = "", object_id: object = "",
           **details: Any) -> None:
    """Add an audit entry; ``details`` must hold no personal data."""
    db.add(AuditEntry(at=at, action=action, actor_id=actor_id, actor_label=actor_label,
                      object_type=object_type, object_id=str(object_id), details=details))
