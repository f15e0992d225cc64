"""The `layerlab` command: the engine's headless commands plus `serve`.

The web stack is imported only by `serve`, so `layerlab train` starts quickly.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from engine import __version__
from engine.cli import EXIT_ERROR, add_commands

if TYPE_CHECKING:
    from .settings import Settings


# How `layerlab serve` runs uvicorn (tests and benchmarks that start uvicorn themselves use these too).
#  - a SIGTERM gives open requests and sockets 3 s; the lifespan then stops the runs;
#  - no permessage-deflate: the stream is mostly fresh numbers (snapshot grids of ~30 KB), and
#    compressing them for each viewer separately was two thirds of the event loop's work per viewer.
#  - a websocket that the server closes (a flood, a stalled reader, the run's end) waits
#    LAYERLAB_WS_CLOSE_TIMEOUT_S for the client's close reply, not uvicorn's fixed 10 s: a client
#    that floods and never reads would hold its connection, and the reading of its frames, that long.
UVICORN_OPTIONS = {"timeout_graceful_shutdown": 3, "ws_per_message_deflate": False}


def uvicorn_options(settings: "Settings") -> dict:
    """UVICORN_OPTIONS plus the websocket protocol, with the settings' close timeout."""
    return {**UVICORN_OPTIONS, "ws": websocket_protocol(settings.ws_close_timeout_s)}


def websocket_protocol(close_timeout: float) -> "type | str":
    """uvicorn's websockets protocol with another close timeout; "auto" where this uvicorn lacks it."""
    from .stream import REFUSALS

    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:  # an older uvicorn: its own protocol, with its own timeout
        return "auto"

    class Protocol(WebSocketsSansIOProtocol):
        """The close handshake is given `close_timeout`; then the connection is dropped, whatever
        is left unsent. uvicorn waits 10 s for the client's close reply and then closes gracefully,
        which waits for its unsent bytes to drain: a client that stopped reading kept its
        connection (and the server its buffers) for as long as it liked, and a flooder was cut
        off only when its own sends timed out (issue 14)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if not hasattr(self, "close_timeout"):  # pragma: no cover - a uvicorn that renamed it
                raise RuntimeError("uvicorn's websockets protocol has no close_timeout")
            self.close_timeout = close_timeout

        async def send(self, message: Any) -> None:
            try:
                await super().send(message)
            finally:
                if message.get("type") == "websocket.close" and message.get("code") in REFUSALS:
                    # A refused client's frames are no longer read. uvicorn reads on after a close, to
                    # find the client's reply, and parsing a flood that went on kept the event loop
                    # busy for seconds, the timer below included.
                    self.transport.pause_reading()

        async def run_asgi(self) -> None:
            try:
                await super().run_asgi()
            finally:  # the app is done with this connection: it has this long to go quietly
                self.loop.call_later(close_timeout, self._drop)

        def _drop(self) -> None:
            if not self.disconnected:
                self.transport.abort()

    return Protocol


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .settings import Settings

    overrides = {k: v for k, v in {"host": args.host, "port": args.port, "database_url":
                                   f"sqlite:///{args.db}" if args.db else None}.items() if v is not None}
    settings = Settings.from_env(**overrides)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level, **uvicorn_options(settings))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="layerlab", description="Layerlab: train real PyTorch models.")
    parser.add_argument("--version", action="version", version=f"layerlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    p = sub.add_parser("serve", help="serve the playground")
    p.add_argument("--host", help="default $LAYERLAB_HOST or 127.0.0.1")
    p.add_argument("--port", type=int, help="default $LAYERLAB_PORT or 8000")
    p.add_argument("--db", help="SQLite file (default $LAYERLAB_DATABASE_URL or data/layerlab.db)")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return EXIT_ERROR
    except Exception as e:  # the CLI's last resort: a message, not a traceback
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
