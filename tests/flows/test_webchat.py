"""The built-in web chat: the page, its cookie, whole dialogs over the WebSocket, history on
reconnect, demo identities, and a page that needs nothing from the Internet."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.services import demo
from storage.repos import people
from storage.tables import Delivery, Person, WebChatMessage
from tests.flows.dialogs import (
    NASTY,
    NASTY_ESCAPED,
    PDF,
    area_by_code,
    count,
    person_of,
    png,
    seed_places,
    village,
    web_app,
)


async def onboard_web(chat) -> None:
    await chat.say("/start")
    await chat.press("Đồng ý")
    await chat.press("Tiếng Việt")
    await chat.say("da nang")
    await chat.press("Đà Nẵng")
    await chat.say("hai chau")
    await chat.press("Phường Hải Châu")
    await chat.press("Tổ dân phố 1")
    await chat.contact("0912 345 678")


async def test_page_sets_a_session_cookie(make_config, sqlite_url):
    async with web_app(make_config, sqlite_url) as app:
        chat = app.visitor()
        html = await chat.open_page()
        assert "<title>Bình Yên</title>" in html
        cookie = chat.cookie
        assert re.fullmatch(r"w[A-Za-z0-9_-]{20,}", cookie)
        async with chat.session.get(f"{app.base}/chat") as r:
            set_cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
        assert chat.cookie == cookie  # the same visitor keeps the same session
        other = app.visitor()
        await other.open_page()
        assert other.cookie and other.cookie != cookie


async def test_webchat_switched_off_serves_no_chat(make_config, sqlite_url):
    """``[web] webchat = false``: no page, no socket; the console and the API stay."""
    async with web_app(make_config, sqlite_url, web={"webchat": False}) as app, \
            aiohttp.ClientSession() as s:
        async with s.get(f"{app.base}/chat?start=inv_x") as r:
            assert r.status == 404
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await s.ws_connect(f"{app.base}/chat/ws")
        assert refused.value.status == 404
        async with s.get(f"{app.base}/", allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (302, "/console")
        async with s.get(f"{app.base}/console") as r:  # asks to sign in, as always
            html = await r.text()
            assert r.status == 401 and "Trang quản lý" in html
            assert "/static/console.css" in html
        async with s.get(f"{app.base}/static/console.css") as r:
            assert r.status == 200
        async with s.get(f"{app.base}/api/v1/openapi.json") as r:
            assert r.status == 200
        async with s.get(f"{app.base}/healthz") as r:
            assert r.status == 200
        # Invitations made in the console carry no link to a page that does not exist.
        assert app.rt.deps.links.web_start("inv_x") == ""

    async with web_app(make_config, sqlite_url) as app, aiohttp.ClientSession() as s:
        async with s.get(f"{app.base}/", allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (302, "/chat")
        assert app.rt.deps.links.web_start("inv_x") == f"{app.base}/chat?start=inv_x"


async def test_socket_without_a_session_is_refused(make_config, sqlite_url):
    async with web_app(make_config, sqlite_url) as app, aiohttp.ClientSession() as s, \
            s.ws_connect(f"{app.base}/chat/ws") as ws:
        msg = await ws.receive_json(timeout=5)
        assert msg["type"] == "error"


async def test_whole_onboarding_over_the_websocket(make_config, db_url):
    async with web_app(make_config, db_url) as app:
        db = app.rt.deps.db
        await seed_places(db)
        chat = app.visitor()
        await chat.open_page()
        assert await chat.connect() == []

        out = await chat.say("/start")
        assert [m["type"] for m in out] == ["message", "message"]
        # Not stored before consent, so no id: the page must not take the second for a
        # repeat of the first (it skips ids it already shows).
        assert [m["id"] for m in out] == [None, None]
        labels = [c["label"] for row in out[-1]["choices"] for c in row]
        assert any("Đồng ý" in x for x in labels) and "Không đồng ý" in labels
        assert await person_of(db, "web", chat.cookie) is None

        out = await chat.press("Đồng ý")
        assert "ngôn ngữ" in out[-1]["text"]
        out = await chat.say("tieng viet")  # typed labels work here too
        assert "tỉnh/thành phố" in out[-1]["text"]
        await chat.say("da nang")
        await chat.press("Đà Nẵng")
        out = await chat.say("hai chau")
        assert "Phường Hải Châu" in [c["label"] for row in out[-1]["choices"] for c in row]
        await chat.press("Phường Hải Châu")
        out = await chat.press("Tổ dân phố 1")
        assert out[-1]["ask"] == "contact"
        out = await chat.contact("0912 345 678")
        assert "Xong" in out[0]["text"] and "Tổ dân phố 1" in out[0]["text"]

        person = await person_of(db, "web", chat.cookie)
        assert person is not None and person.consent
        assert person.phone == "+84912345678"
        assert person.home_area_id == (await village(db, 0)).id

        # Reconnecting (a reload, a lost connection) replays the conversation.
        history = await chat.connect()
        texts = [m["text"] for m in history]
        assert any("Xong" in t for t in texts)
        assert "tieng viet" in texts and "hai chau" in texts  # the visitor's own messages
        assert [m["from"] for m in history].count("user") >= 7
        ids = [m["id"] for m in history]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_refusal_over_the_web_stores_nothing(make_config, sqlite_url):
    async with web_app(make_config, sqlite_url) as app:
        db = app.rt.deps.db
        chat = app.visitor()
        await chat.open_page()
        await chat.connect()
        await chat.say("/start")
        out = await chat.press("Không đồng ý")
        assert "tel:113" in out[-1]["text"] and "tel:115" in out[-1]["text"]
        assert await count(db, Person) == 0
        assert await count(db, WebChatMessage) == 0  # no history kept without consent
        assert await chat.connect() == []


async def test_history_survives_a_restart_and_the_dialog_continues(make_config, sqlite_url):
    async with web_app(make_config, sqlite_url) as app:
        await seed_places(app.rt.deps.db)
        chat = app.visitor()
        await chat.open_page()
        await chat.connect()
        await chat.say("/start")
        await chat.press("Đồng ý")
        await chat.press("Tiếng Việt")
        await chat.say("da nang")
        await chat.press("Đà Nẵng")
        before = await chat.connect()
        await app.restart()
        after = await chat.connect()
        assert after == before
        chat.received.clear()
        out = await chat.say("hai chau")  # still at the commune question
        assert "Phường Hải Châu" in [c["label"] for row in out[-1]["choices"] for c in row]


async def test_stale_buttons_escaping_and_photos_on_the_web(make_config, sqlite_url):
    async with web_app(make_config, sqlite_url,
                       limits={"photo_max_bytes": 4096}) as app:
        await seed_places(app.rt.deps.db)
        chat = app.visitor()
        await chat.open_page()
        await chat.connect()
        first = await chat.say("/start")
        old = next(c["payload"] for row in first[-1]["choices"] for c in row
                   if "Đồng ý" in c["label"])
        await chat.press("Đồng ý")
        await chat.press("Tiếng Việt")
        out = await chat.press_payload(old, "Đồng ý")
        assert out[-1]["text"] == "Nút này không còn hiệu lực."

        out = await chat.say(NASTY)
        assert NASTY_ESCAPED in out[-1]["text"] and "<script>" not in out[-1]["text"]
        history = await chat.connect()
        assert NASTY_ESCAPED in [m["text"] for m in history if m["from"] == "user"]

        await chat.say("da nang")
        await chat.press("Đà Nẵng")
        await chat.say("hai chau")
        await chat.press("Phường Hải Châu")
        await chat.press("Tổ dân phố 1")
        await chat.press("Bỏ qua")
        await chat.say("/baotin")
        await chat.press("Người, xe, hoạt động khả nghi")
        await chat.say("Người lạ chụp ảnh từng nhà")
        await chat.press("Tổ dân phố 1")
        await chat.press("Bỏ qua")
        out = await chat.press("Đang xảy ra")
        assert out[-1]["ask"] == "photo"
        out = await chat.photo(png())
        assert "(1/5)" in out[-1]["text"]
        out = await chat.photo(PDF)
        assert "Chỉ nhận ảnh JPEG, PNG hoặc WebP." in out[0]["text"]
        out = await chat.photo(png() + b"\x00" * 5000)
        assert out[0]["text"] == "Ảnh quá lớn. Hãy gửi ảnh không quá 4 KB."
        out = await chat._send({"type": "photo", "data": "not base64!"})
        assert "Chỉ nhận ảnh" in out[0]["text"]


async def test_an_answer_with_a_refused_photo_on_the_web(make_config, sqlite_url):
    """The tipster's answer step refuses a photo on the web as on Telegram: the reason,
    nothing relayed, and the step still waiting."""
    async with web_app(make_config, sqlite_url, limits={"photo_max_bytes": 4096}) as app:
        await seed_places(app.rt.deps.db)
        commune = await area_by_code(app.rt.deps.db, "20242")
        async with app.rt.deps.db.uow() as s:
            officer = await people.add_person(s, channel="telegram", user_id="9001",
                                              chat_id="9001", language="vi",
                                              display_name="Trần Văn Bình")
            officer.consent = True
            await people.grant(s, officer.id, "officer", commune.id)
        chat = app.visitor()
        await chat.open_page()
        await chat.connect()
        await onboard_web(chat)
        await chat.say("/baotin")
        await chat.press("Người, xe, hoạt động khả nghi")
        await chat.say("Người lạ chụp ảnh từng nhà")
        await chat.press("Tổ dân phố 1")
        await chat.press("Bỏ qua")
        await chat.press("Đang xảy ra")
        await chat.press("Bỏ qua")
        await chat.press("Ẩn danh")
        out = await chat.press("Gửi tin")
        ref = re.findall(r"BY-\d\d-\d{6}", out[-1]["text"])[0]

        await chat.say("/tincuatoi")
        await chat.press(ref)
        await chat.press("Bổ sung thông tin")
        out = await chat.photo(PDF)
        assert [m["text"] for m in out] == ["Chỉ nhận ảnh JPEG, PNG hoặc WebP."]
        out = await chat.photo(png() + b"\x00" * 5000)
        assert [m["text"] for m in out] == ["Ảnh quá lớn. Hãy gửi ảnh không quá 4 KB."]
        assert await count(app.rt.deps.db, Delivery, Delivery.kind == "case_relay") == 0
        out = await chat.photo(png())
        assert out[0]["text"].startswith(f"Đã gửi tới cán bộ phụ trách (tin {ref}).")
        assert await count(app.rt.deps.db, Delivery, Delivery.kind == "case_relay") == 1


async def test_demo_mode_as_officer(make_config, sqlite_url):
    async with web_app(make_config, sqlite_url, demo_mode=True) as app:
        db = app.rt.deps.db
        async with db.uow() as s:
            await demo.seed(s, notice_version=app.config.bot.notice_version,
                            at=datetime.now(UTC))
        chat = app.visitor()
        html = await chat.open_page("?as=officer")
        assert chat.cookie == "demo-officer"
        for p in demo.DEMO_PEOPLE:
            assert f'href="?as={p.key}"' in html
        assert 'aria-current="page">Cán bộ Nguyễn Văn An' in html
        await chat.connect()
        out = await chat.say("/start")
        text = out[-1]["text"]
        assert "Chào mừng bạn trở lại" in text
        assert "cán bộ công an phụ trách địa bàn — Phường Hải Châu" in text
        out = await chat.say("/viec")
        assert "Không có tin nào" in out[-1]["text"]

        resident = app.visitor()
        await resident.open_page("?as=resident")
        assert resident.cookie == "demo-resident"
        await resident.connect()
        out = await resident.say("/viec")
        assert "chỉ dành cho cán bộ" in out[-1]["text"]
        # An unknown demo key is a new visitor, not someone else's session.
        stranger = app.visitor()
        await stranger.open_page("?as=nobody")
        assert not stranger.cookie.startswith("demo-")


async def test_demo_identities_need_demo_mode(make_config, sqlite_url):
    async with web_app(make_config, sqlite_url, demo_mode=False) as app:
        chat = app.visitor()
        html = await chat.open_page("?as=officer")
        assert not chat.cookie.startswith("demo-")
        assert "?as=" not in html
        # A demo cookie set earlier is not honoured either.
        chat.session.cookie_jar.update_cookies({"binhyen_chat": "demo-officer"})
        await chat.open_page()
        assert chat.cookie != "demo-officer"


async def test_the_page_works_without_internet(make_config, sqlite_url):
    async with web_app(make_config, sqlite_url, demo_mode=True) as app:
        chat = app.visitor()
        html = await chat.open_page()
        refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html)
        assets = [r for r in refs if r.startswith("/")]
        assert "/static/chat.js" in assets and "/static/chat.css" in assets
        for ref in refs:
            assert ref.startswith(("/", "?", "#", "tel:", "data:")), ref
        bodies = {"/chat": html}
        for path in assets:
            async with chat.session.get(app.base + path) as r:
                assert r.status == 200, path
                bodies[path] = await r.text()
        for path, body in bodies.items():
            for url in re.findall(r"https?://[^\s'\"<>)]+", body):
                assert url.startswith(app.base), (path, url)
            assert not re.search(r"""["'(]//[A-Za-z0-9]""", body), path  # protocol-relative
            assert "@import" not in body and "fonts.googleapis" not in body
        for url in re.findall(r"url\(([^)]*)\)", bodies["/static/chat.css"]):
            assert url.strip("'\" ").startswith(("data:", "/", "#")), url
