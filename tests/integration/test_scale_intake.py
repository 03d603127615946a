"""Two web processes on one PostgreSQL take the same conversation's updates in turn: a
dialog whose steps alternate between the processes is answered in order, and five photos
posted at once, alternating between the two webhooks, all end in the tip draft — each
one counted once (1/5 … 5/5), none lost. The PostgreSQL advisory lock per conversation
serialises them; the fake Telegram server runs in its own process."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.services import areas as areas_svc
from storage.db import Database, make_engine
from storage.repos import areas, conversations, people
from storage.tables import Attachment, Case
from tests.support.databases import fresh_pg_database, require_pg
from tests.support.fake_telegram_process import FakeProcess
from tests.support.processes import TOKEN, close_all, migrated, now, start_all, write_config

pytestmark = pytest.mark.postgres
RESIDENT = 7_100_001
OFFICER = 7_100_900
VILLAGE = "Tổ dân phố 1"


async def seed(url: str) -> None:
    await migrated(url)
    db = Database(make_engine(url))
    try:
        async with db.uow() as s:
            await areas_svc.import_units(s, "48")
            village = await areas_svc.add_village(s, parent_code="20242", name=VILLAGE,
                                                  type_=None, at=now(), actor="test")
            commune = await areas.by_code(s, "20242")
            assert commune is not None
            officer = await people.add_person(s, channel="telegram", user_id=str(OFFICER),
                                              chat_id=str(OFFICER), language="vi",
                                              display_name="Trần Văn Bình")
            officer.consent = True
            await people.grant(s, officer.id, "officer", commune.id)
            resident = await people.add_person(s, channel="telegram", user_id=str(RESIDENT),
                                               chat_id=str(RESIDENT), language="vi",
                                               display_name="Nguyễn Thị Hoa")
            resident.consent, resident.home_area_id = True, village.id
    finally:
        await db.close()


async def draft_photos(url: str) -> list[list[object]]:
    db = Database(make_engine(url))
    try:
        async with db.read() as s:
            row = await conversations.load(s, ("telegram", str(RESIDENT), str(RESIDENT)))
            assert row is not None
            return list(row.data["draft"]["photos"])
    finally:
        await db.close()


async def test_one_conversation_over_two_web_processes_stays_serialised(tmp_path: Path) -> None:
    require_pg()
    async with fresh_pg_database() as url, FakeProcess(TOKEN) as tg:
        await seed(url)
        config = write_config(tmp_path, url, tg.api,
                              limits={"per_chat_per_second": 1000, "global_per_second": 10000})
        a, b = procs = await start_all(config, ("web",), ("web",))
        try:
            # A dialog whose steps alternate between the two processes, answered in order.
            steps = [(a, "text", "/baotin", "Bạn muốn báo về việc gì?"),
                     (b, "press", "Tố giác tội phạm", "Hãy kể lại điều bạn thấy"),
                     (a, "text", "Hai thanh niên lạ mặt đi xe máy không biển số, nhìn vào "
                                 "các nhà trong hẻm 45", "xảy ra ở đâu?"),
                     (b, "press", VILLAGE, "Địa điểm cụ thể"),
                     (a, "text", "Hẻm 45 Lê Lợi", "xảy ra khi nào?"),
                     (b, "press", "Đang xảy ra", "Gửi ảnh nếu có (0/5)")]
            for proc, kind, what, expected in steps:
                act = tg.text if kind == "text" else tg.press
                answer = await act(RESIDENT, what, proc.webhook)
                assert answer["status"] == 200
                assert any(expected in r for r in answer["replies"]), (what, answer)

            # Five photos at once, alternating between the two webhooks.
            answers = await asyncio.gather(*(
                tg.photo(RESIDENT, n, (a, b)[n % 2].webhook) for n in range(5)))
            assert [x["status"] for x in answers] == [200] * 5
            texts = await tg.texts(RESIDENT)
            after = texts[max(i for i, t in enumerate(texts) if "(0/5)" in t) + 1:]
            counts = sorted(int(m.group(1)) for t in after if (m := re.search(r"\((\d)/5\)", t)))
            assert counts == [1, 2, 3, 4, 5]  # each photo saw the ones before it
            assert len(await draft_photos(url)) == 5

            for proc, label in ((a, "Xong phần ảnh"), (b, "Ẩn danh"), (a, "Gửi tin")):
                assert (await tg.press(RESIDENT, label, proc.webhook))["status"] == 200
            db = Database(make_engine(url))
            try:
                async with db.read() as s:
                    case = (await s.execute(select(Case))).scalar_one()
                    photos = (await s.execute(select(func.count()).select_from(Attachment)
                                              .where(Attachment.case_id == case.id))
                              ).scalar_one()
            finally:
                await db.close()
            assert photos == 5
        finally:
            await close_all(procs)
