"""Signing in to the staff console without a password: the one-time link from chat, the
session cookie, expiry, revocation, sign-out and CSRF."""

from __future__ import annotations

from sqlalchemy import select

from storage.tables import AuditEntry, ConsoleLink, ConsoleSession
from tests.support.console import Browser, base_url, link_token, make_case, sign_in
from tests.support.seed import harness, onboard, seed_world


def link_from_chat(sent: list) -> str:
    for s in sent:
        for row in (s.reply_markup or {}).get("inline_keyboard", []):
            for b in row:
                if "/console/login?token=" in b.get("url", ""):
                    return b["url"]
    raise AssertionError([s.text for s in sent])


async def test_web_command_sends_a_one_time_link_that_signs_the_officer_in(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        sent = await w.officer.user.send("/web")
        url = link_from_chat(sent)
        assert url.startswith(base_url(h) + "/console/login?token=")
        assert "một lần" in sent[-1].text and "10 phút" in sent[-1].text
        token = url.split("token=", 1)[1]
        async with h.rt.deps.db.read() as s:
            stored = (await s.execute(select(ConsoleLink))).scalars().all()
        assert len(stored) == 1 and stored[0].token_hash != token and token not in str(
            vars(stored[0]))

        b = Browser(base_url(h))
        try:
            shown = await b.get(url[len(base_url(h)):])
            assert shown.status == 200 and "Trần Văn Bình" in shown and "Đăng nhập" in shown
            assert b.cookie() is None  # looking at the link (a chat preview) uses nothing
            async with b.session.post(base_url(h) + "/console/login", data={"token": token},
                                      allow_redirects=False) as resp:
                assert resp.status == 303 and resp.headers["Location"] == "/console/"
                cookie = resp.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert "Secure" not in cookie and "Max-Age=43200" in cookie
            board = await b.get("/console/")
            assert board.status == 200 and board.url.endswith("/console/cases")
            assert "Tin báo" in board and 'name="csrf"' in board
            assert board.headers["Cache-Control"] == "no-store"
            assert "default-src 'self'" in board.headers["Content-Security-Policy"]
            assert board.headers["Referrer-Policy"] == "no-referrer"
        finally:
            await b.close()
        async with h.rt.deps.db.read() as s:
            session = (await s.execute(select(ConsoleSession))).scalar_one()
            actions = list((await s.execute(select(AuditEntry.action).where(
                AuditEntry.action.like("console.%")))).scalars())
        assert session.person_id == w.officer.person_id and session.token_hash not in cookie
        assert actions == ["console.link", "console.signin"]


async def test_a_link_works_once_and_expires_after_ten_minutes(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        b = Browser(base_url(h))
        try:
            token = await link_token(h, w.officer.person_id)
            first = await b.post("/console/login", {"token": token}, csrf=False)
            assert first.status == 200 and first.url.endswith("/console/cases")
            again = await Browser(base_url(h)).post("/console/login", {"token": token},
                                                    csrf=False)
            assert again.status == 410 and "đã được dùng" in again
            assert (await b.get(f"/console/login?token={token}")).status == 410

            late = await link_token(h, w.officer.person_id)
            clock.advance(minutes=10, seconds=1)
            expired = await b.post("/console/login", {"token": late}, csrf=False)
            assert expired.status == 410 and "hết hạn" in expired
            bogus = await b.post("/console/login", {"token": "nope"}, csrf=False)
            assert bogus.status == 404
        finally:
            await b.close()


async def test_residents_get_no_link_and_the_https_cookie_is_secure(
        make_config, sqlite_url, clock):
    overrides = {"web": {"public_url": "https://binhyen.example.vn"}}
    async with harness(make_config, sqlite_url, clock, overrides=overrides) as h:
        w = await seed_world(h)
        resident = await onboard(h, 2001, "Hoa")
        sent = await resident.send("/web")
        assert "chỉ dành cho cán bộ" in sent[-1].text and "token" not in str(sent[-1].params)
        officer_sent = await w.officer.user.send("/console")
        assert link_from_chat(officer_sent).startswith("https://binhyen.example.vn/console/")
        token = await link_token(h, w.officer.person_id)
        b = Browser(base_url(h))
        try:
            async with b.session.post(base_url(h) + "/console/login", data={"token": token},
                                      allow_redirects=False) as resp:
                assert "Secure" in resp.headers["Set-Cookie"]
        finally:
            await b.close()


async def test_sessions_expire_end_on_sign_out_and_on_revocation(make_config, sqlite_url,
                                                                 clock):
    async with harness(make_config, sqlite_url, clock,
                       overrides={"console": {"session_hours": 2}}) as h:
        w = await seed_world(h)
        browsers: list[Browser] = []
        try:
            officer = await sign_in(h, w.officer.person_id, browsers)
            clock.advance(hours=1, minutes=59)
            assert (await officer.get("/console/cases")).status == 200
            clock.advance(minutes=2)
            gone = await officer.get("/console/cases")
            assert gone.status == 401 and "/web" in gone

            leader = await sign_in(h, w.leader.person_id, browsers)
            out = await leader.post("/console/logout")
            assert out.status == 200 and "đã đăng xuất" in out
            assert (await leader.get("/console/cases")).status == 401

            officer2 = await sign_in(h, w.officer2.person_id, browsers)
            admin = await sign_in(h, (await _admin(h, w)).person_id, browsers)
            await admin.get("/console/people")
            revoked = await admin.post(f"/console/people/{w.officer2.person_id}/revoke")
            assert revoked.status == 200 and "Đã thu hồi" in revoked
            refused = await officer2.get("/console/cases")
            assert refused.status == 401
            async with h.rt.deps.db.read() as s:
                ended = (await s.execute(select(ConsoleSession).where(
                    ConsoleSession.person_id == w.officer2.person_id))).scalar_one()
            assert ended.ended_at is not None
            # and no new link for someone without a role
            assert "chỉ dành cho cán bộ" in (await w.officer2.user.send("/web"))[-1].text
        finally:
            for b in browsers:
                await b.close()


async def test_every_post_needs_the_session_csrf_token(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock) as h:
        w = await seed_world(h)
        ref = await make_case(h, area_id=w.village1_id, created=clock.now)
        officer = await sign_in(h, w.officer.person_id)
        other = await sign_in(h, w.officer2.person_id)
        try:
            await officer.get(f"/console/cases/{ref}")
            missing = await officer.post(f"/console/cases/{ref}/ack", csrf=False)
            assert missing.status == 403 and "Biểu mẫu" in missing
            wrong = await officer.post(f"/console/cases/{ref}/ack", {"csrf": other.csrf or "x"})
            assert wrong.status == 403
            await other.get("/console/cases")
            stolen = await officer.post(f"/console/cases/{ref}/ack", {"csrf": other.csrf})
            assert stolen.status == 403  # another session's token is no good either
            assert (await officer.post("/console/logout", csrf=False)).status == 403
            async with h.rt.deps.db.read() as s:
                assert not (await s.execute(select(AuditEntry).where(
                    AuditEntry.action == "case.ack"))).first()
            ok = await officer.post(f"/console/cases/{ref}/ack")
            assert ok.status == 200 and "Đã tiếp nhận" in ok
            assert (await officer.post("/console/login", {"token": "x"}, csrf=False,
                                       headers={"Origin": "https://evil.example"})).status == 403
        finally:
            await officer.close()
            await other.close()


async def _admin(h, w):
    from tests.support.seed import add_staff
    return await add_staff(h, 9901, "Ngô Quản Trị", "admin", w.province_id)
