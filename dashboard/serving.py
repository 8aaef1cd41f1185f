"""The static route serves the vendored files and nothing else.

Streamlit (``server.enableStaticServing``) serves every file under ``static/``, dotfiles and
HTML included, looked up on disk at each request: a ``static/.env`` or a
``static/vendor/page.html`` dropped there, even while the server runs, would be served, the
HTML as ``text/html`` on the dashboard's own origin. :class:`VendoredOnly` sits in front of
Streamlit (``serve.py``, which ``scripts/run.sh`` starts) and answers 404 for every path under
``/app/static/`` that is not a file of ``static/vendor/MANIFEST.json``, whatever is on disk.
It is an allow-list checked on every request rather than a scan at start-up, so nothing
added later slips through, and nothing is deleted from the operator's disk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from maps.offline import ASSET_BASE_URL, vendored_files

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Streamlit's route for ``static/`` (the parent of :data:`maps.offline.ASSET_BASE_URL`).
STATIC_ROUTE = ASSET_BASE_URL.rsplit("/", 1)[0] + "/"
_NOT_FOUND = b"File not found"


class VendoredOnly:
    """ASGI middleware: a path containing ``/app/static/`` passes only when it ends in a
    vendored file's URL (any base path before it); anything else there is a 404."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.allowed = frozenset(f"{ASSET_BASE_URL}/{rel}" for rel in vendored_files())

    def refused(self, path: str) -> bool:
        """Whether a request for ``path`` (decoded, as ASGI gives it) must not reach Streamlit."""
        at = path.find(STATIC_ROUTE)
        return at >= 0 and path[at:] not in self.allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.refused(scope["path"]):
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(_NOT_FOUND)).encode()),
            ]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": _NOT_FOUND})
            return
        await self.app(scope, receive, send)
