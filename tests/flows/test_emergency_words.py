"""The 113/114/115 line in /baotin comes for words of danger, not for everyday words that
only look like them without accents (nó/nổ, đào/dao, đám/đâm, chạy/cháy)."""

from __future__ import annotations

import pytest

from tests.support.seed import harness, onboard, seed_world, texts

NUMBERS = ("113", "114", "115")


@pytest.mark.parametrize("description,alarm", [
    ("Nó đi đào mương trước nhà, đám cưới bên cạnh chạy loa tới khuya", False),
    ("Tối qua đi dạo thấy xe chạy rất nhanh, ăn chay xong còn no", False),
    ("toi di dao pho thay no dang chay xe", False),  # without accents: could be anything
    ("Có người cầm dao đứng trước cổng", True),
    ("Có tiếng nổ lớn ở kho hàng", True),
    ("co nguoi chay nha o so 7", True),  # without accents, but unambiguous
    ("hai nhom dam nhau truoc quan", True),
])
async def test_the_emergency_line_comes_only_for_danger(make_config, sqlite_url, clock,
                                                       description, alarm):
    async with harness(make_config, sqlite_url, clock) as h:
        await seed_world(h)
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa")
        await u.send("/baotin")
        await u.press("Mất trật tự công cộng")
        out = texts(await u.send(description))
        assert any(all(n in t for n in NUMBERS) for t in out) is alarm, out
        assert "xảy ra ở đâu" in out[-1]  # the report goes on either way
