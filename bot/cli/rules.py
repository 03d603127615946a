"""``binhyen rules set|list|remove``: who receives which tips in an area.

A rule names the responsible officer (and a backup, or a duty group) for one category in
one area; without ``--category`` it is the area's default for every category. The most
specific area wins (village → commune → province), see ``bot.services.routing``. Every
change is written to the audit log.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.common import database
from bot.cli.main import CliError, with_config
from bot.config import Config
from bot.services import categories, routing, waiting
from storage.repos import areas, people
from storage.tables import Area, GroupChat, Person

STAFF_ROLES = ("officer", "leader", "admin", "team")


def register(sub: Any) -> None:
    p = sub.add_parser("rules", help="routing rules: who receives which tips in an area")
    rsub = p.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    st = rsub.add_parser("set", help="set (or replace) the rule for an area and category")
    st.add_argument("--area", required=True, metavar="CODE", help="province, commune or village")
    st.add_argument("--category", metavar="CODE",
                    help="e.g. TOGIAC; leave out for the area's default (every category)")
    st.add_argument("--officer", type=int, metavar="PERSON_ID",
                    help="the responsible officer (ids from `binhyen staff list`)")
    st.add_argument("--backup", type=int, metavar="PERSON_ID",
                    help="who gets the tip when the officer cannot be reached")
    st.add_argument("--group", type=int, metavar="GROUP_ID", help="a linked duty group chat")
    st.set_defaults(handler=with_config(set_))
    ls = rsub.add_parser("list", help="list rules (all, or one area and what lies below it)")
    ls.add_argument("--area", metavar="CODE")
    ls.set_defaults(handler=with_config(list_))
    rm = rsub.add_parser("remove", help="remove the rule for an area and category")
    rm.add_argument("--area", required=True, metavar="CODE")
    rm.add_argument("--category", metavar="CODE", help="leave out for the area's default")
    rm.set_defaults(handler=with_config(remove))


async def _area(s: AsyncSession, code: str) -> Area:
    area = await areas.by_code(s, code)
    if area is None:
        raise CliError(f"no area with code {code!r} (see `binhyen areas search`)")
    return area


async def _category(s: AsyncSession, code: str | None, area: Area) -> str | None:
    if code is None:
        return None
    commune_id = area.id if area.level == "commune" else \
        area.parent_id if area.level == "village" else None
    # Rules may be set before the bot first ran (which installs the default categories).
    await categories.ensure_defaults(s)
    known = await categories.for_area(s, commune_id)
    wanted = code.strip().upper()
    if wanted not in {c.code for c in known}:
        raise CliError(f"unknown category {code!r} (one of: {', '.join(c.code for c in known)})")
    return wanted


async def _staff(s: AsyncSession, person_id: int, area: Area, what: str) -> Person:
    """The person, if they hold a staff role on the area, above it or below it."""
    person = await s.get(Person, person_id)
    if person is None or person.erased_at is not None:
        raise CliError(f"{what}: no person with id {person_id} (see `binhyen staff list`)")
    related = {a.id for a in await areas.ancestors(s, area)}
    related |= await areas.descendant_ids(s, [area.id])
    roles = await people.active_roles(s, person_id)
    if not any(role in STAFF_ROLES and area_id in related for role, area_id in roles):
        raise CliError(f"{what}: person {person_id} has no staff role for "
                       f"{areas.label(area)} ({area.code})")
    return person


def _who(person: Person | None, person_id: int | None) -> str:
    if person_id is None:
        return "—"
    return f"{person_id} {person.display_name}" if person and person.display_name \
        else str(person_id)


async def set_(args: argparse.Namespace, config: Config) -> int:
    if args.officer is None and args.group is None:
        raise CliError("give --officer PERSON_ID (and optionally --backup), or --group GROUP_ID")
    if args.backup is not None and args.backup == args.officer:
        raise CliError("--backup must be someone other than --officer")
    async with database(config) as db, db.uow() as s:
        area = await _area(s, args.area)
        category = await _category(s, args.category, area)
        officer = await _staff(s, args.officer, area, "--officer") \
            if args.officer is not None else None
        backup = await _staff(s, args.backup, area, "--backup") \
            if args.backup is not None else None
        if args.group is not None:
            group = await s.get(GroupChat, args.group)
            if group is None or not group.active:
                raise CliError(f"--group: no active group chat with id {args.group}")
        now = datetime.now(UTC)
        await routing.set_rule(s, area=area, category=category, officer_id=args.officer,
                               backup_id=args.backup, group_chat_id=args.group, actor_id=None,
                               actor_label="cli", at=now)
        routed = await waiting.route_waiting(s, area, now, trigger="rule.set")
        line = (f"rule set: {area.code} {areas.label(area)} · {category or '* (default)'} → "
                f"officer {_who(officer, args.officer)}, backup {_who(backup, args.backup)}")
        if args.group is not None:
            line += f", group {args.group}"
        if routed:  # the running bot's dispatcher sends the notices
            line += f"\npassed on {len(routed)} waiting case(s): " + \
                ", ".join(c.ref for c in routed)
    print(line)
    return 0


async def list_(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.read() as s:
        area_ids = None
        if args.area:
            area = await _area(s, args.area)
            area_ids = list(await areas.descendant_ids(s, [area.id]))
        rows = await routing.list_rules(s, area_ids)
        if not rows:
            print("no rules")
            return 0
        print("area\tcategory\tofficer\tbackup\tgroup")
        for rule, area in rows:
            officer = await s.get(Person, rule.officer_id) if rule.officer_id else None
            backup = await s.get(Person, rule.backup_id) if rule.backup_id else None
            print(f"{area.code} {areas.label(area)}\t{rule.category_code or '*'}\t"
                  f"{_who(officer, rule.officer_id)}\t{_who(backup, rule.backup_id)}\t"
                  f"{rule.group_chat_id or '—'}")
    return 0


async def remove(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.uow() as s:
        area = await _area(s, args.area)
        category = await _category(s, args.category, area)
        done = await routing.remove_rule(s, area=area, category=category, actor_id=None,
                                         actor_label="cli", at=datetime.now(UTC))
        if not done:
            raise CliError(f"no rule for {area.code} {areas.label(area)} · "
                           f"{category or '* (default)'}")
    print(f"rule removed: {area.code} {areas.label(area)} · {category or '* (default)'}")
    return 0
