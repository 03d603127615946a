"""A real browser (Debian's Chromium, driven by Playwright) uses the staff console: an
officer signs in through the link /web sent in chat, finds the case on the board (an
overdue one marked), acknowledges and closes it, and the resident is told in chat; a
leader opens the statistics, whose screenshot the README shows
(docs/screenshots/console-stats.png). Nothing is fetched from anywhere but the app.

Skips with the reason when /usr/bin/chromium or Playwright is missing; never downloads a
browser.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.console.test_signin import link_from_chat
from tests.console.test_stats import seed_figures
from tests.support.console import base_url, link_token
from tests.support.seed import file_tip, harness, onboard, seed_world

CHROMIUM = Path("/usr/bin/chromium")
# The README's picture is refreshed only on request (BINHYEN_SCREENSHOTS=1): a test run
# must not change tracked files.
SCREENSHOT = (Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "console-stats.png"
              if os.environ.get("BINHYEN_SCREENSHOTS") == "1"
              else Path(tempfile.gettempdir()) / f"binhyen-{os.getpid()}-console-stats.png")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); the console browser "
                "test needs Debian's Chromium and never downloads one", allow_module_level=True)
async_api = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed (pip install -e '.[dev]')")

pytestmark = pytest.mark.browser


async def test_an_officer_works_a_case_and_a_leader_reads_the_charts(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        await seed_figures(h, w)
        resident = await onboard(h, 2001, "Hoa")
        ref = await file_tip(resident)
        await h.deliver()
        resident.inbox()
        link = link_from_chat(await w.officer.user.send("/web"))
        leader_token = await link_token(h, w.leader.person_id)
        requests: list[str] = []
        problems: list[str] = []
        async with async_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS,
                                               headless=True)
            try:
                phone = await browser.new_context(viewport={"width": 412, "height": 900},
                                                  locale="vi-VN")
                page = await phone.new_page()
                page.set_default_timeout(15_000)
                page.on("request", lambda r: requests.append(r.url))
                page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
                await page.goto(link)
                await page.get_by_role("button", name="Đăng nhập").click()
                await page.wait_for_url("**/console/cases")
                row = page.locator(f"tr[data-ref='{ref}']")
                await async_api.expect(row).to_be_visible()
                assert await page.locator("tr.overdue .badge.late").count() >= 1
                await row.get_by_role("link", name=ref).click()
                await page.get_by_role("button", name="✅ Tiếp nhận").click()
                await async_api.expect(page.locator(".notice")).to_contain_text("Đã tiếp nhận")
                await page.locator("select[name=outcome]").select_option("resolved")
                await page.locator("textarea[name=reason]").fill(
                    "Đã xác minh tại chỗ, lập biên bản nhắc nhở")
                await page.get_by_role("button", name="🏁 Kết thúc").click()
                await async_api.expect(page.locator(".notice")).to_contain_text("Đã đóng tin")
                await async_api.expect(page.locator(".meta")).to_contain_text("đã kết thúc")
                await phone.close()

                desk = await browser.new_context(viewport={"width": 1280, "height": 1640},
                                                 locale="vi-VN")
                page = await desk.new_page()
                page.set_default_timeout(15_000)
                page.on("request", lambda r: requests.append(r.url))
                page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
                await page.goto(f"{base_url(h)}/console/login?token={leader_token}")
                await page.get_by_role("button", name="Đăng nhập").click()
                await page.wait_for_url("**/console/cases")
                await page.get_by_role("link", name="Thống kê").click()
                await async_api.expect(page.locator("h1")).to_have_text("Thống kê")
                await page.wait_for_load_state("networkidle")
                widths = await page.eval_on_selector_all(
                    "figure img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
                assert len(widths) == 8 and all(wd > 0 for wd in widths), widths
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOT))
                await desk.close()
            finally:
                await browser.close()
        assert not problems, problems
        hosts = {urlparse(u).hostname for u in requests}
        assert hosts == {"127.0.0.1"}, hosts
        await h.deliver()
        told = "\n".join(resident.texts())
        assert f"Tin {ref} đã được xử lý xong" in told and "Đã giải quyết" in told
        assert SCREENSHOT.stat().st_size > 20_000
