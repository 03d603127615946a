"""``binhyen apikey create|list|revoke``: keys of the read-only open API (/api/v1)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from bot.cli.common import database
from bot.cli.main import CliError, with_config
from bot.config import Config
from bot.services import api_keys


def register(sub: Any) -> None:
    p = sub.add_parser("apikey", help="keys of the open API, one per client")
    asub = p.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")
    cr = asub.add_parser("create", help="create a key (shown once)")
    cr.add_argument("name", help="who the key is for, e.g. \"provincial dashboard\"")
    cr.set_defaults(handler=with_config(create))
    ls = asub.add_parser("list", help="keys with their prefix, state and last use")
    ls.set_defaults(handler=with_config(list_))
    rv = asub.add_parser("revoke", help="revoke a key at once")
    rv.add_argument("key", help="the id or prefix from `binhyen apikey list`")
    rv.set_defaults(handler=with_config(revoke))


async def create(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.uow() as s:
        try:
            key, plain = await api_keys.create(s, args.name, datetime.now(UTC))
        except ValueError as exc:
            raise CliError(str(exc)) from None
        key_id, prefix = key.id, key.prefix
    print(f"API key {key_id} ({prefix}) for {args.name!r} — shown only now, store it safely:")
    print(plain)
    return 0


async def list_(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.read() as s:
        keys = await api_keys.list_keys(s)
    if not keys:
        print("no API keys")
    tz = config.bot.tz
    for k in keys:
        state = f"revoked {k.revoked_at.astimezone(tz):%Y-%m-%d %H:%M}" if k.revoked_at \
            else "active"
        used = f"{k.last_used_at.astimezone(tz):%Y-%m-%d %H:%M}" if k.last_used_at else "never"
        print(f"{k.id}\t{k.prefix}\t{state}\tlast used {used}\t{k.name}")
    return 0


async def revoke(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.uow() as s:
        key = await api_keys.revoke(s, args.key, datetime.now(UTC))
        if key is None:
            raise CliError(f"no API key {args.key!r} (see `binhyen apikey list`)")
        print(f"revoked API key {key.id} ({key.prefix}) of {key.name!r}")
    return 0
