"""The websocket stream of a run: replay, then live messages coalesced to about 50 ms.

Two tasks per client: one sends, one receives. The receiver notices a client that has
gone (and uvicorn's close frame on shutdown) even while nothing is being sent, so a
handler never hangs on its queue.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any, Optional

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from engine.spec import json_path

from .manager import RunManager
from .protocol import CONTROL_ADAPTER
from .runs import IllegalTransition, Run, Subscriber
from .sessions import STEER_FORBIDDEN


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def encode(msg: dict[str, Any]) -> str:
    """JSON that JavaScript can parse: NaN and inf become null."""
    try:
        return json.dumps(msg, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_finite(msg), separators=(",", ":"))


STREAM_PROTOCOL = "layerlab"  # the Sec-WebSocket-Protocol the server answers with
TOKEN_PROTOCOL = STREAM_PROTOCOL + ".token."  # + the session's edit token, offered by the client


def protocol_token(offered: list[str]) -> Optional[str]:
    """The edit token a client offered as a `layerlab.token.<token>` subprotocol, if any."""
    for value in offered:
        if value.startswith(TOKEN_PROTOCOL):
            return value[len(TOKEN_PROTOCOL):] or None
    return None


def _error(message: str, path: str | None = None) -> dict[str, Any]:
    return {"type": "error", "message": message, "path": path}


async def _receive(ws: WebSocket, run: Run, sub: Subscriber, manager: RunManager, steer: bool) -> None:
    limit = manager.settings.max_frame_bytes
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return
        text = msg.get("text")
        if text is None:
            sub.add(_error("frames must be JSON text"))
            continue
        if len(text.encode()) > limit:
            sub.add(_error(f"frame is larger than {limit} bytes"))
            continue
        try:
            frame = CONTROL_ADAPTER.validate_json(text)
        except ValidationError as e:
            err = e.errors(include_url=False)[0]
            loc = tuple(p for p in err["loc"] if p not in ("pause", "resume", "step", "stop", "set"))
            sub.add(_error(f"bad control frame: {err['msg']}", json_path(loc) if loc else None))
            continue
        if not steer:
            sub.add(_error(STEER_FORBIDDEN))
            continue
        try:
            manager.control(run, frame)
        except IllegalTransition as e:
            sub.add(_error(str(e)))


async def _send(ws: WebSocket, sub: Subscriber, window: float) -> None:
    last = 0.0
    while True:
        await sub.wake.wait()
        wait = window - (time.monotonic() - last)
        if wait > 0 and not sub.closed:
            await asyncio.sleep(wait)  # coalesce: at most one batch per window
        messages = sub.drain()
        for m in messages:
            await ws.send_text(encode(m))
        last = time.monotonic()
        if sub.closed or any(m["type"] == "end" for m in messages):
            return


async def stream(ws: WebSocket, run: Run, manager: RunManager, steer: bool = True,
                 subprotocol: Optional[str] = None) -> None:
    """Serve one client until the run ends, the client leaves or the server stops. Without `steer`
    (a session's run watched through a share link) control frames get an error."""
    await ws.accept(subprotocol=subprotocol)
    sub = run.subscribe()
    if manager.shutting_down:
        sub.close()
    sender = asyncio.create_task(_send(ws, sub, manager.settings.coalesce_ms / 1000))
    receiver = asyncio.create_task(_receive(ws, run, sub, manager, steer))
    try:
        done, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        for t in done:
            exc = t.exception()
            if exc and not isinstance(exc, (WebSocketDisconnect, RuntimeError)):
                raise exc
        if sender in done:
            await ws.close(code=1001 if sub.closed else 1000)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away mid-send
    finally:
        run.unsubscribe(sub)
