"""``binhyen broadcast list|show|report|pause|resume|cancel``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.cli.common import database
from bot.cli.main import CliError, with_config
from bot.config import Config
from bot.domain.messages import to_plain
from broadcasts import control, reports, schedule
from storage.repos import areas
from storage.tables import Broadcast, BroadcastOccurrence


def register(bsub: Any) -> None:
    ls = bsub.add_parser("list", help="the latest notices")
    ls.add_argument("--limit", type=int, default=30)
    ls.set_defaults(handler=with_config(list_))
    for name, fn, text in (("show", show, "one notice and its occurrences"),
                           ("report", report, "delivery figures of every occurrence"),
                           ("pause", act, "hold unsent messages and next times"),
                           ("resume", act, "release a paused notice"),
                           ("cancel", act, "drop unsent messages and next times")):
        p = bsub.add_parser(name, help=text)
        p.add_argument("id", type=int, help="the broadcast id (see `binhyen broadcast list`)")
        p.set_defaults(handler=with_config(fn), action=name)


def _when(at: datetime | None, config: Config) -> str:
    return f"{at.astimezone(config.bot.tz):%Y-%m-%d %H:%M}" if at else "—"


async def list_(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.read() as s:
        rows = (await s.execute(select(Broadcast).order_by(Broadcast.id.desc())
                                .limit(args.limit))).scalars().all()
        if not rows:
            print("no broadcasts")
        for b in rows:
            when = to_plain(schedule.describe(b.schedule, "en"))
            print(f"{b.id}\t{b.status}\t{b.template}\t{'URGENT ' if b.urgent else ''}{when}"
                  f"\tnext {_when(b.next_due_at, config)}")
    return 0


async def _load(s: Any, bid: int) -> Broadcast:
    bc = await s.get(Broadcast, bid)
    if bc is None:
        raise CliError(f"no broadcast {bid}")
    return bc


async def show(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.read() as s:
        bc = await _load(s, args.id)
        targets = [await areas.by_id(s, i) for i in bc.audience.get("areas", [])]
        print(f"broadcast {bc.id}: {bc.status}, template {bc.template}, topic {bc.topic}"
              f"{', urgent' if bc.urgent else ''}")
        print(f"areas: {', '.join(f'{areas.label(a)} ({a.code})' for a in targets if a)}")
        print(f"audience: {', '.join(bc.audience.get('roles', []))}"
              f"{' + group chats' if bc.audience.get('groups') else ''}")
        print(f"when: {to_plain(schedule.describe(bc.schedule, 'en'))}; next "
              f"{_when(bc.next_due_at, config)}; expires {_when(bc.expires_at, config)}")
        if bc.review_note:
            print(f"review note: {bc.review_note}")
        occ = (await s.execute(select(BroadcastOccurrence).where(
            BroadcastOccurrence.broadcast_id == bc.id).order_by(BroadcastOccurrence.due_at)
        )).scalars().all()
        for o in occ:
            print(f"  {_when(o.due_at, config)}\t{o.state}\t{o.recipients} recipients")
    return 0


async def report(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.read() as s:
        bc = await _load(s, args.id)
        occ = (await s.execute(select(BroadcastOccurrence).where(
            BroadcastOccurrence.broadcast_id == bc.id, BroadcastOccurrence.state.in_(
                ("sending", "done"))).order_by(BroadcastOccurrence.due_at))).scalars().all()
        if not occ:
            print(f"broadcast {bc.id} has not been sent yet ({bc.status})")
        for o in occ:
            f = await reports.figures(s, o)
            reasons = ", ".join(f"{r} {n}" for r, n in f.reasons.items()) or "—"
            print(f"{_when(o.due_at, config)} ({o.state}): {f.recipients} recipients, "
                  f"{f.delivered} delivered, {f.failed} failed ({reasons}), "
                  f"{f.unreachable} unreachable, {f.cancelled} cancelled, "
                  f"took {to_plain(reports.duration('en', f.duration))}")
    return 0


async def act(args: argparse.Namespace, config: Config) -> int:
    fn = {"pause": control.pause, "resume": control.resume, "cancel": control.cancel}[
        args.action]
    async with database(config) as db, db.uow() as s:
        bc = await _load(s, args.id)
        try:
            n = await fn(s, bc, datetime.now(UTC), None, "cli")
        except control.NotAllowed as exc:
            raise CliError(f"broadcast {bc.id} is {exc}; cannot {args.action} it") from None
    print(f"broadcast {args.id}: {args.action} done ({n} unsent message(s) affected)")
    return 0
