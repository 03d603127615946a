"""``binhyen privacy requests|export|erase|report|breach`` for the data-protection officer."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.cli.common import database
from bot.cli.main import CliError, with_config
from bot.config import Config
from bot.services import audit, erasure, privacy, privacy_export
from storage.files import FileStore
from storage.tables import AuditEntry, Person, PrivacyRequest

BREACH_CHECKLIST = """Personal-data breach — what to do now (Law 91/2025, Decree 356/2025):
 1. Contain it: revoke leaked tokens and keys (`binhyen staff revoke`, rotate the bot token,
    `binhyen keys rotate` if the data key may be exposed), close the hole.
 2. Within 72 hours of discovery, notify the personal-data protection authority
    (A05, Ministry of Public Security) using the notification form: what happened, when
    it was discovered, kinds and approximate numbers of people and records, likely
    consequences, measures taken and planned, a contact person.
 3. If sensitive data (tips, ID numbers, locations) is involved, assess the risk to the
    people concerned and inform them where the risk is high.
 4. Keep this record and the evidence; add what you learn with another
    `binhyen privacy breach` entry referring to this one.
"""


def register(sub: Any) -> None:
    p = sub.add_parser("privacy", help="data-subject requests, exports, erasure, breaches")
    ps = p.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    rq = ps.add_parser("requests", help="list requests with their legal deadlines")
    rq.add_argument("--open", action="store_true", help="only requests not completed")
    rq.set_defaults(handler=with_config(requests))
    ex = ps.add_parser("export", help="write everything held about a person (JSON/CSV/XLSX)")
    ex.add_argument("person", type=int)
    ex.add_argument("--format", choices=("json", "csv", "xlsx"), default="json")
    ex.add_argument("--out", help="file to write (default: standard output for JSON/CSV)")
    ex.set_defaults(handler=with_config(export))
    er = ps.add_parser("erase", help="erase a person (tips stay, unlinked)")
    er.add_argument("person", type=int)
    er.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    er.set_defaults(handler=with_config(erase))
    rp = ps.add_parser("report", help="requests by kind and status, deadlines missed")
    rp.set_defaults(handler=with_config(report))
    br = ps.add_parser("breach", help="record a breach and print the 72-hour checklist")
    br.add_argument("--summary", required=True, help="what happened (no personal data)")
    br.add_argument("--discovered", help="when it was discovered (ISO time, default now)")
    br.set_defaults(handler=with_config(breach))


async def requests(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db, db.read() as s:
        stmt = select(PrivacyRequest).order_by(PrivacyRequest.received_at)
        if args.open:
            stmt = stmt.where(PrivacyRequest.status != "completed")
        rows = (await s.execute(stmt)).scalars().all()
    if not rows:
        print("no requests")
    for r in rows:
        due = r.due_at.astimezone(config.bot.tz)
        print(f"{r.ref}\t{r.kind}\t{r.status}\tperson {r.person_id or '(erased)'}\t"
              f"due {due:%Y-%m-%d}")
    return 0


async def _person(s: Any, person_id: int) -> Person:
    person = await s.get(Person, person_id)
    if person is None:
        raise CliError(f"no person with id {person_id}")
    return person


async def export(args: argparse.Namespace, config: Config) -> int:
    if args.format == "xlsx" and not args.out:
        raise CliError("XLSX needs --out FILE")  # before anything is read or audited
    async with database(config) as db, db.uow() as s:
        data = await privacy.collect(s, await _person(s, args.person))
        audit.record(s, "privacy.export", at=datetime.now(UTC), actor_label="cli",
                     object_type="person", object_id=args.person, format=args.format)
    body = {"json": privacy_export.to_json, "csv": privacy_export.to_csv,
            "xlsx": privacy_export.to_xlsx}[args.format](data)
    if args.out:
        Path(args.out).write_bytes(body)  # noqa: ASYNC240 - a CLI: nothing else on this loop
        print(f"wrote {args.out}")
    else:
        print(body.decode("utf-8-sig"))
    return 0


async def erase(args: argparse.Namespace, config: Config) -> int:
    if not args.yes:
        try:
            answer = input(f"Erase person {args.person} for good? Type 'erase': ")  # noqa: ASYNC250
        except EOFError:  # no terminal (a script): never erase without --yes
            answer = ""
        if answer.strip() != "erase":
            raise CliError("not erased")
    files = FileStore(config.data_path / "files", config.limits.photo_max_bytes)
    async with database(config) as db:
        async with db.uow() as s:
            now = datetime.now(UTC)
            person = await _person(s, args.person)
            # Recorded like a request made in chat, so the register counts it.
            req = await privacy.open_request(s, person, "delete", now,
                                             config.privacy.complete_days)
            privacy.complete(req, now)
            counts = await erasure.erase(s, person, now, files=files)
        await erasure.compact(db)
    print(f"{req.ref} erased: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


async def report(args: argparse.Namespace, config: Config) -> int:
    now = datetime.now(UTC)
    async with database(config) as db, db.read() as s:
        rows = (await s.execute(select(PrivacyRequest.kind, PrivacyRequest.status, func.count())
                                .group_by(PrivacyRequest.kind, PrivacyRequest.status))).all()
        late = (await s.execute(select(func.count()).select_from(PrivacyRequest).where(
            PrivacyRequest.status != "completed", PrivacyRequest.due_at < now))).scalar_one()
        breaches = (await s.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "privacy.breach"))).scalar_one()
    for kind, status, n in rows:
        print(f"{kind}\t{status}\t{n}")
    print(f"overdue: {late}\nbreaches recorded: {breaches}")
    return 0


async def breach(args: argparse.Namespace, config: Config) -> int:
    now = datetime.now(UTC)
    discovered = datetime.fromisoformat(args.discovered) if args.discovered else now
    if discovered.tzinfo is None:
        discovered = discovered.replace(tzinfo=config.bot.tz)
    deadline = discovered.astimezone(config.bot.tz) + timedelta(hours=72)
    async with database(config) as db, db.uow() as s:
        audit.record(s, "privacy.breach", at=now, actor_label="cli", object_type="breach",
                     summary=args.summary[:500], discovered=discovered.isoformat(),
                     notify_by=deadline.isoformat())
    print(json.dumps({"recorded": True, "notify_authority_by": deadline.isoformat()},
                     ensure_ascii=False))
    print(BREACH_CHECKLIST)
    return 0
