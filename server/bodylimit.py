"""A cap on JSON request bodies (specs, sessions, controls), checked before FastAPI parses them,
and a 422 at the root path for a body too deep or with too long a number to parse at all.

CSV uploads are capped by their own route (LAYERLAB_MAX_UPLOAD_BYTES), so they pass through here.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_SUFFIX = "/uploads"
MAX_DEPTH = 64  # a spec nests about 6 levels; pydantic and our own walks never see deeper bodies


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
        problem = unparseable(body, dict(scope["headers"]).get(b"content-type", b""))
        if problem is not None:
            await _json(send, 422, {"errors": [{"path": "$", "message": problem}]})
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)

    async def _refuse(self, send: Send) -> None:
        await _json(send, 413, {"detail": f"the request body is larger than {self.limit} bytes"})


def depth(value: Any) -> int:
    """How deeply JSON containers nest in `value` (a scalar is 0), without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            todo.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def unparseable(body: bytes, content_type: bytes) -> Optional[str]:
    """Why a JSON body that FastAPI would answer with a pathless 400 is not a spec, else None.

    json.loads raises RecursionError past ~1,000 levels of nesting and ValueError for an integer
    of more than 4,300 digits (CPython's int/str guard); FastAPI turns both into 400 "There was an
    error parsing the body". Plain syntax errors are left to FastAPI, whose 422 gives the offset."""
    if not body or (content_type and b"json" not in content_type.lower()):
        return None
    try:
        value = json.loads(body)
    except RecursionError:
        return f"the body nests deeper than {MAX_DEPTH} levels"
    except json.JSONDecodeError:
        return None
    except ValueError as e:  # e.g. "Exceeds the limit (4300 digits) for integer string conversion"
        return f"not a usable JSON body: {e}"
    if depth(value) > MAX_DEPTH:
        return f"the body nests deeper than {MAX_DEPTH} levels"
    return None


async def _json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
