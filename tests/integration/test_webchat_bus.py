"""A message produced by a worker process reaches a visitor whose page is open on a web
process (PostgreSQL LISTEN/NOTIFY), and nothing is pushed twice."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.app import RUNTIME, create_app
from bot.domain.messages import Reply
from bot.services import notify
from storage.db import Database, make_engine
from tests.support.databases import fresh_pg_database, require_pg


@pytest.mark.postgres
async def test_worker_delivery_reaches_socket_on_web_process(make_config):
    require_pg()
    async with fresh_pg_database() as url:
        db = Database(make_engine(url))
        await db.upgrade()
        await db.close()
        config = make_config(url)
        web = TestServer(create_app(config, roles=frozenset({"web"})))
        worker_app = create_app(config, roles=frozenset({"worker"}))
        worker = TestServer(worker_app)
        await web.start_server()
        await worker.start_server()
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as c:
                await c.get(web.make_url("/chat"))
                chat_id = next(iter(c.cookie_jar)).value
                ws = await c.ws_connect(web.make_url("/chat/ws"))
                assert (await ws.receive_json(timeout=5))["type"] == "history"
                rt = worker_app[RUNTIME]
                async with rt.deps.db.uow() as s:
                    await notify.to_chat(s, "web", chat_id, Reply(text="câu hỏi của cán bộ"),
                                         kind="case_status", key="bus-test",
                                         at=rt.deps.clock())
                rt.dispatcher.wake()
                msg = await ws.receive_json(timeout=10)
                assert msg["type"] == "message" and msg["text"] == "câu hỏi của cán bộ"
                with pytest.raises(asyncio.TimeoutError):
                    await ws.receive_json(timeout=1.0)  # pushed once, not twice
                await ws.close()
        finally:
            await worker.close()
            await web.close()
