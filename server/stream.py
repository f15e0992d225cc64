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
from .protocol import CONTROL_ACTIONS, CONTROL_ADAPTER
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


class Refused(Exception):
    """A client broke a per-connection limit: it is closed with `code` (docs/protocol.md)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


FLOOD = 4429  # too many frames, or too many answers waiting for a client that does not read them
STALLED = 4408  # a send waited past ws_send_timeout_s: the client has stopped reading
REFUSALS = frozenset({FLOOD, STALLED})  # closes after which the client's frames are not read (server.cli)


class Bucket:
    """A token bucket: `rate` frames a second, bursts of `2 * rate`."""

    def __init__(self, rate: float) -> None:
        self.rate, self.capacity = rate, 2 * rate
        self.level, self.at = self.capacity, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
        self.at = now
        if self.level < 1:
            return False
        self.level -= 1
        return True


async def _receive(ws: WebSocket, run: Run, sub: Subscriber, manager: RunManager, steer: bool) -> None:
    settings = manager.settings
    limit = settings.max_frame_bytes
    bucket = Bucket(settings.ws_frames_per_second)
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return
        # Each bad frame queues an error answer: without these two caps a client that sends and
        # never reads grew the server by 804 MiB (issue 14). Both close the socket; the run goes on.
        if not bucket.take():
            raise Refused(FLOOD, f"more than {settings.ws_frames_per_second} frames a second")
        if len(sub.errors) >= settings.ws_max_pending:
            raise Refused(FLOOD, f"{len(sub.errors)} answers are waiting to be read")
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
            loc = tuple(p for p in err["loc"] if p not in CONTROL_ACTIONS)
            sub.add(_error(f"bad control frame: {err['msg']}", json_path(loc) if loc else None))
            continue
        if not steer:
            sub.add(_error(STEER_FORBIDDEN))
            continue
        try:
            manager.control(run, frame)
        except IllegalTransition as e:
            sub.add(_error(str(e)))


async def _send(ws: WebSocket, sub: Subscriber, window: float, timeout: float) -> None:
    last = 0.0
    while True:
        await sub.wake.wait()
        wait = window - (time.monotonic() - last)
        if wait > 0 and not sub.closed:
            await asyncio.sleep(wait)  # coalesce: at most one batch per window
        messages = sub.drain()
        for m in messages:
            try:
                await asyncio.wait_for(ws.send_text(encode(m)), timeout)
            except asyncio.TimeoutError:
                raise Refused(STALLED, f"the client read nothing for {timeout:g} s") from None
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
    settings = manager.settings
    sender = asyncio.create_task(_send(ws, sub, settings.coalesce_ms / 1000, settings.ws_send_timeout_s))
    receiver = asyncio.create_task(_receive(ws, run, sub, manager, steer))
    try:
        done, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        refused = None
        for t in done:
            exc = t.exception()
            if isinstance(exc, Refused):
                refused = exc
            elif exc and not isinstance(exc, (WebSocketDisconnect, RuntimeError)):
                raise exc
        if refused is not None:
            sub.close()  # nothing more is queued for it
            # A client that does not read may not take the close frame either: wait a little, then go.
            await asyncio.wait_for(ws.close(code=refused.code, reason=refused.reason[:120]), 1.0)
        elif sender in done:
            await ws.close(code=1001 if sub.closed else 1000)
    except (WebSocketDisconnect, RuntimeError, asyncio.TimeoutError):
        pass  # the client went away mid-send, or would not take the close frame
    finally:
        run.unsubscribe(sub)
