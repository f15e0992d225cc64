"""The `layerlab` command: the engine's headless commands plus `serve`.

The web stack is imported only by `serve`, so `layerlab train` starts quickly.
"""

from __future__ import annotations

import argparse
import sys

from engine import __version__
from engine.cli import EXIT_ERROR, add_commands


# How `layerlab serve` runs uvicorn (tests and benchmarks that start uvicorn themselves use these too).
#  - a SIGTERM gives open requests and sockets 3 s; the lifespan then stops the runs;
#  - no permessage-deflate: the stream is mostly fresh numbers (snapshot grids of ~30 KB), and
#    compressing them for each viewer separately was two thirds of the event loop's work per viewer.
UVICORN_OPTIONS = {"timeout_graceful_shutdown": 3, "ws_per_message_deflate": False}


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .settings import Settings

    overrides = {k: v for k, v in {"host": args.host, "port": args.port, "database_url":
                                   f"sqlite:///{args.db}" if args.db else None}.items() if v is not None}
    settings = Settings.from_env(**overrides)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level, **UVICORN_OPTIONS)
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
