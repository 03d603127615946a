"""``binhyen broadcast create|list|show|report|pause|resume|cancel`` (in-process: the same
parser and handlers as the installed command, without a process start per call)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.cli.main import main
from bot.config import load_config
from bot.services import areas as areas_svc
from broadcasts import occurrences
from storage.crypto import generate_key
from storage.db import Database, make_engine
from storage.repos import areas, people
from storage.tables import Delivery


def setup(tmp_path: Path) -> tuple[Path, int]:
    config = tmp_path / "config.toml"
    config.write_text(f'[security]\ndata_key = "{generate_key()}"\n[bot]\ndata_dir = "data"\n',
                      "utf-8")

    async def prepare() -> int:
        db = Database(make_engine(load_config(config).database_url))
        await db.upgrade()
        async with db.uow() as s:
            await areas_svc.import_units(s, "48")
            commune = await areas.by_code(s, "20242")
            assert commune is not None
            for i in range(3):
                p = await people.add_person(s, channel="telegram", user_id=str(700 + i),
                                            chat_id=str(700 + i), language="vi")
                p.consent, p.home_area_id = True, commune.id
            officer = await people.add_person(s, channel="telegram", user_id="799",
                                              chat_id="799", language="vi")
            await people.grant(s, officer.id, "officer", commune.id)
            officer_id = officer.id
        await db.close()
        return officer_id

    return config, asyncio.run(prepare())


def run(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), "broadcast", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_create_preview_list_show_pause_resume_cancel(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    config, officer = setup(tmp_path)
    code, out, _ = run(capsys, config, "create", "--area", "20242", "--template", "fire",
                       "--weekly", "mon,thu@08:00", "--until", "2099-01-31", "--preview")
    assert code == 0 and "PHÒNG CHÁY CHỮA CHÁY" in out and "3 people, 0 group chats" in out
    assert "every Monday, Thursday at 08:00, until 31/01/2099" in out
    code, out, _ = run(capsys, config, "list")
    assert out.strip() == "no broadcasts"

    code, out, _ = run(capsys, config, "create", "--area", "20242", "--template", "fire",
                       "--weekly", "mon@08:00", "--until", "2099-01-31")
    assert code == 0 and out.strip().endswith("broadcast 1: scheduled (the running bot sends it)")
    code, out, _ = run(capsys, config, "create", "--area", "20242", "--text", "Họp tổ {{ date }}",
                       "--as", str(officer))
    assert "broadcast 2: pending, 0 leader(s) asked to approve" in out
    code, out, _ = run(capsys, config, "list")
    assert out.splitlines()[0].startswith("2\tpending\tnotice")
    assert "1\tscheduled\tfire\tevery Monday at 08:00, until 31/01/2099\tnext 20" in out
    code, out, _ = run(capsys, config, "show", "1")
    assert "areas: Phường Hải Châu (20242)" in out and "audience: residents + group chats" in out

    assert run(capsys, config, "pause", "1")[1].startswith("broadcast 1: pause done")
    code, _, err = run(capsys, config, "pause", "1")
    assert code == 1 and "is paused; cannot pause it" in err
    assert run(capsys, config, "resume", "1")[0] == 0
    assert run(capsys, config, "cancel", "1")[0] == 0
    assert "1\tcancelled" in run(capsys, config, "list")[1]


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = setup(tmp_path)
    for args, needle in ((["create", "--area", "99999"], "no area with code '99999'"),
                         (["create", "--area", "20242", "--text", "{{ hotlin }}"],
                          "nothing stored: 'hotlin' is undefined"),
                         (["create", "--area", "20242", "--template", "fire", "--cron",
                           "0 8 * *"], "5 fields"),
                         (["show", "42"], "no broadcast 42")):
        code, _, err = run(capsys, config, *args)
        assert code == 1 and needle in err and len(err.strip().splitlines()) == 1, err


def test_report_after_sending(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = setup(tmp_path)
    assert run(capsys, config, "create", "--area", "20242", "--template", "drugs",
               "--urgent")[0] == 0
    assert "has not been sent yet" in run(capsys, config, "report", "1")[1]

    async def send_it() -> None:  # what the running bot's scheduler and dispatcher do
        cfg = load_config(config)
        db = Database(make_engine(cfg.database_url))
        assert await occurrences.run_due(db.uow, cfg, datetime.now(UTC)) == 1
        async with db.uow() as s:
            await s.execute(update(Delivery).where(Delivery.chat_id != "701").values(
                state="sent", sent_at=datetime.now(UTC)))
            await s.execute(update(Delivery).where(Delivery.chat_id == "701").values(
                state="failed", last_error="Bad Request: chat not found"))
        await db.close()

    asyncio.run(send_it())
    out = run(capsys, config, "report", "1")[1]
    assert "3 recipients, 2 delivered, 1 failed (Bad Request 1), 0 unreachable" in out
