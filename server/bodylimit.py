"""A cap on JSON request bodies (specs, sessions, controls), checked before FastAPI parses them.

CSV uploads are capped by their own route (LAYERLAB_MAX_UPLOAD_BYTES), so they pass through here.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_SUFFIX = "/uploads"


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A receive() that hands out `messages` first, then defers to `then` (e.g. for a disconnect)."""
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive


class JsonBodyLimit:
    """Answers 413 to a request body over `limit` bytes, by Content-Length or while it streams in.

    Bodies under the cap are small, so reading one whole before the app does costs nothing."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH") \
                or scope["path"].rstrip("/").endswith(UPLOAD_SUFFIX):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(send)
            return
        # No (or an honest) Content-Length: read the body here, at most limit + 1 bytes, then replay it.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                await self.app(scope, _replay([msg]), send)  # the client left; let the app see it
                return
            chunks.append(msg.get("body", b""))
            size += len(chunks[-1])
            more = msg.get("more_body", False)
            if size > self.limit:
                await self._refuse(send)
                return
        body = b"".join(chunks)
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"the request body is larger than {self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
