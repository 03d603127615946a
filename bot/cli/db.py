"""``binhyen db upgrade|status``."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.common import database
from bot.cli.main import with_config
from bot.config import Config


def register(sub: Any) -> None:
    p = sub.add_parser("db", help="database schema")
    dsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dsub.add_parser("upgrade", help="apply migrations up to the latest schema")
    up.set_defaults(handler=with_config(upgrade))
    st = dsub.add_parser("status", help="show the current and expected schema revision")
    st.set_defaults(handler=with_config(status))


async def upgrade(args: argparse.Namespace, config: Config) -> int:
    async with database(config, check=False) as db:
        before, _ = await db.schema_state()
        await db.upgrade()
        after, _ = await db.schema_state()
    if before == after:
        print(f"schema already at {', '.join(sorted(after))}")
    else:
        print(f"schema upgraded: {', '.join(sorted(before)) or 'empty'} → "
              f"{', '.join(sorted(after))}")
    return 0


async def status(args: argparse.Namespace, config: Config) -> int:
    async with database(config, check=False) as db:
        current, heads = await db.schema_state()
    print(f"current: {', '.join(sorted(current)) or 'empty'}; expected: "
          f"{', '.join(sorted(heads))}")
    return 0 if current == heads else 1
