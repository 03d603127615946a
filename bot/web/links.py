"""Signed, expiring links to stored files (exports on the web chat, photos for Zalo).

A link made with ``once=True`` (documents on the web chat: copies of a person's data)
works for one download: the route asks ``claim`` to record the use before serving."""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from aiohttp import web

from storage.files import FileStore, sniff


class Signer:
    def __init__(self, secret: str, base_url: str) -> None:
        # Without a configured secret, a random key: links then work only within this
        # process run (never a guessable key).
        material = ("binhyen-links:" + secret).encode() if secret else secrets.token_bytes(32)
        self._key = hashlib.sha256(material).digest()
        self.base_url = base_url.rstrip("/")

    def _sig(self, sha: str, exp: int, name: str, once: bool = False) -> str:
        msg = (f"{sha}:{exp}:{name}" + (":once" if once else "")).encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()[:32]

    def url(self, sha: str, now: datetime, ttl: timedelta, name: str = "",
            once: bool = False) -> str:
        exp = int((now + ttl).timestamp())
        query = f"exp={exp}&sig={self._sig(sha, exp, name, once)}"
        if name:
            query += f"&name={quote(name)}"
        if once:
            query += "&once=1"
        return f"{self.base_url}/files/{sha}?{query}"

    def valid(self, sha: str, exp: str, sig: str, name: str, now: datetime,
              once: bool = False) -> bool:
        if not exp.isdigit() or int(exp) < now.timestamp():
            return False
        return hmac.compare_digest(sig, self._sig(sha, int(exp), name, once))


# (signature, link expiry, file name) → True the first time, False once used.
Claim = Callable[[str, datetime, str], Awaitable[bool]]


def file_route(signer: Signer, files: FileStore, clock: object,
               claim: Claim | None = None) -> web.RouteDef:
    async def serve(request: web.Request) -> web.StreamResponse:
        sha = request.match_info["sha"]
        q = request.query
        name = q.get("name", "")
        once = q.get("once") == "1"
        exp, sig = q.get("exp", ""), q.get("sig", "")
        if len(sha) != 64 or not signer.valid(sha, exp, sig, name, clock(),  # type: ignore[operator]
                                              once):
            raise web.HTTPForbidden(text="link expired or invalid")
        path = files.path(sha)
        if not path.exists():
            raise web.HTTPNotFound(text="file no longer available")
        if once and (claim is None
                     or not await claim(sig, datetime.fromtimestamp(int(exp), UTC), name)):
            raise web.HTTPGone(text="this link was already used")
        headers = {"Cache-Control": "private, no-store"}
        if name:
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
            headers["Content-Type"] = mimetypes.guess_type(name)[0] or "application/octet-stream"
        else:
            with path.open("rb") as f:
                headers["Content-Type"] = sniff(f.read(16)) or "application/octet-stream"
        return web.FileResponse(path, headers=headers)

    return web.get("/files/{sha}", serve)
