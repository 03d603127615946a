"""``binhyen console link PERSON``: a one-time sign-in link to the staff console."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.cli.common import database
from bot.cli.main import CliError, with_config
from bot.config import Config
from bot.services import console_auth
from storage.tables import Person


def register(sub: Any) -> None:
    p = sub.add_parser("console", help="the staff web console")
    csub = p.add_subparsers(dest="console_command", required=True, metavar="ACTION")
    link = csub.add_parser("link", help="print a one-time sign-in link for a staff member")
    link.add_argument("person", type=int, help="the person id from `binhyen staff list`")
    link.set_defaults(handler=with_config(make_link))


async def make_link(args: argparse.Namespace, config: Config) -> int:
    minutes = config.console.link_minutes
    async with database(config) as db, db.uow() as s:
        person = await s.get(Person, args.person)
        if person is None:
            raise CliError(f"no person with id {args.person}")
        try:
            token = await console_auth.issue_link(s, person.id, datetime.now(UTC),
                                                  timedelta(minutes=minutes), actor_label="cli")
        except console_auth.SigninError:
            raise CliError(f"person {args.person} has no staff role (see `binhyen staff "
                           "list`)") from None
    base = config.web.public_url or f"http://{config.web.host}:{config.web.port}"
    print(f"Sign-in link for {person.display_name or f'person {person.id}'} "
          f"(one use, valid {minutes} minutes):")
    print(console_auth.link_url(base, token))
    return 0
