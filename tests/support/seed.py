"""Seed a small world for tip and SOS tests: Đà Nẵng (48), Phường Hải Châu (20242) with two
street groups, a neighbouring commune, staff at every level, and residents onboarded over
the fake Telegram server.

    async with BotHarness(make_config, db_url, clock, background=False) as h:
        w = await seed_world(h)
        alice = await onboard(h, 2001, "Alice", "alice_hc", phone="0912345678")
        await file_tip(alice, "Có người lạ đột nhập nhà số 5")
        await h.deliver()
        assert "Tin mới" in w.officer.last_text()

Staff are created straight in the database (``people.add_person`` + ``grant``), or through
the real invitation flow with :func:`invite_staff`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.services import areas as areas_svc
from bot.services import invites
from storage.repos import areas, people
from storage.tables import AuditEntry, Case, Delivery, Person
from tests.fakes.telegram_api import Sent
from tests.support.clock import FakeClock
from tests.support.harness import BotHarness, TgUser

PROVINCE = "48"  # Thành phố Đà Nẵng
COMMUNE = "20242"  # Phường Hải Châu
OTHER_COMMUNE = "20209"  # Phường Thanh Khê
VILLAGE_1 = "Tổ dân phố 1"
VILLAGE_2 = "Tổ dân phố 2"

# A tiny valid JPEG header is enough: the file store sniffs magic bytes only.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(200))
JPEG_2 = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(200, 0, -1))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


# The bot's own pacing (1 message/s per chat) is tested elsewhere; dialogs here run unpaced.
UNPACED = {"limits": {"per_chat_per_second": 1000, "global_per_second": 10000}}


def harness(make_config: Any, db_url: str, clock: FakeClock | None, *,
            mode: str = "polling", background: bool = False,
            overrides: dict[str, dict[str, Any]] | None = None) -> BotHarness:
    """A harness whose dispatcher and timers the test drives (``h.deliver()``, ``h.tick()``)."""
    sections = {k: dict(v) for k, v in UNPACED.items()}
    if clock is None:
        # On the wall clock, routine notices would wait out the quiet hours whenever the
        # suite runs at night in Hanoi; tests of quiet hours use a controlled clock.
        sections["broadcasts"] = {"quiet_start": "00:00", "quiet_end": "00:00"}
    for k, v in (overrides or {}).items():
        sections[k] = {**sections.get(k, {}), **v}
    return BotHarness(make_config, db_url, clock, mode=mode, background=background,
                      overrides=sections)


def jpeg(n: int) -> bytes:
    """A distinct small JPEG per ``n`` (the draft de-duplicates identical photos)."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + n.to_bytes(4, "big") + b"\x11" * 64


@dataclass
class Member:
    """A staff member: their person row and their Telegram account."""

    person_id: int
    user: TgUser
    name: str
    username: str
    phone: str | None = None

    @property
    def chat(self) -> int:
        return self.user.chat

    def last_text(self) -> str:
        return self.user.last_text()


@dataclass
class World:
    province_id: int
    commune_id: int
    village1_id: int
    village2_id: int
    other_commune_id: int
    staff: dict[str, Member] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Member:
        try:
            return self.__dict__["staff"][name]
        except KeyError:
            raise AttributeError(name) from None


async def seed_areas(h: BotHarness) -> World:
    """Import Đà Nẵng's communes and add two street groups to Phường Hải Châu."""
    async with h.rt.deps.db.uow() as s:
        await areas_svc.import_units(s, PROVINCE)
        now = h.rt.deps.clock()
        v1 = await areas_svc.add_village(s, parent_code=COMMUNE, name=VILLAGE_1, type_=None,
                                         at=now, actor="test")
        v2 = await areas_svc.add_village(s, parent_code=COMMUNE, name=VILLAGE_2, type_=None,
                                         at=now, actor="test")
        prov = await areas.by_code(s, PROVINCE)
        commune = await areas.by_code(s, COMMUNE)
        other = await areas.by_code(s, OTHER_COMMUNE)
        assert prov and commune and other
        return World(prov.id, commune.id, v1.id, v2.id, other.id)


