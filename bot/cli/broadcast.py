"""``binhyen broadcast create|list|show|report|pause|resume|cancel``: prevention notices.

``create`` stores the notice; the running bot's scheduler sends it (``--now`` within
seconds). ``--preview`` prints exactly what recipients will read and how many they are,
and stores nothing. Without ``--as PERSON`` the notice is the operator's (no approval).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.cli.common import database
from bot.cli.main import CliError, with_config
from bot.config import Config
from bot.domain.messages import to_plain
from broadcasts import audience, compose, review, schedule, templates
from storage.files import FileRejected, FileStore
from storage.repos import areas, people


def register(sub: Any) -> None:
    from bot.cli import broadcast_show

    p = sub.add_parser("broadcast", help="crime-prevention notices: create, list, report…")
    bsub = p.add_subparsers(dest="broadcast_command", required=True, metavar="ACTION")
    c = bsub.add_parser("create", help="a notice from a template or your own text")
    c.add_argument("--template", default="notice", choices=list(templates.library()))
    c.add_argument("--text", default="", help="own text (Vietnamese; {{ hotline }} works)")
    c.add_argument("--text-en", default="", help="own text for English-speaking recipients")
    c.add_argument("--note", default="", help="one extra line under a template's text")
    c.add_argument("--area", action="append", required=True, metavar="CODE",
                   help="target area code, with everything below it (repeatable)")
    c.add_argument("--role", action="append", choices=audience.ROLES,
                   help="who receives it (repeatable; default: residents)")
    c.add_argument("--no-groups", action="store_true", help="not the areas' group chats")
    when = c.add_mutually_exclusive_group()
    when.add_argument("--at", metavar="'YYYY-MM-DD HH:MM'", help="once, local time")
    when.add_argument("--daily", metavar="HH:MM")
    when.add_argument("--weekly", metavar="DAYS@HH:MM", help="e.g. mon,thu@08:00")
    when.add_argument("--monthly", metavar="DAY@HH:MM", help="e.g. 1@08:00 (day 1–28)")
    when.add_argument("--cron", metavar="'M H DOM MON DOW'", help="e.g. '0 8 * * 1'")
    c.add_argument("--until", metavar="YYYY-MM-DD", help="last day of a repeating notice")
    c.add_argument("--expires", metavar="YYYY-MM-DD", help="last day a one-off applies")
    c.add_argument("--urgent", action="store_true", help="bypass quiet hours and opt-outs")
    c.add_argument("--photo", type=Path, help="a JPEG/PNG/WebP to send with it")
    c.add_argument("--as", dest="author", type=int, metavar="PERSON",
                   help="the author (a staff person id); officers' notices need approval")
    c.add_argument("--preview", action="store_true", help="show it and count, store nothing")
    c.set_defaults(handler=with_config(create))
    broadcast_show.register(bsub)


def schedule_of(args: argparse.Namespace) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": "now"}
    try:
        if args.at:
            spec = {"kind": "once", "at": datetime.fromisoformat(args.at).isoformat(
                timespec="minutes")}
        elif args.daily:
            spec = {"kind": "daily", "time": f"{schedule.hhmm(args.daily):%H:%M}"}
        elif args.weekly:
            days, _, at = args.weekly.partition("@")
            spec = {"kind": "weekly", "time": f"{schedule.hhmm(at):%H:%M}", "weekdays": [
                schedule.DAYS.index(d.strip().lower()[:3]) for d in days.split(",")]}
        elif args.monthly:
            day, _, at = args.monthly.partition("@")
            spec = {"kind": "monthly", "day": int(day), "time": f"{schedule.hhmm(at):%H:%M}"}
        elif args.cron:
            spec = {"kind": "cron", "expr": " ".join(args.cron.split())}
    except (ValueError, schedule.ScheduleError) as exc:
        raise CliError(f"bad schedule: {exc}") from None
    if args.until:
        spec["until"] = args.until
    return spec


async def create(args: argparse.Namespace, config: Config) -> int:
    now = datetime.now(UTC)
    photo = ""
    if args.photo:
        try:
            photo, _ = FileStore(config.data_path / "files", config.limits.photo_max_bytes) \
                .put(args.photo.read_bytes())
        except (OSError, FileRejected) as exc:
            raise CliError(f"--photo: {exc}") from None
    async with database(config) as db, db.uow() as s:
        targets = []
        for code in args.area:
            area = await areas.by_code(s, code)
            if area is None:
                raise CliError(f"no area with code {code!r}")
            targets.append(area)
        roles: compose.Roles = [("admin", a.id) for a in targets]
        if args.author is not None:
            roles = await people.active_roles(s, args.author)
            if not compose.may_compose(roles):
                raise CliError(f"person {args.author} is not a leader, officer or admin")
        draft = compose.Draft(template=args.template, text_vi=args.text, text_en=args.text_en,
                              note=args.note, areas=[a.id for a in targets],
                              roles=args.role or ["residents"], groups=not args.no_groups,
                              schedule=schedule_of(args), urgent=args.urgent,
                              photo_sha=photo, expires=args.expires or "")
        pv = await compose.preview(s, draft, "vi", config, now)
        if pv.problem:
            raise CliError(f"nothing stored: {pv.problem}")
        assert pv.first is not None
        print(to_plain(pv.text))
        print(f"\n— {pv.people} people, {pv.groups} group chats; "
              f"{to_plain(schedule.describe(draft.schedule, 'en'))}; first: "
              f"{pv.first.astimezone(config.bot.tz):%Y-%m-%d %H:%M}")
        if args.preview:
            return 0
        try:
            bc = await compose.create(s, draft, author_id=args.author, roles=roles,
                                      config=config, now=now, actor_label="cli")
        except ValueError as exc:
            raise CliError(str(exc)) from None
        asked = await review.request(s, bc, config, now) if bc.status == "pending" else 0
    tail = f", {asked} leader(s) asked to approve" if bc.status == "pending" else \
        " (the running bot sends it)"
    print(f"broadcast {bc.id}: {bc.status}{tail}")
    return 0
