"""Background parts of data-subject requests: build the copy, expire it later."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Reply
from bot.i18n import t
from bot.services import audit, notify, privacy, privacy_export, timers
from storage.files import FileStore
from storage.tables import Person, PrivacyRequest, Timer

EXPORT_TIMER = "privacy_export"
EXPIRE_TIMER = "privacy_expire"
EXPORT_TTL = timedelta(hours=24)


async def build_export(db: AsyncSession, files: FileStore, timer: Timer,
                       now: datetime) -> None:
    """Generate the JSON and XLSX copies and send them as files; expire them in 24 h."""
    req = await db.get(PrivacyRequest, int(timer.ref))
    person = await db.get(Person, req.person_id) if req and req.person_id else None
    if req is None or person is None:
        return
    collected = await privacy.collect(db, person)
    stamp = f"{now:%Y%m%d}"
    made = [(files.put_any(privacy_export.to_json(collected)), f"binhyen-{stamp}.json"),
            (files.put_any(privacy_export.to_xlsx(collected)), f"binhyen-{stamp}.xlsx"),
            (files.put_any(privacy_export.to_csv(collected)), f"binhyen-{stamp}.csv")]
    lang = person.language
    for sha, name in made:
        await notify.to_person(db, person.id, Reply(text=t(lang, "privacy.copy_file",
                                                           ref=req.ref), document_name=name),
                               kind="privacy", key=f"privacy:{req.ref}:{name}", at=now,
                               document_sha=sha)
        await timers.schedule(db, EXPIRE_TIMER, sha, now + EXPORT_TTL)
    privacy.complete(req, now)
    audit.record(db, "privacy.export", at=now, actor_id=person.id, actor_label="data-subject",
                 object_type="privacy_request", object_id=req.ref, files=len(made))


def handlers(files: FileStore) -> dict[str, timers.TimerHandler]:
    """Timer handlers for the scheduler, bound to the file store."""
    async def export(db: AsyncSession, timer: Timer, now: datetime) -> None:
        await build_export(db, files, timer, now)

    async def expire(db: AsyncSession, timer: Timer, now: datetime) -> None:
        files.delete(timer.ref)

    return {EXPORT_TIMER: export, EXPIRE_TIMER: expire}