async def add_staff(h: BotHarness, user_id: int, name: str, role: str, area_id: int, *,
                    username: str | None = None, phone: str | None = None,
                    on_duty: bool = True) -> Member:
    """A staff member with a Telegram identity and one role grant, straight in the DB."""
    username = username or f"{name.split()[-1].lower()}_{user_id}"
    async with h.rt.deps.db.uow() as s:
        person = await people.add_person(s, channel="telegram", user_id=str(user_id),
                                         chat_id=str(user_id), language="vi",
                                         username=username, display_name=name)
        person.consent = True
        person.phone = phone
        person.home_area_id = area_id
        g = await people.grant(s, person.id, role, area_id)
        g.on_duty = on_duty
        pid = person.id
    return Member(pid, h.user(user_id, name.split()[-1], username), name, username, phone)


async def grant(h: BotHarness, member: Member, role: str, area_id: int) -> None:
    async with h.rt.deps.db.uow() as s:
        await people.grant(s, member.person_id, role, area_id)


async def seed_world(h: BotHarness, *, officer: bool = True, officer2: bool = True,
                     leader: bool = True, province_leader: bool = True,
                     other_officer: bool = True) -> World:
    """Areas plus the usual cast (each piece can be left out):

    * ``officer`` (Trần Văn Bình) and ``officer2`` (Lê Thị Cúc): officers of Hải Châu;
    * ``leader`` (Phạm Minh Đức): leader of the Hải Châu ward police;
    * ``province_leader`` (Võ Quốc Hùng): leader at the city police (province 48);
    * ``other_officer`` (Đỗ Văn Khoa): officer of Phường Thanh Khê (another commune).
    """
    w = await seed_areas(h)
    if officer:
        w.staff["officer"] = await add_staff(h, 9001, "Trần Văn Bình", "officer", w.commune_id,
                                             username="binh_ca_haichau", phone="+84905111222")
    if officer2:
        w.staff["officer2"] = await add_staff(h, 9002, "Lê Thị Cúc", "officer", w.commune_id,
                                              username="cuc_ca_haichau")
    if leader:
        w.staff["leader"] = await add_staff(h, 9101, "Phạm Minh Đức", "leader", w.commune_id,
                                            username="duc_truongcaphuong")
    if province_leader:
        w.staff["province_leader"] = await add_staff(h, 9201, "Võ Quốc Hùng", "leader",
                                                     w.province_id, username="hung_catp")
    if other_officer:
        w.staff["other_officer"] = await add_staff(h, 9301, "Đỗ Văn Khoa", "officer",
                                                   w.other_commune_id, username="khoa_thanhkhe")
    return w


async def invite_staff(h: BotHarness, user_id: int, name: str, role: str, area_code: str,
                       username: str | None = None) -> Member:
    """A staff member who joins through a real invitation link (``/start inv_…``)."""
    async with h.rt.deps.db.uow() as s:
        inv = await invites.create(s, role=role, area_code=area_code, name=name,
                                   valid_for=timedelta(days=1), now=h.rt.deps.clock())
    user = h.user(user_id, name.split()[-1], username)
    await user.send(f"/start {invites.PREFIX}{inv.token}")
    await user.press("Nhận vai trò")
    await user.press("Đồng ý")  # someone new reads the personal-data notice first
    assert "Bạn đã là" in user.last_text(), user.texts()[-3:]
    async with h.rt.deps.db.read() as s:
        person = await people.by_identity(s, "telegram", str(user_id))
        assert person is not None
        pid = person.id
    return Member(pid, user, name, username or "")


async def onboard(h: BotHarness, user_id: int, first_name: str, username: str | None = None,
                  *, phone: str | None = "0912345678", village: str | None = VILLAGE_1,
                  commune: str = "Hai Chau", commune_label: str = "Phường Hải Châu"
                  ) -> TgUser:
    """A resident goes through /start over Telegram: consent, language, place, phone."""
    u = h.user(user_id, first_name, username)
    await u.send("/start")
    await u.press("Đồng ý")
    await u.press("Tiếng Việt")
    if "tỉnh/thành phố" in u.last_text():
        await u.send("Đà Nẵng")
        await u.press("Thành phố Đà Nẵng")
    await u.send(commune)  # typed without accents
    await u.press(commune_label)
    if "thôn / tổ dân phố" in u.last_text():
        await u.press(village or "Không rõ")
    if phone and phone.lstrip("+").startswith("84"):
        await u.contact(phone)  # a shared contact arrives in international form
    elif phone:
        await u.send(phone)  # typed, national form
    else:
        await u.press("Bỏ qua")
    assert "Xong!" in "\n".join(u.texts()[-3:]), u.texts()[-3:]
    u.inbox()
    return u


