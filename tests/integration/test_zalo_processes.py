"""Several bot processes on PostgreSQL share one Zalo bot: exactly one polls, workers
never touch intake, and a number typed after a menu one process sent works on another."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from bot.app import RUNTIME, create_app
from storage.db import Database, make_engine
from tests.fakes.zalo_api import FakeZalo
from tests.support.databases import fresh_pg_database, require_pg
from tests.support.zalo_harness import ZTOKEN


@pytest.mark.postgres
async def test_one_poller_among_web_processes_and_none_in_workers(make_config):
    require_pg()
    async with fresh_pg_database() as url, FakeZalo(token=ZTOKEN) as zalo:
        db = Database(make_engine(url))
        await db.upgrade()
        await db.close()
        config = make_config(url, zalo={"token": ZTOKEN, "api_url": zalo.base_url},
                             run={"failover_seconds": 1})
        apps = [create_app(config, roles=frozenset({"web"}), background=False)
                for _ in range(2)]
        apps.append(create_app(config, roles=frozenset({"worker"}), background=False))
        servers = [TestServer(a) for a in apps]
        for server in servers:
            await server.start_server()
        try:
            await zalo.wait_for(lambda: zalo.calls["getUpdates"] >= 1)
            polling = [a[RUNTIME].zalo._poller is not None for a in apps]  # type: ignore[union-attr]
            assert polling.count(True) == 1 and polling[2] is False
            assert zalo.calls["deleteWebhook"] == 1  # only the poller cleared the webhook

            first = await zalo.user_sends_text("zm-1", "/trogiup", "Minh")
            await zalo.wait_for(lambda: any("/baotin" in t for t in zalo.texts("zm-1")))
            # The poller's process ends; the other web process takes over polling.
            leader = polling.index(True)
            await servers[leader].close()
            other = apps[1 - leader]
            await zalo.wait_for(lambda: other[RUNTIME].zalo._poller is not None,  # type: ignore[union-attr]
                                timeout=15)
            await zalo.user_sends_text("zm-1", "/start", "Minh")
            await zalo.wait_for(lambda: "Đồng ý" in zalo.texts("zm-1")[-1], timeout=10)
            await zalo.user_sends_text("zm-1", "3", "Minh")  # "English", from the menu
            await zalo.wait_for(lambda: "Personal data notice" in zalo.texts("zm-1")[-1],
                                timeout=10)
            assert first and len([t for t in zalo.texts("zm-1") if "/baotin" in t]) == 1
        finally:
            for server in servers:
                if not server.closed:
                    await server.close()
