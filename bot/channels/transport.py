"""An aiohttp request backend for python-telegram-bot.

PTB's default httpx transport was measured at ~550 sends/s one at a time and slower with
more requests in flight (docs: platforms.md), below the ≥ 800 sends/s the paid broadcast
tier needs. aiohttp is already a dependency and keeps its throughput under concurrency,
so the bot plugs this in through ``ApplicationBuilder.request(...)`` and
``.get_updates_request(...)``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import aiohttp

# PTB's own request classes type their timeouts with this alias; it has no public home.
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

__all__ = ["AiohttpRequest"]

_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class AiohttpRequest(BaseRequest):
    """A :class:`telegram.request.BaseRequest` over one :class:`aiohttp.ClientSession`.

    The session (and its connection pool) is created in :meth:`initialize`, because an
    aiohttp session belongs to the event loop it was made in, and closed in
    :meth:`shutdown`. Timeouts follow PTB's meaning and defaults (those of
    ``HTTPXRequest``):

    * ``pool_timeout`` + ``connect_timeout`` bound getting a connection (waiting for a free
      pooled one, then opening it); ``connect_timeout`` alone bounds opening the socket;
    * ``read_timeout`` bounds each wait for data from the server;
    * aiohttp has no separate write timeout, so ``write_timeout`` (``media_write_timeout``
      for uploads) is folded into an overall cap: the sum of all four, when all are set.

    Args:
        connection_pool_size: Maximum simultaneous connections (aiohttp ``limit``).
        read_timeout: Default read timeout in seconds (None: no limit).
        write_timeout: Default write timeout for requests without files.
        connect_timeout: Default connection timeout.
        pool_timeout: Default time to wait for a free connection in the pool.
        media_write_timeout: Default write timeout for requests that upload files.
        keepalive_timeout: How long idle connections are kept for reuse.
        proxy: Optional HTTP proxy URL for every request.
        json_bodies: Send parameters as a JSON body instead of a form (uploads stay
            multipart); cheaper for long texts.
    """

    __slots__ = (
        "_connect_timeout",
        "_json_bodies",
        "_keepalive_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxy",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        keepalive_timeout: float = 30.0,
        proxy: str | None = None,
        json_bodies: bool = False,
    ) -> None:
        """Store settings; no session exists until :meth:`initialize`."""
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._keepalive_timeout = keepalive_timeout
        self._proxy = proxy
        self._json_bodies = json_bodies
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds (PTB adds it to long-poll timeouts)."""
        return self._read_timeout

    @property
    def connection_pool_size(self) -> int:
        """Maximum number of simultaneous connections."""
        return self._pool_size

    @property
    def is_initialized(self) -> bool:
        """Whether a usable session exists."""
        return self._session is not None and not self._session.closed

    async def initialize(self) -> None:
        """Create the session and connection pool; a no-op when already initialized."""
        if self.is_initialized:
            return
        connector = aiohttp.TCPConnector(
            limit=self._pool_size,
            # All traffic goes to one host, so the per-host cap must not be lower.
            limit_per_host=0,
            keepalive_timeout=self._keepalive_timeout,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.USER_AGENT},
            # Timeouts are set per request; the session default must not cut long polls.
            timeout=aiohttp.ClientTimeout(total=None),
            # Telegram never sets cookies; skipping the jar saves work on every response.
            cookie_jar=aiohttp.DummyCookieJar(),
            raise_for_status=False,
        )

    async def shutdown(self) -> None:
        """Close the session and its connections; safe to call more than once."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request and return ``(status, body)``; see :meth:`BaseRequest.do_request`.

        Raises:
            TimedOut: a connect, pool, read or overall timeout expired.
            NetworkError: the connection failed or broke.
            RuntimeError: :meth:`initialize` was not called (PTB reports it as NetworkError).
        """
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")

        has_files = request_data is not None and request_data.contains_files
        timeout = self._timeout(
            read_timeout, write_timeout, connect_timeout, pool_timeout, has_files
        )
        body: Any = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            if has_files:
                body = self._multipart(request_data)
            else:
                if self._json_bodies:
                    # The Bot API takes JSON bodies too; json.dumps runs in C, while
                    # percent-encoding a 1,000-character Vietnamese text costs ~0.25 ms.
                    values = request_data.parameters
                    if values:
                        body = json.dumps(values).encode()
                        headers = {"Content-Type": "application/json"}
                elif parameters := request_data.json_parameters:
                    # Pre-encoded bytes skip aiohttp's FormData machinery on the hot path.
                    body = urlencode(parameters).encode()
                    headers = {"Content-Type": _FORM_CONTENT_TYPE}

        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                proxy=self._proxy,
            ) as response:
                payload = await response.read()
                return response.status, payload
        except TimeoutError as err:
            # aiohttp's connect/read timeouts subclass TimeoutError too, so this one
            # branch covers pool, connect, socket-read and overall timeouts.
            raise TimedOut(f"aiohttp timed out: {type(err).__name__}") from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err

    def _timeout(
        self,
        read_timeout: ODVInput[float],
        write_timeout: ODVInput[float],
        connect_timeout: ODVInput[float],
        pool_timeout: ODVInput[float],
        has_files: bool,
    ) -> aiohttp.ClientTimeout:
        write_default = self._media_write_timeout if has_files else self._write_timeout
        read_f = _resolve(read_timeout, self._read_timeout)
        connect_f = _resolve(connect_timeout, self._connect_timeout)
        pool_f = _resolve(pool_timeout, self._pool_timeout)
        write_f = _resolve(write_timeout, write_default)
        acquire = None if connect_f is None or pool_f is None else connect_f + pool_f
        total = None
        if read_f is not None and write_f is not None and acquire is not None:
            total = read_f + write_f + acquire
        return aiohttp.ClientTimeout(
            total=total,
            connect=acquire,
            sock_connect=connect_f,
            sock_read=read_f,
        )

    @staticmethod
    def _multipart(request_data: RequestData) -> aiohttp.FormData:
        form = aiohttp.FormData(quote_fields=False)
        for name, value in request_data.json_parameters.items():
            form.add_field(name, value)
        for name, (filename, content, mime_type) in request_data.multipart_data.items():
            form.add_field(name, content, filename=filename, content_type=mime_type)
        return form


def _resolve(value: object, default: float | None) -> float | None:
    """PTB's timeout argument, or this instance's default when the caller passed none."""
    if value is BaseRequest.DEFAULT_NONE:
        return default
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"timeout must be a number or None, not {type(value).__name__}")
