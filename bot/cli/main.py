"""The ``binhyen`` command line: one parser, one module per command family."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bot.config import Config, ConfigError, load_config

Runner = Callable[[argparse.Namespace, Config], Coroutine[Any, Any, int]]


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def config_path(args: argparse.Namespace) -> Path | None:
    given = args.config or os.environ.get("BINHYEN_CONFIG")
    if given:
        return Path(given)
    default = Path("config.toml")
    return default if default.exists() else None


def get_config(args: argparse.Namespace) -> Config:
    path = config_path(args)
    if path is None:
        raise ConfigError("config.toml: no config file here — run `binhyen init` first, or "
                          "pass --config PATH (or set BINHYEN_CONFIG)")
    return load_config(path)


def build_parser() -> argparse.ArgumentParser:
    from bot.cli import (
        apikey,
        areas,
        broadcast,
        console,
        db,
        export,
        init,
        keys,
        privacy,
        rules,
        run,
        staff,
    )

    parser = argparse.ArgumentParser(
        prog="binhyen", description="Bình Yên — neighbourhood safety chat bot.")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $BINHYEN_CONFIG or ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (init, db, areas, staff, rules, keys, privacy, export, console, apikey,
                   broadcast, run):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("BINHYEN_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"binhyen: config error: {exc}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"binhyen: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def with_config(fn: Runner) -> Callable[[argparse.Namespace], int]:
    """Adapt an async command taking (args, config) into a parser handler."""
    def handler(args: argparse.Namespace) -> int:
        config = get_config(args)
        return asyncio.run(fn(args, config))
    return handler


if __name__ == "__main__":
    raise SystemExit(main())
