"""The harness itself: a resident onboards over the fake Telegram server."""

import pytest

from tests.support.harness import BotHarness


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_onboarding_over_telegram(make_config, sqlite_url, clock, mode):
    async with BotHarness(make_config, sqlite_url, clock, mode=mode) as h:
        u = h.user(1001, "Alice", "alice")
        out = await u.send("/start")
        assert any("Đồng ý" in str(s.reply_markup) for s in out)
        await u.press("Đồng ý")
        await u.press("Tiếng Việt")
        assert "tỉnh/thành phố" in u.last_text()
