"""The open API: keys (Bearer or X-API-Key, hashed, revocable), the per-key token bucket,
no personal data, and the whole contract checked by schemathesis against the served
OpenAPI document on a live loopback server."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.services import api_keys
from storage.tables import Broadcast
from tests.support.console import api_key, base_url, make_case
from tests.support.seed import harness, seed_world

FAST = {"api": {"rate_per_minute": 1_000_000, "burst": 100_000}}
PERSONAL = ("Trần Văn Bình", "Hẻm 45", "Người lạ đi lại", "+84905111222", "binh_ca_haichau")


async def get(url: str, **headers: str) -> tuple[int, object, dict[str, str]]:
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        body = await r.json(content_type=None) if r.content_type.endswith("json") else \
            await r.text()
        return r.status, body, dict(r.headers)


async def test_keys_are_required_and_revocable_and_answers_carry_no_personal_data(
        make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock, overrides=FAST) as h:
        w = await seed_world(h)
        await make_case(h, area_id=w.village1_id, created=clock.now, rating=4,
                        close_after=None, lat=16.06781, lon=108.22083)
        async with h.rt.deps.db.uow() as s:
            s.add(Broadcast(template="scam", topic="lua_dao", body_vi="Bản nháp riêng",
                            status="draft", author_id=w.leader.person_id, created_at=clock.now))
        key = await api_key(h)
        api = base_url(h) + "/api/v1"
        status, body, headers = await get(api + "/categories")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        assert (await get(api + "/categories", Authorization="Bearer byk_nope"))[0] == 401
        status, cats, _ = await get(api + "/categories", Authorization=f"Bearer {key}")
        assert (status == 200 and {"code": "TOGIAC"}.items() <= cats[0].items()) or \
            any(c["code"] == "TOGIAC" for c in cats)
        assert (await get(api + "/areas?parent=20242", **{"X-API-Key": key}))[0] == 200
        assert (await get(api + "/areas?parent=nope", **{"X-API-Key": key}))[0] == 404
        assert (await get(api + "/cases/summary?days=0", **{"X-API-Key": key}))[0] == 400
        everything = ""
        for path in ("/areas", "/categories", "/cases/summary?days=30",
                     "/statistics?days=30", "/broadcasts?days=30"):
            status, body, _ = await get(api + path, Authorization=f"Bearer {key}")
            assert status == 200, path
            everything += json.dumps(body, ensure_ascii=False)
        for piece in (*PERSONAL, "Bản nháp riêng", "author", "16.06781"):
            assert piece not in everything
        summary = (await get(api + "/cases/summary?area=20242",
                             Authorization=f"Bearer {key}"))[1]
        assert summary["received"] == 1 and summary["area"] == "20242"

        async with h.rt.deps.db.uow() as s:
            await api_keys.revoke(s, key.split("_")[1], clock.now)
        assert (await get(api + "/categories", Authorization=f"Bearer {key}"))[0] == 401
        assert (await get(api + "/openapi.json"))[0] == 200  # the contract itself is public


async def test_each_key_has_its_own_token_bucket(make_config, sqlite_url, clock):
    async with harness(make_config, sqlite_url, clock,
                       overrides={"api": {"rate_per_minute": 6, "burst": 3}}) as h:
        await seed_world(h)
        first, second = await api_key(h, "a"), await api_key(h, "b")
        url = base_url(h) + "/api/v1/categories"
        codes = [(await get(url, Authorization=f"Bearer {first}"))[0] for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        status, body, headers = await get(url, Authorization=f"Bearer {first}")
        assert status == 429 and int(headers["Retry-After"]) >= 1 and "rate" in body["error"]
        assert (await get(url, Authorization=f"Bearer {second}"))[0] == 200


def _schemathesis() -> list[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    found = str(exe) if exe.exists() else shutil.which("schemathesis")
    if not found:
        pytest.skip("schemathesis is not installed (pip install -e .[dev])")
    return [found]


async def test_the_api_honours_its_openapi_contract(make_config, sqlite_url, clock, tmp_path):
    async with harness(make_config, sqlite_url, clock, overrides=FAST) as h:
        w = await seed_world(h)
        for days in (0, 1, 3):
            await make_case(h, area_id=w.village1_id, created=clock.now.replace(day=20 - days),
                            rating=3)
        key = await api_key(h)
        doc = (await get(base_url(h) + "/api/v1/openapi.json"))[1]
        assert doc["openapi"].startswith("3.") and set(doc["paths"]) == {
            "/areas", "/categories", "/cases/summary", "/statistics", "/broadcasts"}
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
        proc = await asyncio.create_subprocess_exec(
            *_schemathesis(), "run", base_url(h) + "/api/v1/openapi.json",
            "--header", f"Authorization: Bearer {key}", "--checks", "all",
            # a well-formed but unknown area code is a documented 404, not a 2xx
            "--exclude-checks", "positive_data_acceptance",
            "--max-examples", "25", "--workers", "1", "--seed", "20261123",
            "--generation-database", "none", "--no-color", "--request-timeout", "10",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 240)
        text = out.decode()
        assert proc.returncode == 0, text[-4000:]
        assert "No issues found" in text and "Tested: 5" in text, text[-2000:]
