"""A delivery worker as its own process, for the kill test and the benchmark.

    python -m tests.support.broadcast_runner CONFIG [--lease SECONDS] [--tick SECONDS]

It builds the real runtime from the config (Telegram send-only, no polling), runs the
delivery dispatcher and the broadcasts' scheduler tick, prints ``READY`` and then works
until it is killed. The lease is short so a restart after ``kill -9`` resumes quickly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import timedelta

from bot.app import build_runtime
from bot.config import load_config


async def work(config_path: str, lease: float, tick: float) -> None:
    rt = await build_runtime(load_config(config_path))
    assert rt.telegram is not None, "the runner needs [telegram] token and api_url"
    await rt.telegram.start(intake=False)
    rt.dispatcher.lease = timedelta(seconds=lease)
    dispatcher = asyncio.create_task(rt.dispatcher.run(idle_poll=0.2))
    print("READY", flush=True)
    try:
        while True:
            await rt.scheduler.broadcasts.tick()
            await asyncio.sleep(tick)
    finally:
        rt.dispatcher.stop()
        await dispatcher
        await rt.telegram.stop()
        await rt.deps.db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("config")
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--tick", type=float, default=0.3)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(work(args.config, args.lease, args.tick))


if __name__ == "__main__":
    main()
