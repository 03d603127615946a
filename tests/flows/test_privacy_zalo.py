"""/dulieu on Zalo (numbered menus, no file uploads): see, correct the name, copy as
signed links when ``[web] public_url`` is set (else a clear text), withdraw, delete."""

from __future__ import annotations

import json
import re

import aiohttp
from sqlalchemy import select

from storage.tables import Identity, Person
from tests.flows.privacy_steps import SECTIONS, person_needles, traces
from tests.support.zalo_harness import ZaloHarness, onboard_on_zalo, seed_places

ZID = "5830291746352810012"  # Zalo ids are long digit strings
NAME = "Trần Thị Lan"


def text_of(sent) -> str:
    return "\n".join(s.text or "" for s in sent)


async def person(h, user_id: str) -> Person | None:
    async with h.rt.deps.db.read() as s:
        return (await s.execute(select(Person).join(Identity).where(
            Identity.channel == "zalo", Identity.user_id == user_id))).scalar_one_or_none()


async def test_every_right_on_zalo(make_config, sqlite_url, clock):
    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        await seed_places(h)
        lan = h.zuser(ZID, NAME)
        await onboard_on_zalo(lan)
        assert (await person(h, ZID)).display_name == NAME

        await lan.send("/dulieu")
        out = text_of(await lan.choose("Xem"))
        assert NAME in out and "+84912345678" in out and "Mã yêu cầu: DL-26-" in out

        # Correct the name through the numbered settings menu.
        await lan.send("/dulieu")
        await lan.choose("Sửa")
        out = text_of(await lan.choose("Tên, điện thoại"))
        assert "Mã yêu cầu: DL-26-" in out and f"Tên: {NAME}" in out
        await lan.choose("Tên")
        out = text_of(await lan.send("Trần Thị Ngọc Lan"))
        assert "Tên: Trần Thị Ngọc Lan" in out

        # Copy: three signed links, 24 hours, that really serve the files.
        await lan.send("/dulieu")
        assert "Đang chuẩn bị bản sao" in text_of(await lan.choose("Tải bản sao"))
        await h.tick()
        await h.deliver()
        got = text_of(lan.inbox())
        urls = re.findall(r"https?://\S+/files/\S+", got)
        assert len(urls) == 3 and got.count("24 giờ") >= 3
        url = next(u for u in urls if ".json" in u)
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            assert r.status == 200
            data = json.loads(await r.read())
        assert list(data) == list(SECTIONS)
        assert data["profile"]["name"] == "Trần Thị Ngọc Lan"
        assert data["accounts"][0]["user_id"] == ZID

        # Withdraw, then delete.
        await lan.send("/dulieu")
        await lan.choose("Rút lại")
        assert "Đã rút lại đồng ý" in text_of(await lan.choose("Rút lại đồng ý"))
        await lan.send("/dulieu")
        await lan.choose("Xóa dữ liệu")
        assert "Đã xóa dữ liệu của bạn" in text_of(await lan.choose("Xóa vĩnh viễn"))
        assert await person(h, ZID) is None
        needles = person_needles(names=[NAME, "Trần Thị Ngọc Lan"], phone="+84912345678",
                                 accounts=[("zalo", ZID, ZID)])
        assert await traces(h.rt.deps.db, needles) == []
        # The copies left the server with the person.
        assert not any(p.is_file() for p in (h.config.data_path / "files").rglob("*"))


async def test_without_a_public_address_zalo_says_so_clearly(make_config, sqlite_url, clock):
    async with ZaloHarness(make_config, sqlite_url, clock,
                           overrides={"web": {"public_url": ""}}) as h:
        await seed_places(h)
        lan = h.zuser(ZID, NAME)
        await onboard_on_zalo(lan)
        await lan.send("/dulieu")
        await lan.choose("Tải bản sao")
        await h.tick()
        await h.deliver()
        got = text_of(lan.inbox())
        assert "/files/" not in got
        assert got.count("không gửi được qua Zalo") == 3 and "web hoặc Telegram" in got
