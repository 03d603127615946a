"""``binhyen init``: a config with fresh secrets, a migrated database, imported areas."""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from bot.cli.main import CliError, config_path
from bot.config import load_config
from storage.crypto import generate_key

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def register(sub: Any) -> None:
    p = sub.add_parser("init", help="write a config with fresh secrets, create the database")
    p.add_argument("--province", metavar="CODE",
                   help="import only this province's communes (default: all 34)")
    p.add_argument("--force", action="store_true", help="overwrite an existing config file")
    p.set_defaults(handler=run_init)


def example_text() -> str:
    if EXAMPLE.exists():
        return EXAMPLE.read_text("utf-8")
    return resources.files("bot.cli").joinpath("config.example.toml").read_text("utf-8")


def render_config(extra: dict[str, dict[str, str]] | None = None) -> str:
    """The example config with generated secrets and ``extra`` values filled in."""
    text = example_text()
    values = {("security", "data_key"): generate_key(),
              ("web", "session_secret"): secrets.token_urlsafe(32)}
    for section, kv in (extra or {}).items():
        for k, v in kv.items():
            values[(section, k)] = v
    section = ""
    lines = []
    for line in text.splitlines():
        m = re.match(r"^\[(\w+)\]", line)
        if m:
            section = m.group(1)
        assignment = re.match(r"^(\w+) = ", line)
        if assignment and (section, assignment.group(1)) in values:
            key = assignment.group(1)
            v = values[(section, key)]
            line = f"{key} = {v if v in ('true', 'false') else repr_toml(v)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def kept_secrets(path: Path) -> dict[str, dict[str, str]]:
    try:
        old = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    kept: dict[str, dict[str, str]] = {}
    for section, key in (("security", "data_key"), ("web", "session_secret")):
        value = old.get(section, {}).get(key)
        if isinstance(value, str) and value:
            kept.setdefault(section, {})[key] = value
    return kept


def repr_toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_init(args: argparse.Namespace) -> int:
    path = config_path(args) or Path("config.toml")
    if path.exists() and not args.force:
        raise CliError(f"{path} already exists (use --force to overwrite it)")
    extra: dict[str, dict[str, str]] = {"bot": {"province": args.province}} \
        if args.province else {}
    if path.exists():
        # --force rewrites the file but keeps its secrets: a new data key would make the
        # ID numbers already in the database unreadable.
        extra.update(kept_secrets(path))
    path.write_text(render_config(extra), "utf-8")
    path.chmod(0o600)
    config = load_config(path)
    added = asyncio.run(setup_database(config, args.province))
    print(f"wrote {path} (secrets generated; keep it private)")
    print(f"database ready at {config.database_url.split('///')[-1]}; {added} areas imported")
    print("next: `binhyen invite --role officer --area CODE`, then `binhyen run`")
    return 0


async def setup_database(config: Any, province: str | None) -> int:
    from bot.services import areas as areas_svc
    from storage.db import Database, make_engine

    db = Database(make_engine(config.database_url))
    try:
        await db.upgrade()
        async with db.uow() as s:
            added, _ = await areas_svc.import_units(s, province)
    finally:
        await db.close()
    return added
