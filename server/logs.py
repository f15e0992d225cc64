"""Logging helpers: no token ever reaches a log line, at any level.

Edit tokens travel in Authorization headers and websocket subprotocols, which nothing logs; share
tokens are in URL paths (/s/<token>, /api/shared/<token>), which uvicorn's access and error lines
show. Every such value is blanked before a line is formatted.
"""

from __future__ import annotations

import logging
import re

# token=..., /s/<token>, /shared/<token>, layerlab.token.<token>, Bearer <token>
_TOKEN = re.compile(r"(token=|/s/|/shared/|layerlab\.token\.|[Bb]earer )[A-Za-z0-9_\-~.%]+")
LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "layerlab", "websockets", "fastapi")


def redact(text: str) -> str:
    """`text` with every token blanked to ***."""
    return _TOKEN.sub(r"\1***", text)


class RedactTokens(logging.Filter):
    """Blanks tokens in a record's message and arguments (uvicorn passes the path as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def _attach(target: logging.Filterer) -> None:
    if not any(isinstance(f, RedactTokens) for f in target.filters):
        target.addFilter(RedactTokens())


def install() -> None:
    """Attach the filter to the loggers that can see a URL, and to every handler they and the root
    logger have now (a handler's filter also sees records that propagate from other loggers).
    Idempotent; called by create_app and again at start-up, after uvicorn configured logging."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        _attach(logger)
        for handler in logger.handlers:
            _attach(handler)
    for handler in logging.getLogger().handlers:
        _attach(handler)
