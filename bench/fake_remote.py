"""The fake Telegram server in its own process, remote-controlled by a benchmark.

``tests.fakes.telegram_api`` run standalone serves the Bot API only; a benchmark in another
process also needs to act as users and to see what the bot sent. This wrapper runs the
same :class:`~tests.fakes.telegram_api.FakeTelegram` and adds a small control server:

* ``POST /text {"user": 1, "text": "/baotin"}`` — the user sends a message;
* ``POST /press {"user": 1, "label": "Gửi tin"}`` — the user presses the newest button
  whose label contains ``label`` (inline, or a reply-keyboard key, which sends its text).

Both return once the bot answered the webhook (it handles an update before answering),
with ``t0`` (``time.monotonic()`` just before the update was injected) and the replies
the chat got meanwhile. Every message the bot sends anywhere is also written to stdout as
one JSON line ``SENT {"chat", "method", "text", "at", …}`` with ``at`` on the same
monotonic clock, so latencies never mix clocks of two processes.

    python -m bench.fake_remote --port 0 --control-port 0
    # prints: READY <bot api base url> <control url>
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import defaultdict
from typing import Any

from aiohttp import web

from tests.fakes.telegram_api import FakeTelegram, JSONDict


class RemoteFake(FakeTelegram):
    """FakeTelegram that indexes sends per chat and streams them to stdout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.by_chat: dict[int, list[JSONDict]] = defaultdict(list)
        self._out = sys.stdout

    def _record(self, method: str, chat_id: int, text: str | None, params: JSONDict,
                markup: JSONDict | None, message_id: int, *args: Any, **kwargs: Any) -> None:
        super()._record(method, chat_id, text, params, markup, message_id, *args, **kwargs)
        sent = self.sent[-1]
        # Nothing reads the fake's own list here: keep memory flat over a long run.
        self.sent.clear()
        item = {"chat": chat_id, "method": method, "text": text or "", "at": sent.at,
                "message_id": message_id, "markup": markup or {}}
        self.by_chat[chat_id].append(item)
        self._out.write("SENT " + json.dumps({k: v for k, v in item.items() if k != "markup"},
                                             ensure_ascii=False) + "\n")

    def newest_button(self, chat: int, label: str) -> tuple[str, str, int] | None:
        """("callback"|"text", data or text, message_id) of the newest matching button."""
        for item in reversed(self.by_chat.get(chat, [])):
            markup = item["markup"]
            for row in markup.get("inline_keyboard", []):
                for b in row:
                    if label in b.get("text", "") and "callback_data" in b:
                        return "callback", b["callback_data"], item["message_id"]
            for row in markup.get("keyboard", []):
                for b in row:
                    text = b if isinstance(b, str) else b.get("text", "")
                    if label in text:
                        return "text", text, item["message_id"]
        return None


def control_app(tg: RemoteFake) -> web.Application:
    async def replies_since(chat: int, seen: int) -> list[JSONDict]:
        return [{k: v for k, v in r.items() if k != "markup"} for r in tg.by_chat[chat][seen:]]

    async def text(request: web.Request) -> web.Response:
        body = await request.json()
        user = int(body["user"])
        seen = len(tg.by_chat[user])
        t0 = time.monotonic()
        update_id = await tg.user_sends_text(user, body["text"], first_name=f"Dân {user}")
        return web.json_response({"update_id": update_id, "t0": t0,
                                  "replies": await replies_since(user, seen)})

    async def press(request: web.Request) -> web.Response:
        body = await request.json()
        user = int(body["user"])
        found = tg.newest_button(user, body["label"])
        if found is None:
            return web.json_response({"error": f"no button {body['label']!r}"}, status=404)
        kind, data, message_id = found
        seen = len(tg.by_chat[user])
        t0 = time.monotonic()
        if kind == "callback":
            update_id = await tg.user_presses(user, data, message_id=message_id,
                                              first_name=f"Dân {user}")
        else:
            update_id = await tg.user_sends_text(user, data, first_name=f"Dân {user}")
        return web.json_response({"update_id": update_id, "t0": t0,
                                  "replies": await replies_since(user, seen)})

    async def flush(_request: web.Request) -> web.Response:
        sys.stdout.flush()
        return web.json_response({"ok": True, "now": time.monotonic()})

    app = web.Application()
    app.router.add_post("/text", text)
    app.router.add_post("/press", press)
    app.router.add_post("/flush", flush)
    return app


async def serve(port: int, control_port: int, token: str) -> None:
    # A loaded machine can take long to answer a webhook; never give up on one here.
    async with RemoteFake(token=token, port=port, webhook_timeout=120) as tg:
        runner = web.AppRunner(control_app(tg), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", control_port)
        await site.start()
        server: Any = site._server
        cport = server.sockets[0].getsockname()[1]
        print(f"READY {tg.base_url} http://127.0.0.1:{cport}", flush=True)
        flusher = asyncio.create_task(_flush_often())
        try:
            await asyncio.Event().wait()
        finally:
            flusher.cancel()
            await runner.cleanup()


async def _flush_often() -> None:
    # Block-buffered stdout is much cheaper than a flush per line; the reader only needs
    # the lines within a fraction of a second (``at`` carries the real time).
    while True:
        await asyncio.sleep(0.05)
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--token", default="123:ABC")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.control_port, args.token))


if __name__ == "__main__":
    main()
