"""``binhyen export arrivals``: stay declarations of an area as CSV or XLSX with every
legal field (full ID numbers) for entry into the national residence system. Audited."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.cli.common import database
from bot.cli.main import CliError, with_config
from bot.config import Config
from bot.services import arrival_export
from bot.services.arrival_input import parse_date
from storage.crypto import FieldCipher
from storage.repos import areas


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export records for entry into national systems")
    esub = p.add_subparsers(dest="export_command", required=True, metavar="WHAT")
    a = esub.add_parser("arrivals", help="stay declarations of an area (full ID numbers)")
    a.add_argument("--area", required=True, metavar="CODE",
                   help="province, commune or village code; everything below is included")
    a.add_argument("--from", dest="start", required=True, metavar="DATE",
                   help="first day of the period (YYYY-MM-DD or DD/MM/YYYY)")
    a.add_argument("--to", dest="end", required=True, metavar="DATE",
                   help="last day of the period; stays overlapping the period are exported")
    a.add_argument("--format", choices=arrival_export.FORMATS, default="csv")
    a.add_argument("--out", metavar="FILE",
                   help="file to write (default: luu-tru-<area>-<from>-<to>.<format> here; "
                        "'-' writes CSV to standard output)")
    a.set_defaults(handler=with_config(arrivals))


def _date(text: str, flag: str) -> date:
    day = parse_date(text)
    if day is None:
        raise CliError(f"{flag} {text!r}: use YYYY-MM-DD or DD/MM/YYYY")
    return day


def _write_private(path: Path, data: bytes) -> None:
    """The file holds ID numbers: readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


async def arrivals(args: argparse.Namespace, config: Config) -> int:
    start, end = _date(args.start, "--from"), _date(args.end, "--to")
    if end < start:
        raise CliError("--to is before --from")
    if args.out == "-" and args.format != "csv":
        raise CliError("only CSV can be written to standard output; give --out FILE")
    cipher = FieldCipher(config.security.data_key, config.security.old_data_keys)
    async with database(config) as db, db.uow() as s:
        area = await areas.by_code(s, args.area)
        if area is None:
            raise CliError(f"no area with code {args.area!r}")
        out = await arrival_export.export(s, cipher, config.bot.tz, area=area, start=start,
                                          end=end, fmt=args.format, now=datetime.now(UTC),
                                          actor_label="cli")
    if args.out == "-":
        sys.stdout.buffer.write(out.data)
        sys.stdout.flush()
        print(f"{out.rows} guests exported", file=sys.stderr)
        return 0
    path = Path(args.out or out.name)
    _write_private(path, out.data)
    print(f"{out.rows} guests of {areas.label(area)} ({area.code}), {start:%d/%m/%Y}–"
          f"{end:%d/%m/%Y}, written to {path} (contains full ID numbers; audited)")
    return 0
