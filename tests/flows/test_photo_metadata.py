"""A photo sent as a file keeps its EXIF (GPS position, phone model, owner name) on the
way in; the bot strips it before storing, so neither the stored file nor what the officer
receives can give an anonymous tipster away."""

from __future__ import annotations

from sqlalchemy import select

from storage.tables import Attachment
from tests.support.images import jpeg_with_gps, leaks, pixels
from tests.support.seed import (
    VILLAGE_1,
    case_by_ref,
    harness,
    onboard,
    seed_world,
    send_document,
)


async def test_an_anonymous_tipsters_photo_file_reaches_the_officer_without_metadata(
        make_config, db_url, clock):
    async with harness(make_config, db_url, clock) as h:
        w = await seed_world(h)
        u = await onboard(h, 7_654_321, "Nguyễn Thị Hoa")
        original = jpeg_with_gps()
        assert leaks(original)
        await u.send("/baotin")
        await u.press("Tố giác tội phạm")
        await u.send("Xe máy không biển số đậu trước cổng trường cả đêm")
        await u.press(VILLAGE_1)
        await u.press("Bỏ qua")
        await u.press("Đang xảy ra")
        out = await send_document(u, original, "IMG_2041.jpg", "image/jpeg")
        assert "(1/5)" in (out[-1].text or "")
        await u.press("Xong phần ảnh")
        await u.press("Ẩn danh")
        await u.press("Gửi tin")
        ref = next(t for t in u.texts() if "Mã tin" in t).split("<b>")[1].split("<")[0]
        await h.deliver()

        photos = [s.photo for s in h.tg.sent_to(w.officer.chat) if s.photo is not None]
        assert len(photos) == 1
        assert leaks(photos[0]) == [] and pixels(photos[0]) == pixels(original)

        case = await case_by_ref(h, ref)
        async with h.rt.deps.db.read() as s:
            att = (await s.execute(select(Attachment).where(Attachment.case_id == case.id))
                   ).scalar_one()
        stored = h.rt.deps.files.get(att.sha256)
        assert leaks(stored) == [] and att.size == len(stored)