async def draft_tip(u: TgUser, description: str = "Có hai thanh niên lạ mặt đi xe máy không "
                    "biển số, nhìn vào các nhà trong hẻm 45 nhiều lần", *,
                    category: str = "Tố giác tội phạm", place: str | None = "Hẻm 45 Lê Lợi",
                    when: str = "Đang xảy ra", photos: list[bytes] | None = None,
                    anonymous: bool = True, where: str = VILLAGE_1) -> None:
    """Walk /baotin up to the review screen (not submitted)."""
    await u.send("/baotin")
    await u.press(category)
    await u.send(description)
    await u.press(where)  # the resident's home area, offered first
    if place:
        await u.send(place)
    else:
        await u.press("Bỏ qua")
    await u.press(when)
    for p in photos or []:
        await u.photo(p)
    await u.press("Xong phần ảnh" if photos else "Bỏ qua")
    await u.press("Ẩn danh" if anonymous else "Kèm tên")
    assert "Kiểm tra lại trước khi gửi" in u.last_text(), u.texts()[-3:]


async def file_tip(u: TgUser, description: str = "Có hai thanh niên lạ mặt đi xe máy không "
                   "biển số, nhìn vào các nhà trong hẻm 45 nhiều lần", **kw: object) -> str:
    """Draft and submit a tip; returns the case reference shown to the resident."""
    await draft_tip(u, description, **kw)  # type: ignore[arg-type]
    await u.press("Gửi tin")
    text = u.last_text()
    found = re.findall(r"BY-\d\d-\d{6}", "\n".join(u.texts()[-3:]))
    assert found, text
    return found[-1]


async def case_by_ref(h: BotHarness, ref: str) -> Case:
    async with h.rt.deps.db.read() as s:
        case = (await s.execute(select(Case).where(Case.ref == ref))).scalar_one()
        s.expunge(case)
        return case


async def deliveries(h: BotHarness, **where: object) -> list[Delivery]:
    async with h.rt.deps.db.read() as s:
        stmt = select(Delivery).order_by(Delivery.id)
        for col, value in where.items():
            stmt = stmt.where(getattr(Delivery, col) == value)
        rows = list((await s.execute(stmt)).scalars())
        for r in rows:
            s.expunge(r)
        return rows


async def audit_count(h: BotHarness, action: str) -> int:
    async with h.rt.deps.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(AuditEntry)
                                    .where(AuditEntry.action == action))).scalar_one())


async def person_of(h: BotHarness, user_id: int) -> Person:
    async with h.rt.deps.db.read() as s:
        person = await people.by_identity(s, "telegram", str(user_id))
        assert person is not None
        s.expunge(person)
        return person


def all_strings(h: BotHarness, chat_id: int) -> list[str]:
    """Every text, caption and button (label, callback data, url) sent to ``chat_id``."""
    out: list[str] = []
    for s in h.tg.sent_to(chat_id):
        out.append(s.text or "")
        out.append(str(s.params.get("caption") or ""))
        markup = s.reply_markup or {}
        for row in markup.get("inline_keyboard", []) + markup.get("keyboard", []):
            for b in row:
                if isinstance(b, str):
                    out.append(b)
                else:
                    out.extend(str(v) for v in b.values())
    return out


async def send_document(u: TgUser, data: bytes, filename: str, mime: str) -> list[Sent]:
    """The user sends a file (not a compressed photo)."""
    uid = await u.h.tg.user_sends_document(u.user_id, data, filename, mime=mime,
                                           first_name=u.first_name, username=u.username)
    return await u._after(uid)


def texts(sent: list[Sent]) -> list[str]:
    return [s.text or "" for s in sent]
