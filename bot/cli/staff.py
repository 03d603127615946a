"""``binhyen invite`` and ``binhyen staff list|revoke``."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.cli.common import database
from bot.cli.main import CliError, with_config
from bot.config import Config
from bot.services import audit, invites
from storage.repos import areas, people
from storage.tables import Person


def register(sub: Any) -> None:
    inv = sub.add_parser("invite", help="create a one-time staff invitation link")
    inv.add_argument("--role", required=True, choices=invites.ROLES)
    inv.add_argument("--area", required=True, metavar="CODE", help="area code (commune/village)")
    inv.add_argument("--name", help="the staff member's name, shown to colleagues")
    inv.add_argument("--expires", default="7d", help="validity: 30m, 12h, 7d (default 7d)")
    inv.set_defaults(handler=with_config(invite))
    st = sub.add_parser("staff", help="list or revoke staff")
    ssub = st.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    ls = ssub.add_parser("list", help="staff and their roles")
    ls.add_argument("--area", metavar="CODE")
    ls.set_defaults(handler=with_config(list_staff))
    rv = ssub.add_parser("revoke", help="remove every role of a person at once")
    rv.add_argument("person", type=int, help="the person id from `binhyen staff list`")
    rv.set_defaults(handler=with_config(revoke))


def parse_duration(text: str) -> timedelta:
    m = re.fullmatch(r"(\d+)\s*([mhd])", text.strip())
    if not m or int(m.group(1)) == 0:
        raise CliError(f"--expires {text!r}: use a number with m, h or d, e.g. 7d")
    n, unit = int(m.group(1)), m.group(2)
    return timedelta(minutes=n) if unit == "m" else timedelta(hours=n) if unit == "h" \
        else timedelta(days=n)


async def invite(args: argparse.Namespace, config: Config) -> int:
    valid = parse_duration(args.expires)
    async with database(config) as db, db.uow() as s:
        try:
            new = await invites.create(s, role=args.role, area_code=args.area, name=args.name,
                                       valid_for=valid, now=datetime.now(UTC))
        except ValueError as exc:
            raise CliError(str(exc)) from None
    payload = f"{invites.PREFIX}{new.token}"
    local = new.expires_at.astimezone(config.bot.tz)
    print(f"Invitation: {args.role} for {areas.label(new.area)} ({new.area.code}), "
          f"valid until {local:%Y-%m-%d %H:%M} ({config.bot.timezone}), single use.")
    username = await telegram_username(config)
    if username:
        print(f"Telegram: https://t.me/{username}?start={payload}")
    elif config.telegram.enabled:
        print(f"Telegram: https://t.me/<bot username>?start={payload}")
    if config.web.webchat:
        web = config.web.public_url or f"http://{config.web.host}:{config.web.port}"
        print(f"Web chat: {web}/chat?start={payload}")
    print(f"Code:     /start {payload}")
    return 0


async def telegram_username(config: Config) -> str:
    """Ask the Bot API for the bot's username (empty when Telegram is off or unreachable)."""
    if not config.telegram.enabled:
        return ""
    from telegram import Bot
    from telegram.error import TelegramError

    try:
        async with Bot(config.telegram.token, base_url=config.telegram.api_url) as bot:
            return bot.username or ""
    except (TelegramError, OSError):
        return ""


async def list_staff(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.read() as s:
        area_ids = None
        if args.area:
            area = await areas.by_code(s, args.area)
            if area is None:
                raise CliError(f"no area with code {args.area!r}")
            area_ids = list(await areas.descendant_ids(s, [area.id]))
        rows = await people.staff(s, area_ids)
    if not rows:
        print("no staff")
    for person, grant, area in rows:
        print(f"{person.id}\t{person.display_name or '—'}\t{grant.role}\t{area.code}\t"
              f"{areas.label(area)}")
    return 0


async def revoke(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.uow() as s:
        person = await s.get(Person, args.person)
        if person is None:
            raise CliError(f"no person with id {args.person}")
        now = datetime.now(UTC)
        n = await people.revoke_all(s, person.id, now)
        audit.record(s, "role.revoke", at=now, actor_label="cli", object_type="person",
                     object_id=person.id, grants=n)
    print(f"revoked {n} role(s) of person {args.person}")
    return 0
