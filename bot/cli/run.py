"""``binhyen run`` (a configured deployment) and ``binhyen demo`` (everything local)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import logs
from bot.cli.common import database
from bot.cli.main import CliError, config_path, get_config
from bot.config import Config, load_config
from storage.db import SchemaOutdated

# The same set as bot.app.ALL_ROLES; bot.app (the whole bot) is imported only when a
# command actually serves, so the rest of the CLI starts quickly.
ALL_ROLES = frozenset({"web", "worker", "scheduler"})


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="start the bot (channels per config, web app)")
    run.add_argument("--role", action="append", choices=sorted(ALL_ROLES),
                     help="what this process does (repeatable; default: [run] roles, all "
                          "three). Needs PostgreSQL unless all three are given.")
    run.set_defaults(handler=cmd_run)
    demo = sub.add_parser("demo", help="set up demo data in a local SQLite file and start the "
                          "web chat at http://127.0.0.1:8080/chat")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--dir", default="data/demo", help="where the demo keeps its files")
    demo.add_argument("--setup-only", action="store_true", help="prepare the data, don't serve")
    demo.set_defaults(handler=cmd_demo)


async def serve(config: Config, demo_people: list[dict[str, str]] | None = None,
                roles: frozenset[str] = ALL_ROLES) -> None:
    """Run the app until SIGINT/SIGTERM, then shut down cleanly (claims finished)."""
    from aiohttp import web

    from bot.app import StartupError, create_app

    logs.setup(config.logging.level, config.logging.json_lines)
    app = create_app(config, demo_people=demo_people, roles=roles)
    runner = web.AppRunner(app, handle_signals=False)
    try:
        await runner.setup()
    except (StartupError, SchemaOutdated) as exc:
        raise CliError(str(exc)) from None
    site = web.TCPSite(runner, config.web.host, config.web.port)
    await site.start()
    server: Any = site._server
    port = server.sockets[0].getsockname()[1] if server is not None else config.web.port
    page = "web chat at" if config.web.webchat else "console at"
    path = "/chat" if config.web.webchat else "/console"
    print(f"Bình Yên is running ({', '.join(sorted(roles))}): {page} "
          f"http://{config.web.host}:{port}{path} (Ctrl+C to stop)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def cmd_run(args: argparse.Namespace) -> int:
    config = get_config(args)
    roles = frozenset(args.role or config.run.roles)
    if roles != ALL_ROLES and config.database.is_sqlite:
        raise CliError("SQLite runs every role in one process; use PostgreSQL "
                       "([database] url) to split web, worker and scheduler processes")
    asyncio.run(serve(config, roles=roles))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.cli.init import render_config
    from bot.services import demo

    base = Path(args.dir)
    base.mkdir(parents=True, exist_ok=True)
    path = Path(args.config) if args.config else base / "config.toml"
    if not path.exists():
        path.write_text(render_config({"bot": {"demo": "true", "province": demo.DEMO_PROVINCE,
                                               "data_dir": "."}}), "utf-8")
        path.chmod(0o600)
    env = dict(os.environ)
    env.setdefault("BINHYEN_WEB__PORT", str(args.port))
    config = load_config(path, env)

    async def setup() -> None:
        async with database(config, check=False) as db:
            await db.upgrade()
            async with db.uow() as s:
                await demo.seed(s, notice_version=config.bot.notice_version,
                                at=datetime.now(UTC))

    asyncio.run(setup())
    print(f"demo data ready in {config.data_path} (config {path})")
    if args.setup_only:
        return 0
    asyncio.run(serve(config, demo.people_for_page()))
    return 0


__all__ = ["config_path", "register"]
