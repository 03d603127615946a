"""A real browser (Debian's Chromium, driven by Playwright) completes onboarding in /chat.

Skips with the reason when /usr/bin/chromium or Playwright is missing; it never downloads
a browser. The app runs in-process on a free loopback port with the demo data, and the
page must not request anything from another host.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.services import demo
from storage.repos import people
from tests.flows.dialogs import COMMUNE, invite, person_of, village, web_app

CHROMIUM = Path("/usr/bin/chromium")
# The README's picture is refreshed only on request (BINHYEN_SCREENSHOTS=1): a test run
# must not change tracked files.
SCREENSHOT = (Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "webchat.png"
              if os.environ.get("BINHYEN_SCREENSHOTS") == "1"
              else Path(tempfile.gettempdir()) / f"binhyen-{os.getpid()}-webchat.png")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); the browser test "
                "needs Debian's Chromium and never downloads one", allow_module_level=True)
async_api = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed (pip install -e '.[dev]')")

pytestmark = pytest.mark.browser


async def test_onboarding_in_a_real_browser(make_config, sqlite_url):
    async with web_app(make_config, sqlite_url, demo_mode=True, bot={"province": "48"}) as app:
        db = app.rt.deps.db
        async with db.uow() as s:
            await demo.seed(s, notice_version=app.config.bot.notice_version,
                            at=datetime.now(UTC))
        requests: list[str] = []
        problems: list[str] = []
        async with async_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS,
                                               headless=True)
            try:
                page = await browser.new_page(viewport={"width": 430, "height": 900},
                                              locale="vi-VN")
                page.set_default_timeout(15_000)
                page.on("request", lambda r: requests.append(r.url))
                page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
                page.on("console", lambda m: problems.append(f"console: {m.text}")
                        if m.type == "error" else None)

                await page.goto(f"{app.base}/chat")
                log = page.locator("#log")
                # The page opens the socket and sends /start by itself.
                await page.get_by_role("button", name="✅ Đồng ý").click()
                await page.get_by_role("button", name="Tiếng Việt").click()
                await async_api.expect(log).to_contain_text("xã/phường nào")
                await page.locator("#msg").fill("hai chau")
                await page.locator("#msg").press("Enter")
                await page.get_by_role("button", name="Phường Hải Châu").click()
                await page.get_by_role("button", name="Tổ dân phố 2").click()
                await page.locator("#ask-phone-input").fill("0912 345 678")
                await page.locator(".ask-phone button[type=submit]").click()
                await async_api.expect(log).to_contain_text("Xong!")
                await async_api.expect(log).to_contain_text("Tổ dân phố 2")
                await async_api.expect(page.locator("#status")).to_have_text("")

                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOT))

                chat_id = next(c["value"] for c in await page.context.cookies()
                               if c["name"] == "binhyen_chat")
                person = await person_of(db, "web", chat_id)
                assert person is not None and person.consent
                assert person.phone == "+84912345678"
                assert person.home_area_id == (await village(db, 1)).id

                # A reload shows the whole conversation again.
                await page.reload()
                await async_api.expect(log).to_contain_text("Xong!")
                await async_api.expect(log).to_contain_text("hai chau")

                # Demo mode: the officer's identity, one click away.
                await page.goto(f"{app.base}/chat?as=officer")
                await async_api.expect(log).to_contain_text("cán bộ công an phụ trách địa bàn")
            finally:
                await browser.close()

        assert problems == []
        others = [u for u in requests if not u.startswith((app.base, "data:", "ws://127.0.0.1"))]
        assert others == [], "the page reached for another host"
        assert SCREENSHOT.stat().st_size > 10_000



async def test_an_invitation_link_opened_by_a_visitor_with_history(make_config, sqlite_url):
    """``?start=`` counts for a browser that already chats, once per page load."""
    async with web_app(make_config, sqlite_url, demo_mode=True, bot={"province": "48"}) as app:
        db = app.rt.deps.db
        async with db.uow() as s:
            await demo.seed(s, notice_version=app.config.bot.notice_version,
                            at=datetime.now(UTC))
        token = await invite(db, datetime.now(UTC), "village_head", COMMUNE)
        sent: list[str] = []

        def watch(ws: async_api.WebSocket) -> None:
            ws.on("framesent", lambda payload: sent.append(str(payload)))

        async with async_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS,
                                               headless=True)
            try:
                page = await browser.new_page(locale="vi-VN")
                page.set_default_timeout(15_000)
                page.on("websocket", watch)
                log = page.locator("#log")
                await page.goto(f"{app.base}/chat?as=resident")
                await async_api.expect(log).to_contain_text("Chào mừng bạn trở lại")
                assert len(await app.rt.webchat.history("demo-resident")) >= 2

                # The same browser opens an invitation link: the offer comes although the
                # conversation has a history.
                await page.goto(f"{app.base}/chat?start=inv_{token}")
                await async_api.expect(log).to_contain_text("Bạn được mời làm")
                assert "start=" not in page.url  # a reload will not send it again
                await page.get_by_role("button", name="✅ Nhận vai trò").click()
                await async_api.expect(log).to_contain_text("Bạn đã là")

                # The server restarts: the page reconnects by itself and sends nothing.
                async with page.expect_websocket():
                    await app.restart()
                await async_api.expect(page.locator("#status")).to_have_text("")
                await page.locator("#msg").fill("/trogiup")
                await page.locator("#msg").press("Enter")
                await async_api.expect(log).to_contain_text("các lệnh")
                async with page.expect_websocket():
                    await page.reload()
                await async_api.expect(log).to_contain_text("Bạn đã là")
                await page.locator("#msg").fill("/trogiup")
                await page.locator("#msg").press("Enter")
                await async_api.expect(log.get_by_text("/trogiup")).to_have_count(2)
            finally:
                await browser.close()

        assert sum(f"/start inv_{token}" in frame for frame in sent) == 1, sent
        texts = " ".join(m["text"] for m in await app.rt.webchat.history("demo-resident"))
        assert "không hợp lệ" not in texts  # the used invitation was never sent again
        person = await person_of(db, "web", "demo-resident")
        assert person is not None
        async with db.read() as s:
            assert await people.active_roles(s, person.id) != []
