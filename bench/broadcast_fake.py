"""The fake Telegram server for bench/broadcast.py: its own process, flood limits on.

Prints ``READY <base url>`` once listening, then ``STAT <monotonic> <sent> <429s> <dups>
<cpu seconds>`` four times a second, where ``dups`` counts messages a chat got more than
once. Sends are counted per chat and not kept, so memory stays flat over 100,000 messages.

    python -m bench.broadcast_fake --global-per-sec 30 [--paid-per-sec 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections import Counter
from typing import Any

from tests.fakes.telegram_api import FakeTelegram


class CountingFake(FakeTelegram):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.per_chat: Counter[int] = Counter()
        self.total = 0
        self.dups = 0

    def _record(self, method: str, chat_id: int, *args: Any, **kwargs: Any) -> None:
        super()._record(method, chat_id, *args, **kwargs)
        self.sent.clear()
        if method in ("sendMessage", "sendPhoto"):
            self.total += 1
            self.per_chat[chat_id] += 1
            self.dups += self.per_chat[chat_id] > 1


async def serve(args: argparse.Namespace) -> None:
    async with CountingFake(token=args.token, flood_control=True,
                            global_per_sec=args.global_per_sec, per_chat_per_sec=1,
                            per_group_per_min=20, paid_broadcast_per_sec=args.paid_per_sec) as tg:
        print(f"READY {tg.base_url}", flush=True)
        while True:
            await asyncio.sleep(0.25)
            sys.stdout.write(f"STAT {time.monotonic():.4f} {tg.total} {tg.count_429} "
                             f"{tg.dups} {time.process_time():.2f}\n")
            sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--token", default="123:ABC")
    parser.add_argument("--global-per-sec", type=int, default=30)
    parser.add_argument("--paid-per-sec", type=int, default=1000)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
