"""/lienketzalo: one person on Telegram and Zalo, with a one-time, expiring code."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from storage.tables import AuditEntry, Case, Identity, LinkCode, Person
from tests.support.harness import TgUser
from tests.support.zalo_harness import ZaloHarness, make_officer, onboard_on_zalo, seed_places


async def code_from(u: TgUser) -> str:
    out = await u.send("/lienketzalo")
    text = "\n".join(s.text or "" for s in out)
    assert "10 phút" in text and "Đừng đưa mã này cho ai" in text
    match = re.search(r"/lienketzalo ([A-Z0-9]{8})", text)
    assert match, text
    return match.group(1)


async def owner(h: ZaloHarness, channel: str, user_id: str) -> int | None:
    async with h.rt.deps.db.read() as s:
        return (await s.execute(select(Identity.person_id).where(
            Identity.channel == channel, Identity.user_id == user_id))).scalar_one_or_none()


async def test_an_officers_role_follows_them_to_zalo(make_config, db_url, clock):
    async with ZaloHarness(make_config, db_url, clock) as h:
        await seed_places(h)
        hung_tg = h.user(501, "Hùng")
        await make_officer(h, hung_tg)
        code = await code_from(hung_tg)
        async with h.rt.deps.db.read() as s:
            stored = (await s.execute(select(LinkCode))).scalar_one()
        assert code not in stored.code_hash and len(stored.code_hash) == 64  # only a hash

        hung_zl = h.zuser("zo-9", "Hùng")
        out = await hung_zl.send("/viec")
        assert "chỉ dành cho cán bộ" in out[-1].text  # not staff on Zalo yet
        out = await hung_zl.send(f"/lienketzalo {code.lower()[:4]}-{code.lower()[4:]}")
        text = "\n".join(s.text or "" for s in out)
        assert "Đã liên kết" in text and "Telegram, Zalo" in text
        assert "cán bộ công an phụ trách địa bàn" in text  # the role came along
        assert await owner(h, "zalo", "zo-9") == await owner(h, "telegram", "501")
        out = await hung_zl.send("/viec")
        assert "Không có tin nào" in out[-1].text  # a staff command now works on Zalo

        # The code worked once.
        other = h.zuser("zx-1", "Kẻ gian")
        out = await other.send(f"/lienketzalo {code}")
        assert "không đúng hoặc đã được dùng" in out[-1].text
        assert await owner(h, "zalo", "zx-1") is None
        async with h.rt.deps.db.read() as s:
            actions = (await s.execute(select(AuditEntry.action))).scalars().all()
        assert "link.code" in actions and "person.link" in actions


async def test_codes_expire_and_wrong_ones_are_refused(make_config, sqlite_url, clock):
    async with ZaloHarness(make_config, sqlite_url, clock) as h:
        await seed_places(h)
        hung_tg = h.user(501, "Hùng")
        await make_officer(h, hung_tg)
        code = await code_from(hung_tg)
        z = h.zuser("zo-9", "Hùng")
        out = await z.send("/lienketzalo ABCDEFGH")
        assert "không đúng" in out[-1].text
        out = await z.send("/lienketzalo")  # not registered here: how it works
        assert "Trên tài khoản đã đăng ký" in out[-1].text
        clock.advance(minutes=11)
        out = await z.send(f"/lienketzalo {code}")
        assert "hết hạn" in out[-1].text
        # A new code replaces the old one; on the same channel it is refused.
        fresh = await code_from(hung_tg)
        out = await h.user(777, "Khác").send(f"/lienketzalo {fresh}")
        assert "kênh còn lại" in out[-1].text
        out = await hung_tg.send(f"/lienketzalo {fresh}")
        assert "đã được liên kết với bạn rồi" in out[-1].text
        assert await owner(h, "zalo", "zo-9") is None


async def test_a_zalo_resident_with_history_is_merged_into_their_older_telegram_self(
        make_config, db_url, clock):
    async with ZaloHarness(make_config, db_url, clock) as h:
        await seed_places(h)
        an_tg = h.user(2001, "An")
        await make_officer(h, an_tg, role="village_head")  # older person, with a role
        an_zl = h.zuser("zl-an", "An")
        await onboard_on_zalo(an_zl, phone="0935111222")  # newer person, with a tip
        for answer in ("1", "1", "Đèn đường hỏng, khu vực tối", "1", "0", "1", "0",
                       "an danh", "1"):
            await an_zl.send(answer)
        old_id, new_id = await owner(h, "telegram", "2001"), await owner(h, "zalo", "zl-an")
        assert old_id is not None and new_id is not None and old_id < new_id

        code = await code_from(an_tg)
        out = await an_zl.send(f"/lienketzalo {code}")
        assert "Đã liên kết" in out[0].text
        assert await owner(h, "zalo", "zl-an") == old_id
        async with h.rt.deps.db.read() as s:
            assert await s.get(Person, new_id) is None  # the newer person is gone
            kept = await s.get(Person, old_id)
            case = (await s.execute(select(Case))).scalar_one()
            n_people = (await s.execute(select(func.count()).select_from(Person))).scalar_one()
            entry = (await s.execute(select(AuditEntry).where(
                AuditEntry.action == "person.link"))).scalar_one()
        assert case.reporter_id == old_id  # history follows
        assert kept is not None and kept.phone == "+84935111222"  # filled from the newer one
        assert n_people == 1
        assert entry.details["merged"] == new_id and entry.details["channel"] == "zalo"
        out = await an_zl.send("/tincuatoi")
        assert "BY-26-000001" in out[-1].text
