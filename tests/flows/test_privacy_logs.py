"""No personal field in the logs: whole dialogs on Telegram, Zalo and the web chat run
with logging set up as in production (``bot.logs.setup``: the root logger at DEBUG, the
redacting filter on the handler), and everything written is searched for names, phone
numbers in every form, ID numbers, what people typed, and the ids of anonymous tipsters."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import aiohttp
import pytest

from bot import logs
from bot.services import arrivals
from tests.flows.arrival_steps import declare
from tests.flows.dialogs import WebChat
from tests.flows.privacy_steps import person_needles
from tests.support.seed import audit_count, file_tip, onboard, person_of, seed_world
from tests.support.zalo_harness import ZaloHarness, onboard_on_zalo

NAME, USER, USERNAME = "Võ Thị Thanh Tâm", 6234567891, "thanhtam_hc"
ZID, ZNAME = "7301928475610293847", "Đặng Minh Khôi"
GUEST = "Lương Văn Quý, 03/04/1985, 001085012345, nam"
GUEST_NAME, GUEST_ID = "Lương Văn Quý", "001085012345"
ANON = "Người đàn ông tên Hùng bán hàng cấm ở ngõ 12"
ANSWER = "Hắn đi xe SH trắng"
QUESTION = "Anh ta thường đến lúc mấy giờ?"


@pytest.fixture
def production_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """``bot.logs.setup("DEBUG")`` writing to a buffer; the logging state is restored."""
    buf = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level,
             {n: logging.getLogger(n).level for n in ("httpx", "httpcore", "aiohttp.access",
                                                       "aiosqlite")})
    monkeypatch.setattr(sys, "stderr", buf)
    logs.setup("DEBUG")
    try:
        yield buf
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


async def test_whole_dialogs_leave_no_personal_data_in_the_logs(
        make_config, sqlite_url, clock, production_logs):
    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        keyed = h.rt.deps.cipher.keyed_hash
        w = await seed_world(h, officer2=False, province_leader=False, other_officer=False)
        # Telegram: onboarding with a typed phone, a named and an anonymous report, the
        # officer's question and the answer, a declaration with an ID number.
        u = await onboard(h, USER, NAME, USERNAME, phone="0912 345 678")
        pid = (await person_of(h, USER)).id
        async with h.rt.deps.db.uow() as s:
            await arrivals.add_place(s, host_id=pid, area_id=w.village1_id, kind="household",
                                     address="8 Lê Duẩn", now=clock())
        await declare(u, [GUEST])
        await u.press("Gửi khai báo")
        anon = await file_tip(u, ANON)
        await file_tip(u, "Tiếng ồn từ xưởng cơ khí suốt đêm", anonymous=False)
        await h.deliver()
        officer = w.officer.user
        await officer.send("/viec")
        await officer.press(anon)
        await officer.press("Hỏi thêm")
        await officer.send(QUESTION)
        await h.deliver()
        await u.press("Trả lời")
        await u.send(ANSWER)
        await u.press("Xong")
        await officer.press("Chi tiết")  # the officer looks at the guest's ID number:
        await officer.press("Xem số giấy tờ khách 1")
        assert GUEST_ID in officer.last_text()
        assert await audit_count(h, "arrival.show_id") == 1  # every unmasked view audited
        # Zalo: onboarding with a typed phone and an anonymous report.
        zalo = h.zuser(ZID, ZNAME)
        await onboard_on_zalo(zalo, phone="0987 654 321")
        await zalo.send("/baotin")
        await zalo.choose("khả nghi")
        await zalo.send("Có người lạ chụp ảnh từng nhà ở tổ 2")
        # The web chat: a visitor shares a phone number.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            web = WebChat(f"http://127.0.0.1:{h.config.web.port}", s)
            await web.open_page()
            await web.connect()
            await web.say("/start")
            await web.press("Đồng ý")
            await web.press("Tiếng Việt")
            await web.say("da nang")
            await web.press("Đà Nẵng")
            await web.say("hai chau")
            await web.press("Phường Hải Châu")
            await web.press("Tổ dân phố 1")
            await web.contact("+84 903 111 222")
            cookie = web.cookie
        await h.deliver()
        await h.tick()
        logging.getLogger("test").warning("a line that must reach the buffer")

    text = production_logs.getvalue()
    assert "a line that must reach the buffer" in text
    assert text.count("\n") > 20  # library DEBUG lines really were captured
    needles = person_needles(
        names=[NAME, ZNAME, GUEST_NAME], usernames=[USERNAME],
        accounts=[("telegram", str(USER), str(USER)), ("zalo", ZID, ZID),
                  ("web", cookie, cookie)], keyed=keyed)
    needles += ["912345678", "987654321", "903111222", "0987 654 321", "+84 903 111 222",
                "+84987654321", "+84903111222", GUEST_ID, ANON, ANSWER, QUESTION]
    needles += person_needles(phone="+84912345678")
    leaked = sorted({n for n in needles if n in text or n.lower() in text.lower()})
    assert leaked == [], [line for line in text.splitlines()
                          if any(n in line for n in leaked)][:5]
