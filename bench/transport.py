"""Sends per second to the fake Bot API: PTB's default HTTPXRequest vs our AiohttpRequest.

The fake runs in its own process (so client and server do not share one core) with flood
limits off; each cell is the median of ``--repeat`` runs of ``--messages`` sendMessage
calls with ``c`` calls in flight. A raw aiohttp row (no PTB) shows what the fake itself
can take.

Run from the repository root::

    .venv/bin/python -m bench.transport
    .venv/bin/python -m bench.transport --messages 2000 --concurrency 1 8 32 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import aiohttp
from telegram import Bot
from telegram.request import BaseRequest, HTTPXRequest

from bot.channels.transport import AiohttpRequest
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123:ABC"
CHATS = 1000

Send = Callable[[int], Awaitable[object]]


async def _drive(send: Send, messages: int, concurrency: int) -> float:
    """Push ``messages`` sends through ``concurrency`` workers; return sends per second."""
    counter = itertools.count()

    async def worker() -> None:
        while (n := next(counter)) < messages:
            await send(n)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return messages / (time.perf_counter() - started)


async def _measure_ptb(
    base_url: str, factory: Callable[[], BaseRequest], messages: int, concurrency: int
) -> float:
    async with Bot(TOKEN, base_url=base_url, request=factory()) as bot:

        async def send(n: int) -> object:
            return await bot.send_message(10_000 + n % CHATS, f"Tin nhắn thử số {n}")

        await _drive(send, 100, concurrency)  # warm the connection pool
        return await _drive(send, messages, concurrency)


async def _measure_raw(base_url: str, messages: int, concurrency: int) -> float:
    url = f"{base_url}{TOKEN}/sendMessage"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:

        async def send(n: int) -> object:
            body = urlencode({"chat_id": 10_000 + n % CHATS, "text": f"Tin nhắn thử số {n}"})
            async with session.post(url, data=body.encode(), headers=headers) as response:
                return await response.read()

        await _drive(send, 100, concurrency)
        return await _drive(send, messages, concurrency)


async def _start_fake_process() -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.telegram_api",
        "--token",
        TOKEN,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
    if not line.startswith("READY "):
        process.kill()
        await process.wait()
        raise RuntimeError(f"fake server did not start: {line!r}")
    return process, line.removeprefix("READY ")


async def run(messages: int, concurrencies: list[int], repeat: int, inprocess: bool) -> None:
    """Measure every transport at every concurrency and print the table."""
    process: asyncio.subprocess.Process | None = None
    fake: FakeTelegram | None = None
    if inprocess:
        fake = FakeTelegram(token=TOKEN)
        await fake.start()
        base_url = fake.base_url
    else:
        process, base_url = await _start_fake_process()

    rows: list[tuple[str, Callable[[int], Awaitable[float]]]] = [
        (
            "httpx (PTB default)",
            lambda c: _measure_ptb(base_url, HTTPXRequest, messages, c),
        ),
        (
            "AiohttpRequest (ours)",
            lambda c: _measure_ptb(base_url, AiohttpRequest, messages, c),
        ),
        ("raw aiohttp, no PTB", lambda c: _measure_raw(base_url, messages, c)),
    ]
    try:
        where = "same process" if inprocess else "separate process"
        print(
            f"sendMessage/s to the fake Bot API ({where}), flood limits off, "
            f"{messages} messages per run, median of {repeat}"
        )
        header = f"{'transport':<24}" + "".join(f"{f'c={c}':>10}" for c in concurrencies)
        print(header)
        print("-" * len(header))
        for name, measure in rows:
            cells = []
            for concurrency in concurrencies:
                rates = [await measure(concurrency) for _ in range(repeat)]
                cells.append(f"{statistics.median(rates):>10.0f}")
            print(f"{name:<24}" + "".join(cells), flush=True)
    finally:
        if fake is not None:
            await fake.stop()
        if process is not None:
            process.terminate()
            await process.wait()


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--inprocess", action="store_true", help="run the fake in the benchmark's own loop"
    )
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.concurrency, args.repeat, args.inprocess))


if __name__ == "__main__":
    main()
