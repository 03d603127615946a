"""A real browser (Debian's Chromium, driven by Playwright) completes onboarding in /chat.

Skips with the reason when /usr/bin/chromium or Playwright is missing; it never downloads
a browser. The app runs in-process on a free loopback port with the demo data, and the
page must not request anything from another host.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.services import demo
from tests.flows.dialogs import person_of, village, web_app

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "webchat.png"
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

