"""``binhyen keys generate|status|rotate``."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from typing import Any

from bot.cli.common import database
from bot.cli.main import with_config
from bot.config import Config
from bot.services import keys
from storage.crypto import FieldCipher, generate_key


def register(sub: Any) -> None:
    p = sub.add_parser("keys", help="data-key rotation for ID and passport numbers")
    ks = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    gen = ks.add_parser("generate", help="print a fresh data key")
    gen.set_defaults(handler=lambda _a: print(generate_key()) or 0)
    st = ks.add_parser("status", help="how many rows are still under an old key")
    st.set_defaults(handler=with_config(status))
    rot = ks.add_parser("rotate", help="re-encrypt every row under [security] data_key "
                        "(keep the old key in old_data_keys until it finishes; resumable)")
    rot.add_argument("--batch", type=int, default=200)
    rot.set_defaults(handler=with_config(rotate))


def _cipher(config: Config) -> FieldCipher:
    return FieldCipher(config.security.data_key, config.security.old_data_keys)


async def status(args: argparse.Namespace, config: Config) -> int:
    async with database(config) as db:
        left = await keys.remaining(db, _cipher(config))
    print(f"current key {_cipher(config).key_id}: {left} row(s) still under an old key")
    return 0 if left == 0 else 1


async def rotate(args: argparse.Namespace, config: Config) -> int:
    cipher = _cipher(config)
    # Tests slow the job down to kill it half-way; nothing else should set this.
    pause = float(os.environ.get("BINHYEN_ROTATE_PAUSE", "0"))

    def report(p: keys.Progress) -> None:
        print(f"rotated {p.rotated}, remaining {p.remaining}", flush=True)

    async with database(config) as db:
        done = await keys.rotate(db, cipher, lambda: datetime.now(UTC), batch=args.batch,
                                 pause=pause, report=report)
    print(f"done: {done.rotated} row(s) now under key {cipher.key_id}; "
          "the old key can be removed from old_data_keys")
    return 0
