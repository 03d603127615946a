"""``binhyen areas import|search|list|add``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from bot.cli.common import database
from bot.cli.main import CliError, with_config
from bot.config import Config
from bot.services import areas as areas_svc
from bot.text import vi_sort_key
from storage.admin_units import load_units
from storage.repos import areas


def register(sub: Any) -> None:
    p = sub.add_parser("areas", help="provinces, communes, villages and street groups")
    asub = p.add_subparsers(dest="areas_command", required=True, metavar="ACTION")
    imp = asub.add_parser("import", help="load provinces and communes from the packaged data")
    imp.add_argument("--province", metavar="CODE", help="only this province (2-digit code)")
    imp.set_defaults(handler=with_config(import_))
    se = asub.add_parser("search", help="find an area by name, accents optional")
    se.add_argument("text")
    se.add_argument("--province", metavar="CODE")
    se.set_defaults(handler=with_config(search))
    ls = asub.add_parser("list", help="list the areas under a parent (provinces without one)")
    ls.add_argument("--parent", metavar="CODE")
    ls.set_defaults(handler=with_config(list_))
    add = asub.add_parser("add", help="add a village or street group under a commune")
    add.add_argument("--parent", metavar="CODE", required=True, help="the commune's code")
    add.add_argument("--name", required=True, help='e.g. "Thôn 3" or "Tổ dân phố 12"')
    add.add_argument("--type", dest="type_", help="Thôn, Ấp, Bản, Tổ dân phố… (guessed)")
    add.set_defaults(handler=with_config(add_))


async def import_(args: argparse.Namespace, config: Config) -> int:
    units = load_units()
    if args.province:
        try:
            units.province(args.province)
        except KeyError:
            raise CliError(f"no province with code {args.province!r}") from None
    async with database(config) as db, db.uow() as s:
        added, updated = await areas_svc.import_units(s, args.province)
    print(f"areas: {added} added, {updated} updated (data {units.data_version})")
    return 0


async def search(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.read() as s:
        parent_id = None
        if args.province:
            prov = await areas.by_code(s, args.province)
            if prov is None:
                raise CliError(f"no province with code {args.province!r} in the database")
            parent_id = prov.id
        found = await areas.search(s, args.text, parent_id=parent_id, limit=20)
        if not found:
            print(f"nothing found for {args.text!r}")
            return 1
        for a in found:
            chain = await areas.ancestors(s, a)
            print(f"{a.code}\t{', '.join(areas.label(x) for x in chain)}")
    return 0


async def list_(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.read() as s:
        if args.parent:
            parent = await areas.by_code(s, args.parent)
            if parent is None:
                raise CliError(f"no area with code {args.parent!r}")
            rows = await areas.children(s, parent.id)
        else:
            rows = await areas.by_level(s, "province")
    for a in sorted(rows, key=lambda a: vi_sort_key(a.name)):
        print(f"{a.code}\t{areas.label(a)}")
    return 0


async def add_(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.uow() as s:
        try:
            village = await areas_svc.add_village(s, parent_code=args.parent, name=args.name,
                                                  type_=args.type_, at=datetime.now(UTC))
        except ValueError as exc:
            raise CliError(str(exc)) from None
        print(f"{village.code}\t{areas.label(village)}")
    return 0
