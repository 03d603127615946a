"""A small aiohttp client for the Zalo Bot Platform API, and how its failures map to ours.

Every method is ``POST <api_url><token>/<method>`` with a JSON body; answers are
``{"ok": true, "result": …}`` or ``{"ok": false, "error_code": N, "description": …}``
(a success may carry ``"error_code": 0``, so only ``ok`` decides). The token is part of
the URL, so neither URLs nor aiohttp's exception texts are ever logged or stored.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from bot.channels.base import Failure, SendError

UNREACHABLE_WORDS = ("not found", "not exist", "blocked", "unfollow", "invalid user",
                     "invalid chat", "không tồn tại")


class ZaloApiError(Exception):
    """A failed call: HTTP ``status`` (0: no answer), the API's ``code`` and description."""

    def __init__(self, status: int, code: int, description: str,
                 retry_after: float = 0.0) -> None:
        super().__init__(f"{code or status}: {description}")
        self.status = status
        self.code = code or status
        self.description = description[:200]
        self.retry_after = retry_after

    @property
    def idle(self) -> bool:
        """getUpdates' "nothing new" answer (408 Request timeout)."""
        return self.code == 408 or self.status == 408


def classify(err: ZaloApiError) -> SendError:
    """Map a failed send to the dispatcher's retry policy."""
    code, low = err.code, err.description.lower()
    if code == 429:
        return SendError(Failure.RETRY_AFTER, err.description, retry_after=err.retry_after or 5)
    if code in (403, 404) or (code == 400 and any(w in low for w in UNREACHABLE_WORDS)):
        return SendError(Failure.UNREACHABLE, f"{code} {err.description}")
    if code in (0, 401, 408) or code >= 500:
        # 401 is a configuration problem (a revoked token): keep the message for later.
        return SendError(Failure.TRANSIENT, f"{code} {err.description}")
    return SendError(Failure.PERMANENT, f"{code} {err.description}")


class ZaloApi:
    def __init__(self, api_url: str, token: str, timeout: float = 20.0) -> None:
        self._base = f"{api_url}{token}/"
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64), raise_for_status=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "ZaloApi.open() first"
        return self._session

    async def call(self, method: str, body: dict[str, Any] | None = None, *,
                   seconds: float | None = None) -> Any:
        """Call ``method`` (``seconds``: overall time limit); returns ``result`` or raises
        :class:`ZaloApiError`."""
        limit = aiohttp.ClientTimeout(total=seconds or self._timeout)
        try:
            async with self.session.post(self._base + method, json=body or {},
                                         timeout=limit) as resp:
                status = resp.status
                try:
                    data = await resp.json(content_type=None)
                except ValueError:
                    data = None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ZaloApiError(0, 0, type(exc).__name__) from None
        if not isinstance(data, dict):
            raise ZaloApiError(status, status, f"HTTP {status} without a JSON envelope")
        if data.get("ok") is True:
            return data.get("result")
        params = data.get("parameters")
        retry = params.get("retry_after") if isinstance(params, dict) else None
        code = str(data.get("error_code", ""))
        raise ZaloApiError(status, int(code) if code.isdigit() else status,
                           str(data.get("description") or ""),
                           float(retry) if isinstance(retry, int | float) else 0.0)


class Backoff:
    """After a failure every send waits a little longer (doubling up to ``cap``)."""

    def __init__(self, base: float = 0.5, cap: float = 30.0) -> None:
        self.base, self.cap = base, cap
        self.delay = 0.0
        self._until = 0.0

    async def wait(self) -> None:
        pause = self._until - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)

    def failed(self, at_least: float = 0.0) -> float:
        self.delay = min(self.cap, max(self.base, self.delay * 2))
        pause = max(self.delay, at_least)
        self._until = time.monotonic() + pause
        return pause

    def succeeded(self) -> None:
        self.delay = 0.0
